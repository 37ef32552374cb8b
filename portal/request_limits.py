"""What the web process accepts of a request before Django sees it.

``RequestBodyLimit`` (ASGI) refuses a request body larger than its address accepts — from the
``Content-Length`` header, before a byte of the body is read, and for a body without one (chunked)
as soon as the bytes received pass the limit — with 413 and ``{"detail": ...}``, closing the
connection so that the rest is never read. It relies on an ASGI server that hands the body over
as it arrives (uvicorn, ``portal.processes``); Daphne reads every body whole, into memory, before
the application is called, which is why Loupe is not served by Daphne (docs/operations.md).

``refuse_nul_in_query`` (Django middleware) answers 400 to a query string holding a NUL
character, which PostgreSQL cannot compare with any text (a ``DataError``, i.e. a 500, from
every filter that passed it on).
"""
import json

from django.conf import settings
from django.http import JsonResponse
from django.urls import Resolver404, resolve

from reviews.services.clips import UPLOAD_ENVELOPE_BYTES


def body_limit(path: str) -> tuple[int, str]:
    """The largest request body (bytes) the address ``path`` accepts, and what to tell a person
    whose request is larger. Media uploads: ``LOUPE_UPLOAD_MAX_BYTES``; editorial files:
    ``LOUPE_CUT_UPLOAD_MAX_BYTES`` (each with room for the multipart envelope); anything else:
    ``LOUPE_REQUEST_MAX_BYTES``."""
    try:
        name = resolve(path).view_name
    except Resolver404:
        name = ""
    if name == "api:clip-upload":
        limit = settings.LOUPE_UPLOAD_MAX_BYTES
        return limit + UPLOAD_ENVELOPE_BYTES, f"uploads are limited to {limit} bytes (LOUPE_UPLOAD_MAX_BYTES)"
    if name == "api:cuts":
        limit = settings.LOUPE_CUT_UPLOAD_MAX_BYTES
        return (limit + UPLOAD_ENVELOPE_BYTES,
                f"editorial files are limited to {limit} bytes (LOUPE_CUT_UPLOAD_MAX_BYTES)")
    limit = settings.LOUPE_REQUEST_MAX_BYTES
    return limit, f"request bodies here are limited to {limit} bytes (LOUPE_REQUEST_MAX_BYTES)"


class RequestBodyLimit:
    """ASGI middleware around the HTTP application: see the module's docstring."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.inner(scope, receive, send)
        limit, rule = body_limit(scope["path"])
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                return await _refuse(send, 400, "Content-Length is not a number.")
            if length > limit:
                return await _refuse(send, 413, f"The request body is {length} bytes; {rule}. Nothing was read.")
        received = 0
        refused = False
        started = False

        async def counted_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _refuse(send, 413, f"The request body passed {limit} bytes; {rule}.")
                    return {"type": "http.disconnect"}  # the application stops reading (RequestAborted)
            return message

        async def tracked_send(message):
            nonlocal started
            if refused:
                return  # the refusal was sent; the application's own answer is not
            started = started or message["type"] == "http.response.start"
            await send(message)

        return await self.inner(scope, counted_receive, tracked_send)


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def refuse_nul_in_query(get_response):
    """Django middleware: 400 ``{"detail": ...}`` for a query parameter (name or value) holding NUL."""

    def middleware(request):
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            return JsonResponse({"detail": "A query parameter holds a NUL character (%00); remove it."}, status=400)
        return get_response(request)

    return middleware

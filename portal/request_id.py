"""The request id: one name for everything a request sets off, from nginx to the job it queues.

nginx sends ``X-Request-ID`` (its ``$request_id``, deploy/nginx.conf); a request that arrives
without one (no proxy in front) gets a fresh one. The id is held in a context variable for the
request (HTTP) or the connection (WebSocket), stamped on every log record (``RequestIdLogFilter``),
echoed in the response, carried in the headers of every Celery message published meanwhile
(``request_id``) and restored in the worker for the task it runs — so a job's log lines name the
request that queued it.
"""
import contextvars
import logging
import re
import uuid

from celery.signals import before_task_publish, task_postrun, task_prerun

HEADER = "X-Request-ID"
#: The Celery message header that carries it.
MESSAGE_HEADER = "request_id"
# What is accepted from a client or a proxy: a token of at most 128 characters (nginx's
# $request_id is 32 hex digits; a UUID fits too). Anything else is replaced, so a client cannot
# write arbitrary text into the logs.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

current: contextvars.ContextVar[str] = contextvars.ContextVar("loupe_request_id", default="")


def accepted_or_new(value: str | bytes | None) -> str:
    """``value`` when it is an acceptable request id (bytes are decoded as Latin-1, as ASGI headers
    are), else a new one (32 hex digits, like nginx's)."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if value and _ACCEPTABLE.fullmatch(value):
        return value
    return uuid.uuid4().hex


def from_asgi_headers(headers) -> str:
    """The request id of an ASGI scope's ``headers`` (list of ``(name, value)`` bytes pairs)."""
    wanted = HEADER.lower().encode()
    return accepted_or_new(next((value for name, value in headers if name.lower() == wanted), None))


def request_id_middleware(get_response):
    """Django middleware (async): the request's id — ``X-Request-ID`` from nginx, or a new one —
    as ``request.request_id`` and in ``current`` while the request is served, and in the
    response's ``X-Request-ID``."""
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction

    async def middleware(request):
        request.request_id = accepted_or_new(request.headers.get(HEADER))
        token = current.set(request.request_id)
        try:
            response = await get_response(request)
        finally:
            current.reset(token)
        response[HEADER] = request.request_id
        return response

    if not iscoroutinefunction(get_response):
        raise TypeError("request_id_middleware is async-only; Django adapts the chain")
    return markcoroutinefunction(middleware)


request_id_middleware.async_capable = True
request_id_middleware.sync_capable = False


class RequestIdLogFilter(logging.Filter):
    """Stamps ``record.request_id`` (empty outside a request, a connection or a task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current.get()
        return True


@before_task_publish.connect
def _carry_into_message(headers=None, **_):
    """A message published while serving a request carries its id to the worker."""
    request_id = current.get()
    if request_id and headers is not None:
        headers.setdefault(MESSAGE_HEADER, request_id)


_task_tokens: dict[str, contextvars.Token] = {}


@task_prerun.connect
def _restore_in_worker(task_id=None, task=None, **_):
    request_id = getattr(task.request, MESSAGE_HEADER, None) or (task.request.headers or {}).get(MESSAGE_HEADER)
    _task_tokens[task_id] = current.set(accepted_or_new(request_id) if request_id else f"task-{task_id}")


@task_postrun.connect
def _forget_in_worker(task_id=None, **_):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        current.reset(token)


class RequestIdASGI:
    """ASGI wrapper (WebSockets): the connection's request id — the handshake's ``X-Request-ID``
    or a new one — is current for everything the connection does, jobs it queues included."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        token = current.set(from_asgi_headers(scope.get("headers", [])))
        try:
            await self.app(scope, receive, send)
        finally:
            current.reset(token)

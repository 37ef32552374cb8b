"""Request bodies over the limit are refused by the real web process from their Content-Length,
before the body is read: the 413 arrives while the client has sent only its first bytes, and
the connection is closed (issue #23, hole 3). A hang-guard timeout, not a clock, decides
failure: a server that reads the whole body first never answers within it."""
import json
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

#: The client sends this much of a declared body, then waits for the answer (bytes).
SENT_BYTES = 256 * 1024


def _exchange(base_url: str, head: str, body_parts) -> tuple[str, dict]:
    """Send ``head`` then the byte strings of ``body_parts`` (stopping if the server has closed),
    and read the whole answer: (status line, JSON body). Raises ``TimeoutError`` when the
    server does not answer and close within 20 s."""
    url = urlparse(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=20) as conn:
        conn.sendall(head.encode())
        try:
            for part in body_parts:
                conn.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking all of it
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    status_head, _, body = answer.partition(b"\r\n\r\n")
    return status_head.split(b"\r\n")[0].decode(), json.loads(body)


def _declared(path: str, length: int, content_type: str) -> str:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\n\r\n")


def test_a_declared_5_gib_upload_is_refused_before_its_body_is_read(asgi_server):
    status, body = _exchange(asgi_server, _declared("/api/productions/TEST/clips/upload/", 5 * 1024**3,
                                                    "multipart/form-data; boundary=x"), [b"x" * SENT_BYTES])
    assert status.startswith("HTTP/1.1 413")
    assert f"uploads are limited to {settings.LOUPE_UPLOAD_MAX_BYTES} bytes" in body["detail"]
    assert "Nothing was read" in body["detail"]


def test_a_declared_oversized_json_body_is_refused_before_it_is_read(asgi_server):
    status, body = _exchange(asgi_server, _declared("/api/productions/TEST/fix-requests/", 1024**3,
                                                    "application/json"), [b"[" * SENT_BYTES])
    assert status.startswith("HTTP/1.1 413") and "LOUPE_REQUEST_MAX_BYTES" in body["detail"]


def test_a_chunked_body_is_refused_once_it_passes_the_limit(asgi_server):
    """No Content-Length to go by: the web process counts what arrives and stops at the limit."""
    chunk = b"x" * (1024 * 1024)
    over = settings.LOUPE_REQUEST_MAX_BYTES // len(chunk) + 2
    parts = (b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(over))
    head = ("POST /api/productions/TEST/fix-requests/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    status, body = _exchange(asgi_server, head, parts)
    assert status.startswith("HTTP/1.1 413") and "passed" in body["detail"]


@pytest.mark.parametrize("url_name, setting", [("api:clip-upload", "LOUPE_UPLOAD_MAX_BYTES"),
                                               ("api:cuts", "LOUPE_CUT_UPLOAD_MAX_BYTES"),
                                               ("api:fix-requests", "LOUPE_REQUEST_MAX_BYTES")])
def test_each_address_has_its_limit_from_its_setting(url_name, setting):
    from django.urls import reverse

    from portal.request_limits import body_limit

    limit, rule = body_limit(reverse(url_name, kwargs={"code": "TEST"}))
    assert limit >= getattr(settings, setting) and setting in rule

"""The WebSocket Origin check (``portal.websocket_origin``): a socket is accepted only from a page
of this very site — scheme, host and port — through the real ASGI routing, with a member's
session cookie (so that only the Origin decides)."""
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from portal.asgi import application
from portal.websocket_origin import origin_allowed

from ..reviews.helpers import session_cookie


def _connect(headers: list[tuple[bytes, bytes]]) -> bool:
    socket = WebsocketCommunicator(application, "/ws/productions/TEST/", headers=headers)

    async def attempt():
        connected, _ = await socket.connect()
        if connected:
            await socket.disconnect()
        return connected

    return async_to_sync(attempt)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin, accepted", [
    (b"http://localhost:8000", True),
    (b"http://localhost:9999", False),  # the probe's: same host, another port
    (b"https://localhost:8000", False),  # another scheme
    (b"http://localhost", False),  # port 80
    (b"http://evil.example:8000", False),
    (b"http://localhost.evil.example:8000", False),
    (b"null", False),
    (None, False),  # no Origin at all
])
def test_a_websocket_is_accepted_only_from_the_sites_own_scheme_host_and_port(production, people, origin, accepted):
    headers = [(b"host", b"localhost:8000"), (b"cookie", session_cookie(people["director"]))]
    if origin is not None:
        headers.append((b"origin", origin))
    assert _connect(headers) is accepted


def _scope(origin: str, host: str, scheme: str = "ws", **extra: str) -> dict:
    headers = [(b"origin", origin.encode()), (b"host", host.encode())]
    headers += [(name.encode(), value.encode()) for name, value in extra.items()]
    return {"type": "websocket", "scheme": scheme, "headers": headers}


def test_the_origin_of_a_tls_socket_is_https_directly_or_behind_a_proxy(settings):
    assert origin_allowed(_scope("https://localhost", "localhost", scheme="wss"))
    assert not origin_allowed(_scope("http://localhost", "localhost", scheme="wss"))
    assert not origin_allowed(_scope("https://localhost", "localhost"))  # plain ws: the page was not https
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert origin_allowed(_scope("https://localhost", "localhost", **{"x-forwarded-proto": "https"}))
    assert not origin_allowed(_scope("https://localhost:8443", "localhost", **{"x-forwarded-proto": "https"}))


def test_a_host_outside_allowed_hosts_is_refused_and_trusted_origins_are_exact(settings):
    assert not origin_allowed(_scope("http://evil.example", "evil.example"))
    settings.CSRF_TRUSTED_ORIGINS = ["https://portal.example.com"]
    # A proxy that rewrites Host to the backend's: the public origin is trusted explicitly.
    assert origin_allowed(_scope("https://portal.example.com", "127.0.0.1:8000"))
    assert not origin_allowed(_scope("https://portal.example.com:8443", "127.0.0.1:8000"))
    assert not origin_allowed(_scope("http://portal.example.com", "127.0.0.1:8000"))

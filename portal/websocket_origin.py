"""The WebSocket Origin check: a socket is opened only by a page of this site.

Browsers send cookies with a WebSocket handshake whatever page opens it, and the same-origin
policy does not apply to WebSockets, so the server must look at ``Origin`` itself (cross-site
WebSocket hijacking). Channels' ``AllowedHostsOriginValidator`` compares only the host name
with ``ALLOWED_HOSTS``: a page at ``http://localhost:9999`` passed for a portal on port 8000.
Here the Origin must be the very origin the socket was opened on — the same scheme, host and
port (RFC 6454 §5) as the handshake's ``Host`` header and scheme (``wss`` ↔ ``https``; behind a
TLS proxy, Django's ``SECURE_PROXY_SSL_HEADER``), with that host in ``ALLOWED_HOSTS`` — or one
listed exactly in ``CSRF_TRUSTED_ORIGINS`` (for a proxy that rewrites ``Host``), the rule
Django's CSRF check applies to form posts. Anything else is refused before the consumer runs
(HTTP 403 on the handshake), with a warning line in the ``reviews.access`` log (no one is
signed in yet at this layer to put in a production's audit trail; ``reviews.consumers`` records
the refusals it makes — not signed in, not a member, no second factor — as ``access.denied``).
"""
import logging
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}

#: The log of refused requests (``reviews.services.access``): a refused Origin is a line there.
logger = logging.getLogger("reviews.access")

#: (scheme, host, port): an origin as RFC 6454 compares it.
Origin = tuple[str, str, int]


def parse_origin(value: str) -> Origin | None:
    """``value`` (an ``Origin`` header or a ``CSRF_TRUSTED_ORIGINS`` entry, e.g.
    ``https://portal.example.com:8443``) as (scheme, lower-case host, port with the scheme's
    default filled in); None for ``null``, other schemes or anything malformed."""
    parts = urlsplit(value.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port


def site_origin(scope: dict) -> Origin | None:
    """The origin the WebSocket handshake in ``scope`` was sent to, from its ``Host`` header and
    scheme; None when the host is missing or not in ``ALLOWED_HOSTS``."""
    headers = dict(scope.get("headers", []))
    host, port = split_domain_port(headers.get(b"host", b"").decode("latin-1"))
    if not host or not validate_host(host, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name = proxy_header[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
        if headers.get(name, b"").decode("latin-1").split(",")[0].strip() == proxy_header[1]:
            scheme = "https"
    try:
        return scheme, host.strip("[]"), int(port) if port else DEFAULT_PORTS[scheme]
    except ValueError:
        return None


def origin_allowed(scope: dict) -> bool:
    """True when the handshake's ``Origin`` is this site's (scheme, host and port) or one of
    ``CSRF_TRUSTED_ORIGINS``."""
    origin = parse_origin(dict(scope.get("headers", [])).get(b"origin", b"").decode("latin-1"))
    if origin is None:
        return False
    if origin == site_origin(scope):
        return True
    return origin in {parse_origin(trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS}


class SameOriginValidator:
    """ASGI middleware for the ``websocket`` protocol: refuses a handshake whose Origin is not
    allowed (``origin_allowed``) with a 403; passes the others to ``application``."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            headers = dict(scope.get("headers", []))
            logger.warning("websocket refused: origin %r is not this site's (host %r) path=%s client=%s",
                           headers.get(b"origin", b"").decode("latin-1")[:200],
                           headers.get(b"host", b"").decode("latin-1")[:200], scope.get("path"),
                           (scope.get("client") or ["?"])[0])
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

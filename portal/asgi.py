"""ASGI entry point: HTTP through Django behind the request body limit
(``portal.request_limits``), WebSockets through Channels with the Origin check
(``portal.websocket_origin``: scheme, host and port), session auth and django-otp's second
factor (``portal.otp_asgi``)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from portal.metrics import WebSocketMetrics  # noqa: E402
from portal.otp_asgi import OTPMiddleware  # noqa: E402
from portal.websocket_origin import SameOriginValidator  # noqa: E402
from portal.request_limits import RequestBodyLimit  # noqa: E402
from portal.request_id import RequestIdASGI  # noqa: E402
from reviews.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(django_asgi_app),
        "websocket": RequestIdASGI(WebSocketMetrics(
            SameOriginValidator(AuthMiddlewareStack(OTPMiddleware(URLRouter(websocket_urlpatterns)))))),
    }
)

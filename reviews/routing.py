"""WebSocket URL routing."""
from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/review/<int:proposal_id>/", consumers.ReviewConsumer.as_asgi()),
    path("ws/dailies/<int:playlist_id>/", consumers.DailiesConsumer.as_asgi()),
    path("ws/productions/<slug:code>/", consumers.ProductionConsumer.as_asgi()),
    path("ws/notifications/", consumers.NotificationConsumer.as_asgi()),
]

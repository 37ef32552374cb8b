"""django-otp for WebSockets: what ``django_otp.middleware.OTPMiddleware`` does for HTTP requests.

Channels' ``AuthMiddlewareStack`` puts the session's user in ``scope["user"]``; this middleware,
inside it, sets ``user.otp_device`` (the TOTP device this session signed in with, or None) and
``user.is_verified()``, so that consumers' reads through ``reviews.selectors`` apply a
production's "require multi-factor sign-in" exactly as pages and the API do.
"""
from channels.db import database_sync_to_async
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.middleware import is_verified
from django_otp.models import Device


@database_sync_to_async
def _device(persistent_id: str | None, user) -> Device | None:
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    if device is None or device.user_id != user.pk or not device.confirmed:
        return None
    return device


class OTPMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is not None and user.is_authenticated:
            session = scope.get("session")
            persistent_id = await database_sync_to_async(session.get)(DEVICE_ID_SESSION_KEY) if session else None
            user.otp_device = await _device(persistent_id, user)
            user.is_verified = lambda: is_verified(user)
        return await self.inner(scope, receive, send)

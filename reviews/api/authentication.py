"""API token authentication (DRF's ``authtoken``) that carries the second factor.

A token can be made only from a session signed in with a second factor when its owner has an
authenticator app (``services.accounts.api_token_create``), and enrolling an app revokes older
tokens; so a request with the token of a person who has a confirmed TOTP device stands for a
verified sign-in (``user.is_verified()``, as django-otp's middleware sets it for sessions) and
one of a person without it does not. Productions requiring multi-factor sign-in then treat
both the same way as browser sessions, through ``selectors.productions_for``.
"""
from django_otp import devices_for_user
from rest_framework import authentication


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        user.otp_device = next(devices_for_user(user, confirmed=True), None)
        user.is_verified = lambda: user.otp_device is not None
        return user, token

"""Passkeys (WebAuthn Level 3, W3C) as a second factor, through django-otp-webauthn.

A passkey is a django-otp device (``WebAuthnCredential``), so a session signed in with one is a
verified session like one signed in with an authenticator app's code. The ceremonies run in the
browser through django-otp-webauthn's own scripts (static files, no inline script: CSP); the
server side is its views, with Loupe's rules:

- registering a passkey takes a session signed in with the second factor when the person
  already has one (django-otp-webauthn's own check, over ``has_second_factor``), and is audited
  (``account.passkey_add``) and told to the person;
- signing in with a passkey is the second step after the password (or the studio's sign-in),
  for the person who gave it (the pending sign-in of ``frontend.account``): not passwordless;
- removing one takes a current code (``services.accounts.passkey_remove``).
"""
from django.contrib import auth
from django.urls import path
from django.views.i18n import JavaScriptCatalog
from django_otp import login as otp_login
from django_otp_webauthn import views as webauthn_views

from reviews.services.accounts import has_second_factor, passkey_added


class BeginRegistration(webauthn_views.BeginCredentialRegistrationView):
    def user_is_mfa_enrolled(self, user) -> bool:
        return has_second_factor(user)


class CompleteRegistration(webauthn_views.CompleteCredentialRegistrationView):
    def user_is_mfa_enrolled(self, user) -> bool:
        return has_second_factor(user)

    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        if response.status_code == 200:
            passkey_added(user=self.get_user())
        return response


class _PendingSignIn:
    """The person is the one signed in, or the one who gave a right password and still owes the
    second factor (``frontend.account.PENDING_SIGN_IN``)."""

    def get_user(self):
        from .account import _pending_user

        if self.request.user.is_authenticated:
            return self.request.user
        return _pending_user(self.request)[0]


class BeginAuthentication(_PendingSignIn, webauthn_views.BeginCredentialAuthenticationView):
    pass


class CompleteAuthentication(_PendingSignIn, webauthn_views.CompleteCredentialAuthenticationView):
    def complete_auth(self, device) -> None:
        """Sign the pending person in, verified by ``device`` (the library has checked that it is
        theirs); a signed-in person's session becomes verified."""
        from .account import PENDING_SIGN_IN, _pending_user

        if not self.request.user.is_authenticated:
            user, backend = _pending_user(self.request)
            del self.request.session[PENDING_SIGN_IN]
            auth.login(self.request, user, backend=backend)
        otp_login(self.request, device)

    def get_redirect_url(self):
        from .account import _safe_next

        return _safe_next(self.request)


app_name = "otp_webauthn"  # the name django-otp-webauthn's template tags reverse
urlpatterns = [
    path("registration/begin/", BeginRegistration.as_view(), name="credential-registration-begin"),
    path("registration/complete/", CompleteRegistration.as_view(), name="credential-registration-complete"),
    path("authentication/begin/", BeginAuthentication.as_view(), name="credential-authentication-begin"),
    path("authentication/complete/", CompleteAuthentication.as_view(), name="credential-authentication-complete"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]), name="js-i18n-catalog"),
]

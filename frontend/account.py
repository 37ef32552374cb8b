"""Sign-in with a second factor, and a person's own account security page.

Sign-in is two steps when the person has an authenticator app: the password (throttled by
django-axes), then the app's current code (django-otp's ``OTPTokenForm``, throttled per device).
Until the code is accepted the person is not signed in at all — the password step only leaves
their id in the session for a few minutes — so a signed-in session of a person with an app is
always a verified one.
"""
import base64
import time

import segno
from django import forms
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.forms import OTPTokenForm
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from reviews import authz, selectors
from reviews.errors import ServiceError
from reviews.services.accounts import (api_token_create, api_token_revoke, has_second_factor, passkey_remove,
                                      recovery_codes_make, second_factor_verify, totp_device_confirm, totp_device_remove,
                                      totp_device_start)

#: Session key holding the person who gave a right password and still owes the code.
PENDING_SIGN_IN = "loupe_pending_sign_in"
#: Seconds the code step waits for the code after the password step.
PENDING_SIGN_IN_S = 300


class SignInView(auth_views.LoginView):
    """Step 1: user name and password. A person with an authenticator app goes on to step 2."""

    template_name = "frontend/login.html"

    def get_context_data(self, **kwargs):
        from . import sso

        context = super().get_context_data(**kwargs)
        if sso.enabled():
            context["sso_url"] = f"{reverse('oidc_authentication_init')}?{urlencode({'next': self.get_redirect_url()})}"
            context["sso_name"] = settings.LOUPE_OIDC_PROVIDER_NAME
        return context

    def form_valid(self, form):
        user = form.get_user()
        if not has_second_factor(user):
            return super().form_valid(form)
        self.request.session.cycle_key()
        self.request.session[PENDING_SIGN_IN] = {"user": user.pk, "backend": user.backend, "at": time.time()}
        return redirect(f"{reverse('login-verify')}?{urlencode({'next': self.get_redirect_url()})}")


class SignInCodeForm(OTPTokenForm):
    """The authenticator app's code, checked against the person's own device."""

    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_error_messages = dict(
        OTPTokenForm.otp_error_messages,
        token_required="Enter the 6-digit code your authenticator app shows.",
        invalid_token="That code is not the one your authenticator app shows now. Try the current one.",
    )


def _pending_user(request) -> tuple[User | None, str]:
    pending = request.session.get(PENDING_SIGN_IN)
    if not pending or time.time() - pending["at"] > PENDING_SIGN_IN_S:
        return None, ""
    return User.objects.filter(pk=pending["user"], is_active=True).first(), pending["backend"]


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("frontend:productions")


@require_http_methods(["GET", "HEAD", "POST"])
def sign_in_code(request):
    """Step 2: the authenticator app's current code — or one of the person's recovery codes
    (anything not all digits is taken for one: ``second_factor_verify``) — signs the person in,
    verified."""
    user, backend = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_SIGN_IN, None)
        return redirect(f"{reverse('login')}?{urlencode({'next': _safe_next(request)})}")
    data, error = None, ""
    if request.method == "POST":
        token = "".join(request.POST.get("otp_token", "").split())
        if token and not token.isdigit():
            try:
                user.otp_device = second_factor_verify(user=user, code=token, purpose="sign-in")
            except ServiceError as refused:
                error = str(refused)
            else:
                return _signed_in(request, user, backend)
        else:
            # One authenticator app per person: the code is checked against theirs.
            data = request.POST.copy()
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            data["otp_device"] = device.persistent_id if device else ""
    form = SignInCodeForm(user, request, data=data)
    if data is not None and form.is_valid():
        return _signed_in(request, user, backend)
    has_passkey = WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()
    return render(request, "frontend/login_code.html",
                  {"form": form, "error": error, "next": _safe_next(request), "has_passkey": has_passkey})


def _signed_in(request, user: User, backend: str):
    """Sign ``user`` in with the device that accepted their code (``user.otp_device``; django-otp
    keeps it in the session) and go on to where they were going."""
    del request.session[PENDING_SIGN_IN]
    auth.login(request, user, backend=backend)
    return HttpResponseRedirect(_safe_next(request))


#: Session key holding the TOTP device this session is enrolling (only it may confirm it).
ENROLLING_DEVICE = "loupe_enrolling_device"


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def account_security(request):
    """The person's authenticator app (enrol, replace or remove it, with a QR code), recovery
    codes (make new ones, shown once) and API token (make, revoke). Forms post ``action`` =
    ``enrol`` | ``confirm`` | ``remove`` | ``passkey_remove`` (``passkey``: its id) |
    ``recovery_codes`` | ``token_create`` | ``token_revoke``; replacing (``enrol`` when there is
    a second factor) and removing take the current app's code, or a recovery code, as
    ``current_code``. Passkeys are added through ``frontend.passkeys``."""
    user = request.user
    context = {"error": "", "new_token": None, "enrolling": None, "removed": False}
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "enrol":
                context["enrolling"] = totp_device_start(user=user, current_code=request.POST.get("current_code", ""))
                request.session[ENROLLING_DEVICE] = context["enrolling"].pk
            elif action == "confirm":
                device = totp_device_confirm(user=user, device_id=request.session.get(ENROLLING_DEVICE),
                                             token=request.POST.get("otp_token", ""))
                request.session.cycle_key()
                request.session.pop(ENROLLING_DEVICE, None)
                otp_login(request, device)  # this session is now signed in with the second factor
            elif action == "remove":
                totp_device_remove(user=user, current_code=request.POST.get("current_code", ""))
                context["removed"] = True
            elif action == "passkey_remove":
                passkey_remove(user=user, credential_id=_int_or_none(request.POST.get("passkey")),
                               current_code=request.POST.get("current_code", ""))
            elif action == "recovery_codes":
                context["recovery_codes"] = recovery_codes_make(user=user)
            elif action == "token_create":
                context["new_token"] = api_token_create(user=user)
            elif action == "token_revoke":
                api_token_revoke(user=user)
        except ServiceError as error:
            context["error"] = str(error)
            if action == "confirm":
                context["enrolling"] = TOTPDevice.objects.filter(user=user, confirmed=False,
                                                                 pk=request.session.get(ENROLLING_DEVICE)).first()
    enrolling = context["enrolling"]
    if enrolling is not None:
        context["qr_svg"] = segno.make(enrolling.config_url, error="m").svg_inline(scale=4)
        context["secret"] = _base32(enrolling.bin_key)
    context.update({
        "has_app": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        "has_second_factor": has_second_factor(user),
        "passkeys": WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at"),
        "verified": authz.is_verified(user),
        "token": selectors.api_token_of(user),
        "recovery_codes_left": selectors.recovery_codes_left(user),
        "locked": selectors.productions_locked_for(user),
    })
    return render(request, "frontend/account_security.html", context)


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 19 else None


def _base32(key: bytes) -> str:
    """The TOTP secret as authenticator apps take it typed in (RFC 4648 base32, no padding)."""
    return base64.b32encode(key).decode().rstrip("=")

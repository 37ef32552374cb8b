"""Single sign-on with the studio's identity provider over OpenID Connect (the authorization code
flow with PKCE, OpenID Connect Core 1.0 §3.1), through mozilla-django-oidc.

Settings are Loupe's own (``LOUPE_OIDC_*``, docs/operations.md); the provider's endpoints and
signing keys come from its discovery document (OpenID Connect Discovery 1.0), fetched once per
process. On top of what mozilla-django-oidc checks (the ID token's signature against the
provider's JWKS, ``exp``, the nonce, the state), the ID token must be the configured issuer's
(``iss``) and for this client (``aud``, ``azp``), and userinfo must be about the same ``sub``
(Core §3.1.3.7, §5.3.2). Who the person is in Loupe is decided by
``services.accounts.sso_sign_in``.

Second factor: when the provider's ``amr`` names one of ``LOUPE_OIDC_MFA_AMR`` (RFC 8176; by
default ``mfa``) or its ``acr`` is one of ``LOUPE_OIDC_MFA_ACR``, the session is signed in with a
second factor (django-otp keeps the person's ``SingleSignOnIdentity`` in it), as if they had given
an authenticator app's code. Otherwise a person who has an authenticator app of their own in
Loupe gives its code next (the same step as after a password); anyone else is signed in without a
second factor, and productions and roles that require one (``LOUPE_MFA_REQUIRED_ROLES``, a
production's "require MFA") stay closed to them.

Sign-out: signing out of Loupe ends the provider's session too (RP-Initiated Logout 1.0), and a
sign-out at the provider ends the Loupe sessions it names (Back-Channel Logout 1.0:
``POST /oidc/backchannel-logout/``; each provider sign-in is remembered with its ``sid``,
``SingleSignOnSession``).

Roles: with ``LOUPE_OIDC_ROLES_CLAIM`` set (e.g. ``groups``), that claim (from userinfo, or the ID
token when userinfo lacks it) gives production roles at each sign-in
(``services.accounts.sso_roles_sync``).
"""
import functools
import logging
import time
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.dispatch import receiver
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from reviews.errors import ServiceError
from reviews.services.accounts import has_second_factor, sso_logout, sso_session_record, sso_sign_in

logger = logging.getLogger(__name__)

#: The dotted path Django keeps in the session for people signed in by the provider.
BACKEND = "frontend.sso.StudioOIDCBackend"
#: Session key marking a session signed in through the provider (its sign-out ends both).
SSO_SESSION = "loupe_sso"
#: Session key holding the provider's session id (the ID token's ``sid``), for back-channel logout.
SSO_SID = "loupe_sso_sid"
#: The event a logout token carries (OpenID Connect Back-Channel Logout 1.0 §2.4).
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: How old (seconds, by its ``iat``) a logout token may be.
LOGOUT_TOKEN_MAX_AGE_S = 300
#: Seconds to wait for the provider (discovery, token, userinfo, keys).
TIMEOUT_S = 10


def enabled() -> bool:
    """True when single sign-on is configured (``LOUPE_OIDC_ISSUER``)."""
    return bool(settings.LOUPE_OIDC_ISSUER)


@functools.lru_cache(maxsize=4)
def _discovery(issuer: str) -> dict:
    response = requests.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=TIMEOUT_S)
    response.raise_for_status()
    document = response.json()
    if document.get("issuer") != issuer:
        raise ImproperlyConfigured(f"The discovery document of {issuer} names another issuer: {document.get('issuer')!r}")
    return document


def discovery() -> dict:
    """The provider's discovery document (``authorization_endpoint``, ``token_endpoint``,
    ``userinfo_endpoint``, ``jwks_uri``, ``end_session_endpoint``), fetched once per process.
    Raises ``requests.RequestException`` when the provider cannot be reached,
    ``ImproperlyConfigured`` when it answers for another issuer."""
    return _discovery(settings.LOUPE_OIDC_ISSUER)


_FROM_DISCOVERY = {"OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint", "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
                   "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint", "OIDC_OP_JWKS_ENDPOINT": "jwks_uri"}


def oidc_setting(name: str, *default):
    """mozilla-django-oidc's settings, from Loupe's (``LOUPE_OIDC_*``) and the discovery document."""
    if name in _FROM_DISCOVERY:
        return discovery()[_FROM_DISCOVERY[name]]
    fixed = {
        "OIDC_RP_CLIENT_ID": settings.LOUPE_OIDC_CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": settings.LOUPE_OIDC_CLIENT_SECRET,
        "OIDC_RP_SIGN_ALGO": settings.LOUPE_OIDC_SIGN_ALGO,
        "OIDC_RP_SCOPES": settings.LOUPE_OIDC_SCOPES,
        "OIDC_USE_PKCE": True,
        "OIDC_USE_NONCE": True,
        "OIDC_STORE_ID_TOKEN": True,  # for signing out of the provider too (id_token_hint)
        "OIDC_TIMEOUT": TIMEOUT_S,
        "OIDC_CREATE_USER": settings.LOUPE_OIDC_CREATE_USERS,
        "LOGIN_REDIRECT_URL_FAILURE": reverse("login"),
    }
    return fixed[name] if name in fixed else import_from_settings(name, *default)


def second_factor_asserted(id_token_claims: dict) -> bool:
    """True when the provider says it authenticated the person with more than one factor: its
    ``amr`` (a list of RFC 8176 method values) names one of ``LOUPE_OIDC_MFA_AMR``, or its
    ``acr`` is one of ``LOUPE_OIDC_MFA_ACR``."""
    amr = id_token_claims.get("amr") or []
    if isinstance(amr, str):
        amr = [amr]
    return bool(set(amr) & set(settings.LOUPE_OIDC_MFA_AMR)) or id_token_claims.get("acr") in settings.LOUPE_OIDC_MFA_ACR


class StudioOIDCBackend(OIDCAuthenticationBackend):
    """Signs in the person the provider's authorization code stands for; answers None to every
    other sign-in (passwords), and while single sign-on is off. A refusal (a token that does not
    verify, a code the provider refuses, an account Loupe will not sign in) is logged and left in
    ``request.sso_refusal`` for the sign-in page."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):  # noqa: D107 — settings are read when a code arrives
        self.UserModel = get_user_model()

    def configured(self) -> "StudioOIDCBackend":
        """This backend with the provider's settings read (it fetches the discovery document)."""
        super().__init__()
        return self

    def authenticate(self, request, **kwargs):
        if request is None or not enabled() or "code" not in request.GET or "nonce" not in kwargs:
            return None
        try:
            return self.configured().authenticate_code(request, **kwargs)
        except (requests.RequestException, SuspiciousOperation, ServiceError, ImproperlyConfigured) as refused:
            logger.warning("sso sign-in refused: %s", refused)
            request.sso_refusal = (str(refused) if isinstance(refused, ServiceError) else
                                   f"Signing in with {settings.LOUPE_OIDC_PROVIDER_NAME} did not work (the sign-in "
                                   "it sent back was refused); try again.")
            return None

    def authenticate_code(self, request, **kwargs):
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        """The ID token's claims, once its signature, ``exp`` and nonce (mozilla-django-oidc) and
        its ``iss``, ``aud`` and ``azp`` (here) are right. Raises ``SuspiciousOperation``."""
        claims = super().verify_token(token, **kwargs)
        audience = claims.get("aud")
        audience = [audience] if isinstance(audience, str) else list(audience or [])
        client = settings.LOUPE_OIDC_CLIENT_ID
        if claims.get("iss") != settings.LOUPE_OIDC_ISSUER:
            raise SuspiciousOperation(f"ID token from another issuer: {claims.get('iss')!r}")
        if client not in audience or (len(audience) > 1 and claims.get("azp") != client):
            raise SuspiciousOperation(f"ID token for another client: {audience!r}")
        if "exp" not in claims or not claims.get("sub"):
            raise SuspiciousOperation("ID token without exp or sub")
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload["sub"]:
            raise SuspiciousOperation("userinfo is about another subject than the ID token")
        second_factor = second_factor_asserted(payload)
        logger.info("sso sign-in subject=%s amr=%s acr=%s second_factor=%s", payload["sub"], payload.get("amr"),
                    payload.get("acr"), second_factor)
        roles_claim = settings.LOUPE_OIDC_ROLES_CLAIM
        if roles_claim and roles_claim not in userinfo and roles_claim in payload:
            userinfo = {**userinfo, roles_claim: payload[roles_claim]}  # some providers put groups in the ID token only
        user, identity = sso_sign_in(issuer=payload["iss"], subject=payload["sub"], claims=userinfo,
                                     second_factor=second_factor)
        user.sso_identity, user.sso_second_factor = identity, second_factor
        user.sso_sid = str(payload.get("sid") or "")[:255]
        return user

    def verify_logout_token(self, token: str) -> dict:
        """The claims of a back-channel logout token (OpenID Connect Back-Channel Logout 1.0 §2.6):
        signed by the provider (its JWKS, ``LOUPE_OIDC_SIGN_ALGO``), from the configured issuer,
        for this client, issued within ``LOGOUT_TOKEN_MAX_AGE_S``, unexpired when it has ``exp``,
        with a ``jti``, the back-channel logout event, a ``sub`` or a ``sid``, and no ``nonce``.
        Raises ``SuspiciousOperation`` with the reason."""
        try:
            if "kid" not in jwt.get_unverified_header(token):  # mozilla-django-oidc's key lookup needs it
                raise SuspiciousOperation("logout token without kid")
            claims = OIDCAuthenticationBackend.verify_token(self, token, nonce=None)
        except jwt.InvalidTokenError as error:  # expired, malformed
            raise SuspiciousOperation(f"logout token does not verify: {error}") from None
        audience = claims.get("aud")
        audience = [audience] if isinstance(audience, str) else list(audience or [])
        events = claims.get("events")
        if claims.get("iss") != settings.LOUPE_OIDC_ISSUER:
            raise SuspiciousOperation(f"logout token from another issuer: {claims.get('iss')!r}")
        if settings.LOUPE_OIDC_CLIENT_ID not in audience:
            raise SuspiciousOperation(f"logout token for another client: {audience!r}")
        if not isinstance(claims.get("iat"), (int, float)) or abs(time.time() - claims["iat"]) > LOGOUT_TOKEN_MAX_AGE_S:
            raise SuspiciousOperation("logout token without a recent iat")
        if not claims.get("jti") or "nonce" in claims:
            raise SuspiciousOperation("logout token without jti, or with a nonce")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
            raise SuspiciousOperation("logout token without the back-channel logout event")
        if not (isinstance(claims.get("sub"), str) and claims["sub"]) and not (isinstance(claims.get("sid"), str)
                                                                                and claims["sid"]):
            raise SuspiciousOperation("logout token with neither sub nor sid")
        return claims


class SignInWithProvider(OIDCAuthenticationRequestView):
    """``GET /oidc/authenticate/?next=…``: off to the provider's sign-in page."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request):
        if not enabled():
            return redirect("login")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except (requests.RequestException, ImproperlyConfigured) as failure:
            logger.warning("sso provider unreachable: %s", failure)
            messages.error(request, f"{settings.LOUPE_OIDC_PROVIDER_NAME} cannot be reached now; try again "
                                    "in a moment, or sign in with your Loupe password.")
            return redirect("login")
        self.OIDC_RP_CLIENT_ID = settings.LOUPE_OIDC_CLIENT_ID
        return super().get(request)


class ProviderCallback(OIDCAuthenticationCallbackView):
    """``GET /oidc/callback/?code=…&state=…``: the provider's answer. Signs the person in (with
    the second factor when the provider vouched for one), or sends them on to their own
    authenticator app's code, or back to the sign-in page with why."""

    get_settings = staticmethod(oidc_setting)

    def login_failure(self):
        reason = getattr(self.request, "sso_refusal", "")
        if not reason and self.request.GET.get("error"):
            reason = (f"{settings.LOUPE_OIDC_PROVIDER_NAME} did not sign you in "
                      f"({self.request.GET.get('error_description') or self.request.GET['error']}).")
        messages.error(self.request, reason or f"Signing in with {settings.LOUPE_OIDC_PROVIDER_NAME} did not work; "
                                               "try again.")
        return HttpResponseRedirect(reverse("login"))

    def login_success(self):
        from .account import PENDING_SIGN_IN  # the password step's own hand-over to the code step

        request, user = self.request, self.user
        id_token = request.session.get("oidc_id_token")
        if not user.sso_second_factor and has_second_factor(user):
            request.session.cycle_key()
            request.session[PENDING_SIGN_IN] = {"user": user.pk, "backend": BACKEND, "at": time.time()}
            request.session[SSO_SESSION], request.session[SSO_SID] = id_token, user.sso_sid
            return redirect(f"{reverse('login-verify')}?{urlencode({'next': self.success_url})}")
        # Kept through the sign-in (its new session key keeps the data): see _remember_provider_session.
        request.session[SSO_SESSION], request.session[SSO_SID] = id_token, user.sso_sid
        auth.login(request, user, backend=BACKEND)
        if user.sso_second_factor:
            otp_login(request, user.sso_identity)
        return HttpResponseRedirect(self.success_url)


@receiver(user_logged_in, dispatch_uid="loupe-sso-session")
def _remember_provider_session(sender, request, user, **kwargs):
    """A session signed in through the provider (at once, or after the person's own second
    factor) is remembered with the provider's ``sid``, for back-channel logout."""
    session = getattr(request, "session", None)
    if session is None or not session.get(SSO_SESSION) or not enabled():
        return
    sso_session_record(user=user, issuer=settings.LOUPE_OIDC_ISSUER, sid=session.get(SSO_SID, ""),
                       session_key=session.session_key)


@csrf_exempt
@require_POST
def backchannel_logout(request):
    """``POST /oidc/backchannel-logout/`` (``logout_token=JWT``, form-encoded): the provider says a
    person signed out there (OpenID Connect Back-Channel Logout 1.0). The token is checked
    (``StudioOIDCBackend.verify_logout_token``) and the Loupe sessions of its ``sid`` (or of its
    ``sub``) are ended (``services.accounts.sso_logout``). 200 when done (also when no session was
    open), 400 ``{"error": "invalid_request", "error_description": …}`` for a token that does not
    verify, 404 while single sign-on is off; never cached."""
    if not enabled():
        raise Http404("Single sign-on is off.")
    token = request.POST.get("logout_token", "")
    try:
        if not token:
            raise SuspiciousOperation("no logout_token in the request")
        claims = StudioOIDCBackend().configured().verify_logout_token(token)
    except (SuspiciousOperation, requests.RequestException, ImproperlyConfigured) as refused:
        logger.warning("sso back-channel logout refused: %s", refused)
        response = JsonResponse({"error": "invalid_request", "error_description": str(refused)}, status=400)
    else:
        ended = sso_logout(issuer=claims["iss"], subject=claims.get("sub") or "", sid=claims.get("sid") or "")
        logger.info("sso back-channel logout subject=%s sid=%s sessions_ended=%s", claims.get("sub"),
                    claims.get("sid"), ended)
        response = HttpResponse(status=200)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def sign_out(request):
    """``POST /logout/``: ends the Loupe session, and for a session signed in through the provider
    the provider's session too (RP-Initiated Logout 1.0: its end-session page, with the ID token
    as hint, coming back to Loupe's sign-in page)."""
    id_token = request.session.get(SSO_SESSION)
    auth.logout(request)
    if id_token and enabled():
        try:
            end_session = discovery().get("end_session_endpoint")
        except (requests.RequestException, ImproperlyConfigured):
            end_session = None
        if end_session:
            query = urlencode({"id_token_hint": id_token, "client_id": settings.LOUPE_OIDC_CLIENT_ID,
                               "post_logout_redirect_uri": request.build_absolute_uri(reverse("login"))})
            return HttpResponseRedirect(f"{end_session}?{query}")
    return redirect(settings.LOGOUT_REDIRECT_URL)


urlpatterns = [
    path("authenticate/", SignInWithProvider.as_view(), name="oidc_authentication_init"),
    path("callback/", ProviderCallback.as_view(), name="oidc_authentication_callback"),
    path("backchannel-logout/", backchannel_logout, name="oidc_backchannel_logout"),
]

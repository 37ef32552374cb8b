"""A person's own sign-in credentials: their TOTP device (RFC 6238) and their API token.

Account events are audited in every production the person is a member of (the audit trail is
per production): who can reach that production's footage, and with which credentials, is that
production's business.
"""
import logging

from django.contrib.auth.models import User
from django.db import transaction
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from reviews import authz
from reviews.errors import NotAllowed, ServiceError
from reviews.models import Production

from .audit import audit_record

logger = logging.getLogger(__name__)

#: The name a TOTP device gets (shown in the admin; one device per person).
AUTHENTICATOR_APP = "Authenticator app"


def _audit_in_productions(*, user: User, action: str, payload: dict | None = None) -> None:
    for production in Production.objects.filter(memberships__user=user).distinct():
        audit_record(production=production, actor=user, action=action, target=user, payload=payload or {})
    logger.info("account %s user=%s", action, user.pk)


@transaction.atomic
def totp_device_start(*, user: User) -> TOTPDevice:
    """Begin enrolling an authenticator app: a new, unconfirmed TOTP device (HMAC-SHA1, 6 digits,
    30-second steps — RFC 6238 with RFC 4226's HOTP) whose ``config_url`` (an ``otpauth://`` URI)
    the person scans. Earlier unconfirmed devices of ``user`` are dropped; a person who already
    has a confirmed device enrols a replacement the same way (the old one works until then)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_APP, confirmed=False)


@transaction.atomic
def totp_device_confirm(*, user: User, token: str) -> TOTPDevice:
    """Confirm ``user``'s device being enrolled with a code it shows (``token``: 6 digits).

    On success the device becomes the person's only confirmed one (an older one is removed), and
    their API token is revoked — it was made without this second factor. Raises ``ServiceError``
    (400) when there is no enrolment under way or the code is not the current one.
    """
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        raise ServiceError("There is no authenticator app being set up; start again from Account security.")
    if not device.verify_token((token or "").strip()):
        raise ServiceError("That code is not the one the app shows now: enter the current 6-digit code "
                           "(and check that the phone's clock is set automatically).")
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    Token.objects.filter(user=user).delete()
    _audit_in_productions(user=user, action="account.mfa_enrol")
    return device


@transaction.atomic
def api_token_create(*, user: User) -> Token:
    """A new API token for ``user`` (replacing theirs, if any); send it as ``Authorization: Token
    <key>``. A person with an authenticator app must be signed in with it (``user.is_verified()``)
    — so that a token always stands for a second factor when its owner has one. Raises
    ``NotAllowed`` (403) otherwise."""
    if user_has_device(user) and not authz.is_verified(user):
        raise NotAllowed("Sign in with your authenticator app's code before making an API token.")
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    _audit_in_productions(user=user, action="account.token_create")
    return token


@transaction.atomic
def api_token_revoke(*, user: User) -> bool:
    """Revoke ``user``'s API token; False when they had none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        _audit_in_productions(user=user, action="account.token_revoke")
    return bool(deleted)

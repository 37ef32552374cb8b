"""A person's own sign-in credentials: their TOTP device (RFC 6238), their one-time recovery
codes and their API token.

Account events are audited in every production the person is a member of (the audit trail is
per production): who can reach that production's footage, and with which credentials, is that
production's business.
"""
import base64
import logging
import secrets
from importlib import import_module

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django_otp import user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from rest_framework.authtoken.models import Token

from reviews import authz
from reviews.errors import NotAllowed, ServiceError
from reviews.models import (Membership, Production, RecoveryCode, RecoveryCodeDevice, Role, SingleSignOnIdentity,
                            SingleSignOnSession)

from .audit import audit_record

logger = logging.getLogger(__name__)

#: The name a TOTP device gets (shown in the admin; one device per person).
AUTHENTICATOR_APP = "Authenticator app"


def _audit_in_productions(*, user: User, action: str, payload: dict | None = None, actor: User | None = None) -> None:
    """``action`` on ``user``'s account, by ``actor`` (default: the person themselves), in the
    trail of each production they are a member of."""
    for production in Production.objects.filter(memberships__user=user).distinct():
        audit_record(production=production, actor=actor or user, action=action, target=user, payload=payload or {})
    logger.info("account %s user=%s by=%s", action, user.pk, (actor or user).pk)


def has_second_factor(user: User) -> bool:
    """True when ``user`` has a second factor of their own to give at sign-in: a confirmed
    authenticator app or a passkey. (A ``SingleSignOnIdentity`` is a django-otp device too, but
    one the person cannot give anything from: it is not counted.) The one place this is decided."""
    return (TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            or WebAuthnCredential.objects.filter(user=user, confirmed=True).exists())


def second_factor_verify(*, user: User, code: str, purpose: str) -> Device:
    """Check that ``code`` is the code ``user``'s authenticator app shows now (digits) or one of
    their unused recovery codes (``recovery_codes_make``), and return the device that accepted
    it. This is what signing in with a recovery code, and replacing or removing a factor, ask
    for — so that a session signed in without the second factor (or a stolen password) cannot
    swap the factor for its own. A recovery code is used up, audited as
    ``account.recovery_code_use`` (with ``purpose``: ``sign-in``, ``replace``, ``remove``) and
    told to the person by email. Wrong codes are throttled per device (django-otp); the throttle
    is committed, so call this outside any transaction that the failure would roll back.
    Raises ``NotAllowed`` (403)."""
    code = "".join((code or "").split())
    recovery = not code.isdigit()
    device = (RecoveryCodeDevice if recovery else TOTPDevice).objects.filter(user=user, confirmed=True).first()
    with transaction.atomic():
        accepted = device is not None and device.verify_token(code)
        if accepted and recovery:
            left = RecoveryCode.objects.filter(device=device, used_at__isnull=True).count()
            _audit_in_productions(user=user, action="account.recovery_code_use", payload={"for": purpose, "left": left})
            _notify(user=user, subject="A Loupe recovery code of yours was used",
                    body=f"A recovery code was used ({purpose}); {left} of your codes are left.")
    if not accepted:
        raise NotAllowed("Enter the code your current authenticator app shows now, or an unused recovery code.")
    return device


def totp_device_start(*, user: User, current_code: str = "") -> TOTPDevice:
    """Begin enrolling an authenticator app: a new, unconfirmed TOTP device (HMAC-SHA1, 6 digits,
    30-second steps — RFC 6238 with RFC 4226's HOTP) whose ``config_url`` (an ``otpauth://`` URI)
    the person scans. Earlier unconfirmed devices of ``user`` are dropped. A person who already
    has an app replaces it the same way, giving its current code or a recovery code
    (``current_code``, ``second_factor_verify``); the old one works until the new one is
    confirmed. A person with a passkey alone adds an app from a session signed in with it. Raises
    ``NotAllowed`` (403) when that code is missing or wrong, or the session is not verified."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        second_factor_verify(user=user, code=current_code, purpose="replace")
    elif has_second_factor(user) and not authz.is_verified(user):
        raise NotAllowed("Sign in with your passkey before adding an authenticator app.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_APP, confirmed=False)


def totp_device_confirm(*, user: User, device_id: int | None, token: str) -> TOTPDevice:
    """Confirm ``user``'s device being enrolled (``device_id``: the one ``totp_device_start``
    made for this session) with a code it shows (``token``: 6 digits).

    On success the device becomes the person's only confirmed one (an older one is removed), and
    their API token is revoked — it was made without this second factor. Audited as
    ``account.mfa_enrol`` (``account.mfa_replace`` when it replaced one) and, for a replacement,
    the person is told by email. Raises ``ServiceError`` (400) when there is no enrolment under
    way or the code is not the current one (wrong codes are throttled, and the throttle kept).
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False, pk=device_id).first() if device_id else None
    if device is None:
        raise ServiceError("There is no authenticator app being set up; start again from Account security.")
    if not device.verify_token((token or "").strip()):
        raise ServiceError("That code is not the one the app shows now: enter the current 6-digit code "
                           "(and check that the phone's clock is set automatically).")
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device.pk, confirmed=False).first()
        if device is None:
            raise ServiceError("This authenticator app is already set up.")
        replaced, _ = TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        Token.objects.filter(user=user).delete()
        _audit_in_productions(user=user, action="account.mfa_replace" if replaced else "account.mfa_enrol")
        if replaced:
            _notify(user=user, subject="Your Loupe authenticator app was replaced",
                    body="A new authenticator app now signs you in to Loupe; the one you had no longer does.")
    return device


def totp_device_remove(*, user: User, current_code: str) -> None:
    """Remove ``user``'s authenticator app and recovery codes, given the app's current code or a
    recovery code (``second_factor_verify``): from then on they sign in with the password alone,
    and productions or roles that need a second factor are closed to them until they set one up
    again. Audited as ``account.mfa_remove``; the person is told by email. Raises
    ``NotAllowed`` (403)."""
    second_factor_verify(user=user, code=current_code, purpose="remove")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        if not has_second_factor(user):  # recovery codes stand in for passkeys too
            RecoveryCodeDevice.objects.filter(user=user).delete()
        _audit_in_productions(user=user, action="account.mfa_remove")
        _notify(user=user, subject="Your Loupe authenticator app was removed",
                body="You now sign in to Loupe with your password alone.")


@transaction.atomic
def totp_device_reset_by_administrator(*, user: User, administrator: User) -> None:
    """An administrator removes ``user``'s authenticator app, passkeys and recovery codes (a lost phone
    and codes: the person then signs in with the password and sets up a new app). Audited as
    ``account.mfa_reset`` with the administrator as actor; the person is told by email."""
    _second_factors_delete(user)
    _audit_in_productions(user=user, action="account.mfa_reset", actor=administrator)
    _notify(user=user, subject="Your Loupe authenticator app was removed by an administrator",
            body=f"{administrator.get_username()} removed your authenticator app; set up a new one under "
                 "Account security after signing in.")


def _second_factors_delete(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    WebAuthnCredential.objects.filter(user=user).delete()
    RecoveryCodeDevice.objects.filter(user=user).delete()


def passkey_added(*, user: User) -> None:
    """Record that ``user`` registered a passkey (django-otp-webauthn made the
    ``WebAuthnCredential``; ``frontend.passkeys``): audited as ``account.passkey_add`` and told
    to the person by email."""
    with transaction.atomic():
        _audit_in_productions(user=user, action="account.passkey_add")
        _notify(user=user, subject="A passkey was added to your Loupe account",
                body="A new passkey now signs you in to Loupe as your second factor.")


def passkey_remove(*, user: User, credential_id: int | None, current_code: str) -> None:
    """Remove ``user``'s passkey ``credential_id``, given their authenticator app's current code
    or a recovery code (``second_factor_verify``) — as for the app, a session signed in
    without the second factor, or one with a stolen password, cannot take a factor away.
    Audited as ``account.passkey_remove``; the person is told by email. Raises ``NotAllowed``
    (403) for a wrong code, ``ServiceError`` (400) when there is no such passkey of theirs."""
    credential = WebAuthnCredential.objects.filter(user=user, pk=credential_id).first() if credential_id else None
    if credential is None:
        raise ServiceError("There is no such passkey of yours; reload Account security.")
    second_factor_verify(user=user, code=current_code, purpose="remove")
    with transaction.atomic():
        credential.delete()
        _audit_in_productions(user=user, action="account.passkey_remove", payload={"name": credential.name})
        _notify(user=user, subject="A passkey was removed from your Loupe account",
                body=f"The passkey {credential.name!r} no longer signs you in to Loupe.")


#: How many recovery codes a person is given at a time.
RECOVERY_CODES = 10


@transaction.atomic
def recovery_codes_make(*, user: User) -> list[str]:
    """Give ``user`` ``RECOVERY_CODES`` new one-time recovery codes (each 80 random bits as 16
    base32 characters, shown ``XXXX-XXXX-XXXX-XXXX``), replacing any they had. Only their
    SHA-256 is stored (``RecoveryCode``): the returned list is the one time they are seen.
    The person must have an authenticator app or a passkey and be signed in with a second factor. Audited as
    ``account.recovery_codes_make``. Raises ``NotAllowed`` (403)."""
    if not has_second_factor(user):
        raise NotAllowed("Set up an authenticator app or a passkey first: recovery codes stand in for it.")
    if not authz.is_verified(user):
        raise NotAllowed("Sign in with your authenticator app's code or your passkey before making recovery codes.")
    RecoveryCodeDevice.objects.filter(user=user).delete()
    device = RecoveryCodeDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = []
    for _ in range(RECOVERY_CODES):
        text = base64.b32encode(secrets.token_bytes(10)).decode()
        codes.append("-".join(text[i:i + 4] for i in range(0, 16, 4)))
    RecoveryCode.objects.bulk_create(RecoveryCode(device=device, code_sha256=RecoveryCode.digest(code))
                                     for code in codes)
    _audit_in_productions(user=user, action="account.recovery_codes_make", payload={"count": RECOVERY_CODES})
    return codes


def _notify(*, user: User, subject: str, body: str) -> None:
    """Tell ``user`` by email of a change to their sign-in, once the change is committed (through
    Django's email backend, ``EMAIL_URL``). A person with no address is only logged; a failed
    send is logged, never undoes the change."""
    if not user.email:
        logger.warning("account change not notified: user=%s has no email address", user.pk)
        return

    def send() -> None:
        try:
            send_mail(subject, f"{body}\n\nIf this was not you, tell your Loupe administrator at once.",
                      None, [user.email])
        except Exception:  # noqa: BLE001 — the change stands; the log says who was not told
            logger.exception("account change not notified: user=%s", user.pk)

    transaction.on_commit(send)


@transaction.atomic
def api_token_create(*, user: User) -> Token:
    """A new API token for ``user`` (replacing theirs, if any); send it as ``Authorization: Token
    <key>``. A person with any django-otp device — an authenticator app, a passkey, or a studio
    sign-in (``SingleSignOnIdentity``) — must be signed in with a second factor
    (``user.is_verified()``): the API counts such a person's token as verified
    (``reviews.api.authentication``), so a token always stands for a second factor when its
    owner has one. Raises ``NotAllowed`` (403) otherwise."""
    if user_has_device(user) and not authz.is_verified(user):
        raise NotAllowed("Sign in with your authenticator app's code, your passkey or your studio's multi-factor "
                         "sign-in (a second factor) before making an API token.")
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


class SingleSignOnRefused(ServiceError):
    """The studio's provider vouched for someone Loupe will not sign in (400)."""


def sso_sign_in(*, issuer: str, subject: str, claims: dict, second_factor: bool) -> tuple[User, SingleSignOnIdentity]:
    """The Loupe account of the person whom ``issuer`` (the OpenID Provider) authenticated as
    ``subject`` (the ID token's ``sub``), with ``claims`` (userinfo: the username claim
    ``LOUPE_OIDC_USERNAME_CLAIM``, ``email``, ``given_name``, ``family_name``, ``name``).

    A known (issuer, subject) is that person, whatever their claims say now (their email and
    names are brought up to date). An unknown one gets a new account (just in time, when
    ``LOUPE_OIDC_CREATE_USERS``), named by the username claim, with no usable password and no
    production roles but those the provider's roles claim gives. An existing local account is
    never taken over by a provider's claim: a name already in use is refused. ``second_factor``: the provider's
    ``amr``/``acr`` named a second factor. When ``LOUPE_OIDC_ROLES_CLAIM`` is set, the roles that
    claim of ``claims`` names are made the person's provider-given roles (``sso_roles_sync``).
    Audited as ``account.sso_sign_in`` in each production the person is a member of (payload:
    issuer, second_factor). Raises ``SingleSignOnRefused`` (400) with what to do."""
    with transaction.atomic():
        identity = (SingleSignOnIdentity.objects.select_related("user").select_for_update()
                    .filter(issuer=issuer, subject=subject).first())
        if identity is None:
            user = _sso_account_make(issuer=issuer, subject=subject, claims=claims)
            identity = SingleSignOnIdentity.objects.create(user=user, issuer=issuer, subject=subject,
                                                           name="Studio sign-in", confirmed=True)
        user = identity.user
        if not user.is_active:
            raise SingleSignOnRefused(f"The Loupe account {user.get_username()} is disabled; ask your Loupe administrator.")
        changed = {field: str(claims[claim])[:150] for field, claim in (("email", "email"), ("first_name", "given_name"),
                                                                       ("last_name", "family_name"))
                   if claims.get(claim) and getattr(user, field) != claims[claim]}
        if changed:
            User.objects.filter(pk=user.pk).update(**changed)
        identity.signed_in_at = timezone.now()
        identity.save(update_fields=["signed_in_at"])
        if settings.LOUPE_OIDC_ROLES_CLAIM:
            sso_roles_sync(user=user, issuer=issuer, value=claims.get(settings.LOUPE_OIDC_ROLES_CLAIM))
        _audit_in_productions(user=user, action="account.sso_sign_in",
                              payload={"issuer": issuer, "second_factor": second_factor})
    return user, identity


def sso_roles_named(value) -> tuple[set[tuple[str, str]], list[str]]:
    """The production roles a provider's roles claim names: ``value`` is the claim's value (a
    list of strings, or one string of values separated by spaces; None when absent), each value
    ``LOUPE_OIDC_ROLES_PREFIX<PRODUCTION CODE>:<role>`` with a role of ``Role`` (director,
    supervisor, artist, producer, performer; any case), e.g. ``loupe:NGT01:director``. Values
    without the prefix are the directory's other groups and are passed over. Returns
    ((production code, role) pairs, values with the prefix that name no role: for the log)."""
    prefix = settings.LOUPE_OIDC_ROLES_PREFIX
    if value is None:
        values = []
    elif isinstance(value, str):
        values = value.split()
    elif isinstance(value, (list, tuple)):
        values = list(value)
    else:
        return set(), [repr(value)[:200]]
    named, unusable = set(), []
    for item in values:
        if not isinstance(item, str):
            unusable.append(repr(item)[:200])
            continue
        if not item.startswith(prefix):
            continue
        code, _, role = item[len(prefix):].rpartition(":")
        if not code or role.lower() not in Role.values:
            unusable.append(item[:200])
            continue
        named.add((code, role.lower()))
    return named, unusable


def sso_roles_sync(*, user: User, issuer: str, value) -> dict:
    """Make ``user``'s roles given by ``issuer`` (the OpenID Provider) the ones its roles claim
    names now (``value``, read by ``sso_roles_named``), at a sign-in through it: a role it names
    that the person lacks is added (``Membership.granted_by_issuer`` = ``issuer``); a role it gave
    before and names no longer is taken away; roles given in Loupe (or by another provider) are
    left alone, even when the claim stops naming them. Each change is audited in its
    production's trail as ``membership.add`` / ``membership.remove`` (no actor; payload user,
    role, ``granted_by``: the issuer). Values naming no production (by its code) or no role are
    passed over with a warning in the log, never an error; an absent claim takes away every role
    the provider gave. Runs in the caller's transaction. Returns {"added": […], "removed": […],
    "ignored": […]} ("CODE:role" strings, and the ignored values)."""
    named, ignored = sso_roles_named(value)
    productions = {production.code: production
                   for production in Production.objects.filter(code__in={code for code, _ in named})}
    by_pk = {production.pk: production for production in productions.values()}
    for code, role in sorted(named):
        if code not in productions:
            ignored.append(f"{settings.LOUPE_OIDC_ROLES_PREFIX}{code}:{role}")
    if ignored:
        logger.warning("sso roles claim %s of user=%s from %s: ignored %s (no such production or role)",
                       settings.LOUPE_OIDC_ROLES_CLAIM, user.pk, issuer, ", ".join(ignored))
    wanted = {(productions[code].pk, role) for code, role in named if code in productions}
    held = {(membership.production_id, membership.role): membership
            for membership in Membership.objects.select_for_update().select_related("production").filter(user=user)}
    added, removed = [], []
    for production_id, role in sorted(wanted - held.keys()):
        production = by_pk[production_id]
        membership = Membership.objects.create(production=production, user=user, role=role, granted_by_issuer=issuer)
        audit_record(production=production, actor=None, action="membership.add", target=membership,
                     payload={"user": user.username, "role": role, "granted_by": issuer})
        added.append(f"{production.code}:{role}")
    for key, membership in sorted(held.items()):
        if membership.granted_by_issuer == issuer and key not in wanted:
            audit_record(production=membership.production, actor=None, action="membership.remove", target=membership,
                         payload={"user": user.username, "role": membership.role, "granted_by": issuer})
            removed.append(f"{membership.production.code}:{membership.role}")
            membership.delete()
    if added or removed:
        logger.info("sso roles user=%s from %s: added %s removed %s", user.pk, issuer, added, removed)
    return {"added": added, "removed": removed, "ignored": ignored}


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def sso_session_record(*, user: User, issuer: str, sid: str, session_key: str) -> None:
    """Remember that the Loupe session ``session_key`` is ``user``'s sign-in through ``issuer``
    in the provider's session ``sid`` (the ID token's ``sid``; "" when it sent none), for
    ``sso_logout``. Forgets this person's sessions that have ended meanwhile."""
    identity = SingleSignOnIdentity.objects.filter(user=user, issuer=issuer).first()
    if identity is None or not session_key:
        return
    store = _session_store()
    ended = [row.pk for row in SingleSignOnSession.objects.filter(identity=identity) if not store().exists(row.session_key)]
    SingleSignOnSession.objects.filter(pk__in=ended).delete()
    SingleSignOnSession.objects.update_or_create(session_key=session_key, defaults={"identity": identity, "sid": sid})


def sso_logout(*, issuer: str, subject: str, sid: str) -> int:
    """End the Loupe sessions that the provider ``issuer`` signed out (OpenID Connect
    Back-Channel Logout 1.0 §2.7): those of its session ``sid`` when given, else every session
    of its ``subject`` (the ``sub``), or those of ``sid`` for that ``subject`` when both are. The
    sessions are deleted from the session store, so their next request is signed out. Audited as
    ``account.sso_logout`` (issuer, sid, sessions: how many were ended) in each production of
    each person whose session ended. Returns how many sessions were ended (0 when none is known:
    the provider's logout is then already done here)."""
    if not subject and not sid:
        raise ValueError("a logout names a subject or a session id")
    sessions = SingleSignOnSession.objects.select_related("identity__user").filter(identity__issuer=issuer)
    if subject:
        sessions = sessions.filter(identity__subject=subject)
    if sid:
        sessions = sessions.filter(sid=sid)
    store = _session_store()
    with transaction.atomic():
        rows = list(sessions.select_for_update(of=("self",)))
        ended: dict[User, int] = {}
        for row in rows:
            store().delete(row.session_key)
            ended[row.identity.user] = ended.get(row.identity.user, 0) + 1
        SingleSignOnSession.objects.filter(pk__in=[row.pk for row in rows]).delete()
        for user, count in ended.items():
            _audit_in_productions(user=user, action="account.sso_logout",
                                  payload={"issuer": issuer, "sid": sid, "sessions": count})
    return len(rows)


def _sso_account_make(*, issuer: str, subject: str, claims: dict) -> User:
    claim = settings.LOUPE_OIDC_USERNAME_CLAIM
    if not settings.LOUPE_OIDC_CREATE_USERS:
        raise SingleSignOnRefused("You have no Loupe account yet: ask your Loupe administrator to make one.")
    username = str(claims.get(claim) or "")
    try:
        User.username_validator(username)
    except ValidationError:
        raise SingleSignOnRefused(f"Your studio sign-in gave no usable user name (claim {claim!r}: {username!r}); "
                                  "ask your Loupe administrator.") from None
    if len(username) > 150 or User.objects.filter(username__iexact=username).exists():
        raise SingleSignOnRefused(f"The user name {username} is already taken by another Loupe account, which a "
                                  "studio sign-in does not take over; ask your Loupe administrator.")
    user = User.objects.create_user(username, email=str(claims.get("email") or ""))
    logger.info("account sso_create user=%s issuer=%s subject=%s", user.pk, issuer, subject)
    return user

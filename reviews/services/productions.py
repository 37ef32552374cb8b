"""Productions and their people."""
from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz
from reviews.errors import NotAllowed
from reviews.models import Membership, Performer, Production, Role

from .audit import audit_record


@transaction.atomic
def production_create(*, code: str, name: str, actor: User | None) -> Production:
    production = Production.objects.create(code=code, name=name)
    audit_record(production=production, actor=actor, action="production.create", target=production,
                 payload={"code": code, "name": name})
    return production


@transaction.atomic
def membership_add(*, production: Production, user: User, role: str, actor: User | None) -> Membership:
    """Give ``user`` ``role`` in ``production`` (idempotent); audited as ``membership.add``. A
    role the studio's identity provider gave (``Membership.granted_by_issuer``) becomes a role
    given in Loupe, which the provider's later sign-ins leave alone (payload ``was_granted_by``)."""
    membership, created = Membership.objects.select_for_update().get_or_create(production=production, user=user,
                                                                              role=Role(role))
    if created:
        audit_record(production=production, actor=actor, action="membership.add", target=membership,
                     payload={"user": user.username, "role": role})
    elif membership.granted_by_issuer:
        audit_record(production=production, actor=actor, action="membership.add", target=membership,
                     payload={"user": user.username, "role": role, "was_granted_by": membership.granted_by_issuer})
        membership.granted_by_issuer = ""
        membership.save(update_fields=["granted_by_issuer"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User | None) -> None:
    """Take ``membership``'s role in its production away from its person; audited as
    ``membership.remove`` (the person keeps any other role they hold there)."""
    production = membership.production
    audit_record(production=production, actor=actor, action="membership.remove", target=membership,
                 payload={"user": membership.user.username, "role": membership.role})
    membership.delete()


@transaction.atomic
def production_require_mfa(*, production: Production, actor: User, required: bool) -> Production:
    """Require (or stop requiring) multi-factor sign-in of ``production``'s members: while it is
    required, members signed in without a second factor see neither its pages, API, WebSockets
    nor media (``selectors.productions_for``). Only a producer may change it, and only while
    signed in with a second factor themselves when turning it on (or they would lock themselves
    out). Raises ``NotAllowed`` (403)."""
    authz.require(actor, production, authz.MANAGE_SECURITY)
    if required and not authz.is_verified(actor):
        raise NotAllowed("Sign in with an authenticator app yourself before requiring it of the members "
                         f"of {production.code}.")
    return _require_mfa_set(production=production, actor=actor, required=required, payload={})


@transaction.atomic
def production_require_mfa_by_administrator(*, production: Production, administrator: User,
                                             required: bool) -> Production:
    """The same change made by an administrator in the admin (which only staff signed in with a
    second factor reach, ``portal.admin_site``); audited with ``"via": "admin"``."""
    return _require_mfa_set(production=production, actor=administrator, required=required, payload={"via": "admin"})


def _require_mfa_set(*, production: Production, actor: User, required: bool, payload: dict) -> Production:
    production = Production.objects.select_for_update().get(pk=production.pk)
    if production.require_mfa != required:
        production.require_mfa = required
        production.save(update_fields=["require_mfa"])
        audit_record(production=production, actor=actor, action="production.require_mfa", target=production,
                     payload={"require_mfa": required, **payload})
    return production


@transaction.atomic
def performer_save(*, performer: Performer, actor: User, fields: list[str]) -> Performer:
    """Add ``performer`` (unsaved) to its production, or store the changes to ``fields`` of an
    existing one — the people whose likeness consent protects and who may answer for them
    (``user``, ``representative``). Audited as ``performer.add`` / ``performer.change`` with the
    values set (names, user names)."""
    created = performer.pk is None
    performer.save()
    values = {field: str(getattr(performer, field) or "") for field in (fields if not created else
                                                                       ["name", "user", "representative"])}
    audit_record(production=performer.production, actor=actor, action="performer.add" if created else "performer.change",
                 target=performer, payload=values)
    return performer


@transaction.atomic
def production_set_review_watermark(*, production: Production, enabled: bool, actor: User) -> Production:
    """Turn the burn-in watermark (reviewer's name and time on every frame streamed to the review
    room) on or off for ``production``; audited as ``production.review_watermark``. Connections
    already open keep the setting they opened with until they reconnect.

    Raises ``NotAllowed`` unless ``actor`` is a producer or post supervisor of the production.
    """
    authz.require(actor, production, authz.SET_REVIEW_WATERMARK)
    Production.objects.filter(pk=production.pk).update(review_watermark=enabled)
    production.review_watermark = enabled
    audit_record(production=production, actor=actor, action="production.review_watermark", target=production,
                 payload={"enabled": enabled})
    return production

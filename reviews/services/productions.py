"""Productions and their people."""
from django.contrib.auth.models import User
from django.db import transaction

from reviews.models import Membership, Production, Role

from .audit import audit_record


@transaction.atomic
def production_create(*, code: str, name: str, actor: User | None) -> Production:
    production = Production.objects.create(code=code, name=name)
    audit_record(production=production, actor=actor, action="production.create", target=production,
                 payload={"code": code, "name": name})
    return production


@transaction.atomic
def membership_add(*, production: Production, user: User, role: str, actor: User | None) -> Membership:
    """Give ``user`` ``role`` in ``production`` (idempotent)."""
    membership, created = Membership.objects.get_or_create(production=production, user=user, role=Role(role))
    if created:
        audit_record(production=production, actor=actor, action="membership.add", target=membership,
                     payload={"user": user.username, "role": role})
    return membership

"""The audit trail: append-only and hash-chained per production."""
import hashlib
import json

from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from reviews.models import AuditEvent, Production

GENESIS_HASH = "0" * 64


def _event_hash(*, previous_hash: str, production_id: int, actor_id: int | None, action: str,
                target_type: str, target_id: str, payload: dict, created_at: str) -> str:
    canonical = json.dumps(
        {
            "previous_hash": previous_hash,
            "production": production_id,
            "actor": actor_id,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "payload": payload,
            "created_at": created_at,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def audit_record(*, production: Production, actor: User | None, action: str, target: models.Model,
                 payload: dict | None = None) -> AuditEvent:
    """Append an event to ``production``'s audit trail, chained to the previous one.

    Must run inside the transaction of the change it records (raises
    ``TransactionManagementError`` otherwise), so the change and its record land together.
    The production row is locked to serialise the chain.
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("audit_record must run inside the change's transaction")
    Production.objects.select_for_update().filter(pk=production.pk).first()
    last = AuditEvent.objects.filter(production=production).order_by("-id").values_list("hash", flat=True).first()
    previous_hash = last or GENESIS_HASH
    created_at = timezone.now()
    payload = payload or {}
    fields = dict(
        production_id=production.pk,
        actor_id=actor.pk if actor else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        payload=payload,
    )
    digest = _event_hash(previous_hash=previous_hash, created_at=created_at.isoformat(), **fields)
    return AuditEvent.objects.create(previous_hash=previous_hash, hash=digest, created_at=created_at, **fields)


def audit_verify(*, production: Production) -> list[int]:
    """Recompute ``production``'s chain; return the ids of events whose hash or link is wrong
    (empty when the trail is intact)."""
    broken = []
    previous_hash = GENESIS_HASH
    for event in AuditEvent.objects.filter(production=production).order_by("id").iterator():
        expected = _event_hash(
            previous_hash=previous_hash,
            production_id=event.production_id,
            actor_id=event.actor_id,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            payload=event.payload,
            created_at=event.created_at.isoformat(),
        )
        if event.previous_hash != previous_hash or event.hash != expected:
            broken.append(event.pk)
        previous_hash = event.hash
    return broken

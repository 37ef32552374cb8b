"""The audit trail: append-only and hash-chained per production."""
import hashlib
import json
from dataclasses import dataclass

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


@dataclass(frozen=True)
class AuditFinding:
    """One break in a production's chain: the event where it shows and what happened.

    ``problem`` is ``edited`` (the event's fields no longer give its hash), ``removed`` (the
    event links to a hash no stored event has: one or more events before it were deleted) or
    ``reordered`` (it links to an event that is stored elsewhere in the trail, not just before it).
    """

    event_id: int
    action: str
    problem: str
    detail: str


def _expected_hash(event: AuditEvent) -> str:
    return _event_hash(
        previous_hash=event.previous_hash,
        production_id=event.production_id,
        actor_id=event.actor_id,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        payload=event.payload,
        created_at=event.created_at.isoformat(),
    )


def audit_findings(*, production: Production) -> list[AuditFinding]:
    """Recompute ``production``'s chain in id order and say where and how it is broken (empty
    when the trail is intact). Each event's hash is recomputed from its own fields and the
    ``previous_hash`` it stores (an edit shows on that event), then its link is checked against
    the event before it (a deletion or a move shows on the event after the gap).

    Limitation: deleting the newest events leaves an intact, shorter chain; the PostgreSQL
    trigger (migration 0006) is what refuses deletions.
    """
    findings = []
    events = list(AuditEvent.objects.filter(production=production).order_by("id"))
    position_of_hash = {event.hash: index for index, event in enumerate(events)}
    previous_hash = GENESIS_HASH
    for index, event in enumerate(events):
        if event.hash != _expected_hash(event):
            findings.append(AuditFinding(event.pk, event.action, "edited",
                                         "its fields no longer match its hash"))
        elif event.previous_hash != previous_hash:
            linked = position_of_hash.get(event.previous_hash)
            if linked is None and event.previous_hash != GENESIS_HASH:
                findings.append(AuditFinding(event.pk, event.action, "removed",
                                             "the event it was chained to is missing (deleted)"))
            else:
                after = "the start of the trail" if linked is None else f"event {events[linked].pk}"
                findings.append(AuditFinding(event.pk, event.action, "reordered",
                                             f"it was recorded after {after}, not after the event before it"))
        previous_hash = event.hash
    return findings


def audit_verify(*, production: Production) -> list[int]:
    """The ids of ``production``'s events where the chain is broken (see ``audit_findings``);
    empty when the trail is intact."""
    return [finding.event_id for finding in audit_findings(production=production)]

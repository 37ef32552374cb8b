"""The audit trail: append-only and hash-chained per production, with signed checkpoints of
the chain head kept in the database and outside it (``reviews.checkpoints``)."""
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from reviews import checkpoints
from reviews.models import AuditCheckpoint, AuditEvent, Production
from reviews.services.notifications import notify_for_audit_event

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
    event = AuditEvent.objects.create(previous_hash=previous_hash, hash=digest, created_at=created_at, **fields)
    _checkpoint_if_due(production=production, head=event)
    notify_for_audit_event(event, target)  # the one place notifications are made
    return event


def _checkpoint_if_due(*, production: Production, head: AuditEvent, force: bool = False) -> AuditCheckpoint | None:
    """Sign ``head`` (the production's newest event; its row is locked by the caller) when
    ``force``, when the production has no checkpoint yet, when ``LOUPE_AUDIT_CHECKPOINT_EVERY``
    events have been recorded since its last one, or when that one is older than
    ``LOUPE_AUDIT_CHECKPOINT_MINUTES``."""
    last = production.audit_checkpoints.order_by("-event_id").first()
    if last is not None and last.event_id >= head.pk:
        return None
    since = AuditEvent.objects.filter(production=production, id__gt=last.event_id if last else 0,
                                      id__lte=head.pk).count()
    due = (force or last is None or since >= settings.LOUPE_AUDIT_CHECKPOINT_EVERY
           or timezone.now() - datetime.fromisoformat(last.signed_at)
           >= timedelta(minutes=settings.LOUPE_AUDIT_CHECKPOINT_MINUTES))
    if not due:
        return None
    return _checkpoint_write(production=production, head=head, event_count=(last.event_count if last else 0) + since)


def _checkpoint_write(*, production: Production, head: AuditEvent, event_count: int) -> AuditCheckpoint:
    claim = checkpoints.CheckpointClaim(
        production_id=production.pk, production_created_at=production.created_at.isoformat(), event_id=head.pk,
        event_hash=head.hash, event_count=event_count, signed_at=timezone.now().isoformat())
    key_id, signature = checkpoints.sign(claim)
    checkpoint = AuditCheckpoint.objects.create(
        production=production, event_id=claim.event_id, event_hash=claim.event_hash, event_count=claim.event_count,
        signed_at=claim.signed_at, key_id=key_id, signature=signature)
    # Outside the database only once the event is committed: a rolled-back change must not leave
    # a checkpoint of an event that never was (which would read as a truncated trail).
    record = dict(claim.__dict__, key_id=key_id, signature=signature)
    transaction.on_commit(lambda: checkpoints.external_append(record))
    return checkpoint


def audit_checkpoint(*, production: Production) -> AuditCheckpoint | None:
    """Sign ``production``'s chain head now unless it is already signed (``manage.py
    audit_checkpoint`` runs this from cron, so the newest events do not wait for the next
    event to be signed). Returns the new checkpoint, or ``None`` when there was nothing new."""
    with transaction.atomic():
        Production.objects.select_for_update().filter(pk=production.pk).first()
        head = AuditEvent.objects.filter(production=production).order_by("-id").first()
        return None if head is None else _checkpoint_if_due(production=production, head=head, force=True)


@dataclass(frozen=True)
class AuditFinding:
    """One break in a production's trail: the event where it shows and what happened.

    ``problem`` is one of:

    - ``edited``: the event's fields no longer give its hash;
    - ``removed``: the event links to a hash no stored event has, or fewer events are stored up
      to a signed checkpoint than it counted (events were deleted);
    - ``reordered``: it links to an event stored elsewhere in the trail, not just before it;
    - ``truncated``: a signed checkpoint names an event after the newest one stored (the newest
      events were deleted);
    - ``rechained``: the event a signed checkpoint names has another hash than the one signed
      (an earlier event was edited and every later hash recomputed);
    - ``checkpoint forged``: a checkpoint (in the database or the external copy) whose
      signature does not verify with any trusted key;
    - ``checkpoint deleted``: a checkpoint in the external copy is not in the database;
    - ``external copy damaged``: a line of the external copy is not a checkpoint record.

    ``action`` is the event's action where the event is stored, else empty.
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


def _chain_findings(events: list[AuditEvent]) -> list[AuditFinding]:
    """Recompute the chain in id order: each event's hash from its own fields and the
    ``previous_hash`` it stores (an edit shows on that event), then its link against the event
    before it (a deletion or a move shows on the event after the gap)."""
    findings = []
    position_of_hash = {event.hash: index for index, event in enumerate(events)}
    previous_hash = GENESIS_HASH
    for event in events:
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


def _claim_of(record: dict) -> checkpoints.CheckpointClaim | None:
    try:
        return checkpoints.CheckpointClaim(**{name: record[name] for name in checkpoints.CheckpointClaim.__dataclass_fields__})
    except (KeyError, TypeError):
        return None


def _checkpoint_findings(production: Production, events: list[AuditEvent],
                         external: list[dict] | None) -> list[AuditFinding]:
    """Check the trail against its signed checkpoints, in the database and outside it."""
    keys = checkpoints.trusted_keys()
    created_at = production.created_at.isoformat()
    findings = []

    def verified(claims: list[tuple[checkpoints.CheckpointClaim, str, str]], where: str) -> set:
        good = set()
        for claim, signed_by, signature in claims:
            if checkpoints.signature_valid(claim, signed_by=signed_by, signature=signature, keys=keys):
                good.add(claim)
            else:
                findings.append(AuditFinding(claim.event_id, "", "checkpoint forged",
                                             f"the checkpoint at event {claim.event_id} {where} does not verify with "
                                             f"any trusted key (signed by {signed_by or 'nobody'})"))
        return good

    in_database = verified([
        (checkpoints.CheckpointClaim(production.pk, created_at, row.event_id, row.event_hash, row.event_count,
                                     row.signed_at), row.key_id, row.signature)
        for row in production.audit_checkpoints.order_by("event_id")], "in the database")
    outside = set()
    if external is not None:
        ours = [(claim, record.get("key_id", ""), record.get("signature", ""))
                for record in external if (claim := _claim_of(record)) is not None
                and claim.production_id == production.pk and claim.production_created_at == created_at]
        outside = verified(ours, "in the external copy")
        for claim in sorted(outside - in_database, key=lambda claim: claim.event_id):
            findings.append(AuditFinding(claim.event_id, "", "checkpoint deleted",
                                         f"the checkpoint at event {claim.event_id} signed {claim.signed_at} is in the "
                                         "external copy but not in the database"))
    # A checkpoint in the database but not (yet) outside it proves nothing either way: the
    # external copy is written once the event is committed, so a crash in between leaves one.

    position = {event.pk: index for index, event in enumerate(events)}
    newest = events[-1].pk if events else 0
    last_good = 0
    for claim in sorted(in_database | outside, key=lambda claim: (claim.event_id, claim.signed_at)):
        index = position.get(claim.event_id)
        if index is None and claim.event_id > newest:
            ends = f"event {newest} ({len(events)} events)" if events else "no event at all"
            findings.append(AuditFinding(claim.event_id, "", "truncated",
                                         f"a checkpoint signed {claim.signed_at} counts {claim.event_count} events up to "
                                         f"event {claim.event_id}, but the trail ends at {ends}: the events after it "
                                         "were deleted"))
        elif index is None:
            findings.append(AuditFinding(claim.event_id, "", "removed",
                                         f"event {claim.event_id}, signed in a checkpoint at {claim.signed_at}, is missing"))
        elif events[index].hash != claim.event_hash:
            findings.append(AuditFinding(claim.event_id, events[index].action, "rechained",
                                         f"its hash is not the one signed at {claim.signed_at}: an event after "
                                         f"{last_good or 'the start'} and up to {claim.event_id} was changed and the "
                                         "chain recomputed"))
        elif index + 1 != claim.event_count:
            findings.append(AuditFinding(claim.event_id, events[index].action, "removed",
                                         f"{claim.event_count} events were signed up to it, {index + 1} are stored"))
        else:
            last_good = claim.event_id
    return findings


def audit_findings(*, production: Production) -> list[AuditFinding]:
    """Say where and how ``production``'s audit trail is broken (empty when it is intact): the
    hash chain recomputed in id order, then the trail checked against every signed checkpoint
    in the database and in the external copy (see ``AuditFinding`` for the problems named).

    Raises ``reviews.checkpoints.CheckpointKeyError`` when the signing or a trusted key cannot be
    read. Limitation: events recorded after the newest checkpoint are covered by the chain
    alone, so deleting only them goes unseen; checkpoints every ``LOUPE_AUDIT_CHECKPOINT_EVERY``
    events and ``LOUPE_AUDIT_CHECKPOINT_MINUTES`` minutes (and ``manage.py audit_checkpoint``
    from cron) bound that window.
    """
    return audit_findings_against(production=production, external=checkpoints.external_records())


def audit_findings_against(*, production: Production, external: list[dict] | None) -> list[AuditFinding]:
    """``audit_findings`` with the external copy's records already read (``verify_audit`` reads
    the file once for every production)."""
    events = list(AuditEvent.objects.filter(production=production).order_by("id"))
    findings = _chain_findings(events) + _checkpoint_findings(production, events, external)
    if external is not None:
        findings += [AuditFinding(0, "", "external copy damaged", f"line {record['unreadable']} is not a checkpoint record")
                     for record in external if "unreadable" in record]
    return findings


def audit_orphan_checkpoints(*, external: list[dict]) -> list[checkpoints.CheckpointClaim]:
    """Productions the external copy has checkpoints of that are not in the database (by id and
    creation time: deleted, or their identity changed, to hide their trail): the newest claim
    of each."""
    known = {(pk, created.isoformat()) for pk, created in Production.objects.values_list("pk", "created_at")}
    newest = {}
    for record in external:
        claim = _claim_of(record)
        if claim is not None and (claim.production_id, claim.production_created_at) not in known:
            key = (claim.production_id, claim.production_created_at)
            if key not in newest or claim.event_id > newest[key].event_id:
                newest[key] = claim
    return list(newest.values())


def audit_verify(*, production: Production) -> list[int]:
    """The ids of ``production``'s events where the trail is broken (see ``audit_findings``);
    empty when the trail is intact."""
    return [finding.event_id for finding in audit_findings(production=production)]

"""Signed checkpoints make the audit trail hold against an insider with the database: a
superuser who switches the append-only triggers off and has read the code can delete the newest
events or re-chain the trail after an edit, and ``verify_audit`` still names what was done,
because the chain head is signed with a key outside the database and copied outside it."""
import io
import json

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.db import transaction

from reviews import checkpoints
from reviews.models import AuditCheckpoint, AuditEvent
from reviews.services.audit import (
    _expected_hash,
    audit_checkpoint,
    audit_findings,
    audit_record,
)

from .audit_helpers import audit_trigger_disabled, verify

pytestmark = pytest.mark.django_db

EVENTS = 12
EVERY = 4  # checkpoints at events 1, 5 and 9 of the 12


@pytest.fixture
def trail(settings, tmp_path, django_capture_on_commit_callbacks):
    """A production whose trail has 12 events, signed every 4 (and its external copy written,
    as after each commit). Returns the production and its events in order."""
    from reviews.services.productions import production_create

    settings.LOUPE_AUDIT_CHECKPOINT_LOG = tmp_path / "checkpoints.jsonl"
    settings.LOUPE_AUDIT_CHECKPOINT_EVERY = EVERY
    for number in range(EVENTS):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            if number == 0:
                production = production_create(code="SIGNED", name="Signed trail", actor=None)
            else:
                audit_record(production=production, actor=None, action="note.add", target=production,
                             payload={"text": f"note {number}"})
    return production, list(AuditEvent.objects.filter(production=production).order_by("id"))


def problems(production) -> list[tuple[int, str]]:
    return [(finding.event_id, finding.problem) for finding in audit_findings(production=production)]




def test_checkpoints_are_signed_every_n_events_and_copied_outside(trail, settings):
    production, events = trail
    signed = list(production.audit_checkpoints.values_list("event_id", "event_count"))
    assert signed == [(events[0].pk, 1), (events[4].pk, 5), (events[8].pk, 9)]
    outside = [json.loads(line) for line in settings.LOUPE_AUDIT_CHECKPOINT_LOG.read_text().splitlines()]
    assert [(record["event_id"], record["event_count"]) for record in outside] == signed
    assert problems(production) == []
    code, out = verify("--production", "SIGNED")
    assert (code, out) == (0, f"ok SIGNED: {EVENTS} events, chain intact, 3 signed checkpoints\n")


def test_tail_truncation_is_named(trail):
    """Deleting the newest events leaves a shorter chain that adds up; the checkpoint at event
    9 (signed, and outside the database) says the trail went further."""
    production, events = trail
    with audit_trigger_disabled():
        AuditEvent.objects.filter(pk__gte=events[7].pk).delete()
    assert problems(production) == [(events[8].pk, "truncated")]
    code, out = verify("--production", "SIGNED")
    assert code == 1
    assert f"event {events[8].pk}: truncated" in out and f"the trail ends at event {events[6].pk} (7 events)" in out


def test_after_a_restore_the_external_copy_is_left_out_on_request(trail):
    """A database restored from a backup ends where the backup did, and the external copy goes
    on: ``--without-external-copy`` checks the chain and the restored checkpoints alone."""
    production, events = trail
    with audit_trigger_disabled():  # the backup was taken after event 8
        AuditEvent.objects.filter(pk__gte=events[8].pk).delete()
        AuditCheckpoint.objects.filter(production=production, event_id__gte=events[8].pk).delete()
    assert verify("--production", "SIGNED", "--without-external-copy")[0] == 0
    code, out = verify("--production", "SIGNED")
    assert code == 1 and f"event {events[8].pk}: truncated" in out


def test_truncation_with_the_database_s_checkpoints_deleted_too_is_named(trail):
    production, events = trail
    with audit_trigger_disabled():
        AuditEvent.objects.filter(pk__gte=events[7].pk).delete()
        AuditCheckpoint.objects.filter(production=production, event_id__gte=events[7].pk).delete()
    assert problems(production) == [(events[8].pk, "checkpoint deleted"), (events[8].pk, "truncated")]


def test_edit_with_every_later_hash_rechained_is_named(trail):
    """The attacker edits event 3 and recomputes every later hash by the code's own recipe: the
    chain is whole again, but event 5's hash is not the one its checkpoint signed."""
    production, events = trail
    with audit_trigger_disabled():
        previous_hash = events[1].hash
        for event in events[2:]:
            if event == events[2]:
                event.payload = {"text": "a note nobody wrote"}
            event.previous_hash = previous_hash
            event.hash = _expected_hash(event)
            AuditEvent.objects.filter(pk=event.pk).update(payload=event.payload, previous_hash=event.previous_hash,
                                                           hash=event.hash)
            previous_hash = event.hash
    found = audit_findings(production=production)
    assert [(finding.event_id, finding.problem) for finding in found] == [
        (events[4].pk, "rechained"), (events[8].pk, "rechained")]
    assert f"after {events[0].pk} and up to {events[4].pk}" in found[0].detail
    assert verify("--production", "SIGNED")[0] == 1


def test_edited_and_deleted_middle_events_are_still_named(trail):
    production, events = trail
    with audit_trigger_disabled():
        AuditEvent.objects.filter(pk=events[2].pk).update(payload={"text": "changed"})
        AuditEvent.objects.filter(pk=events[6].pk).delete()
    assert problems(production) == [(events[2].pk, "edited"), (events[7].pk, "removed"), (events[8].pk, "removed")]


def test_a_forged_checkpoint_is_named(trail, tmp_path):
    """A checkpoint signed by a key the portal does not trust (the attacker's own), claiming a
    shorter trail, is named — in the database and in the external copy alike."""
    production, events = trail
    forger = checkpoints._signing_key(str(tmp_path / "attacker.pem"))
    claim = checkpoints.CheckpointClaim(production.pk, production.created_at.isoformat(), events[10].pk,
                                        events[10].hash, 11, "2026-12-07T12:00:00+00:00")
    AuditCheckpoint.objects.create(production=production, event_id=claim.event_id, event_hash=claim.event_hash,
                                   event_count=claim.event_count, signed_at=claim.signed_at,
                                   key_id=checkpoints.key_id(forger.public_key()),
                                   signature=checkpoints.base64.b64encode(forger.sign(claim.message())).decode())
    checkpoints.external_append(dict(claim.__dict__, key_id="0" * 16, signature="not a signature"))
    assert problems(production) == [(events[10].pk, "checkpoint forged"), (events[10].pk, "checkpoint forged")]


def test_a_retired_key_s_checkpoints_still_verify_after_rotation(trail, settings, tmp_path):
    production, events = trail
    retired = tmp_path / "retired.pub"
    retired.write_bytes(checkpoints.signing_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    settings.LOUPE_AUDIT_SIGNING_KEY = tmp_path / "new-signing-key.pem"
    assert {finding.problem for finding in audit_findings(production=production)} == {"checkpoint forged"}
    settings.LOUPE_AUDIT_TRUSTED_KEYS = [str(retired)]
    with transaction.atomic():
        assert audit_checkpoint(production=production).event_id == events[-1].pk  # signed by the new key
    assert problems(production) == []


def test_a_production_deleted_to_hide_its_trail_is_named(trail):
    production, events = trail
    hidden = production.pk
    with audit_trigger_disabled():
        AuditCheckpoint.objects.filter(production=production).delete()
        AuditEvent.objects.filter(production=production).delete()
        production.memberships.all().delete()
        production.delete()
    code, out = verify()
    assert code == 1
    assert out.endswith(f"BROKEN: the external copy has checkpoints of production {hidden} (created "
                        f"{production.created_at.isoformat()}) up to event {events[8].pk}, and no such production "
                        "is in the database\n")


def test_the_cron_command_signs_the_unsigned_head_once(trail):
    _, events = trail
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert out.getvalue() == f"signed SIGNED at event {events[-1].pk} ({EVENTS} events)\n"
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert out.getvalue() == ""

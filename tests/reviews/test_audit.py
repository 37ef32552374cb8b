"""The audit trail is hash-chained and append-only: an edited, removed or reordered event is
found and named by ``verify_audit``; on PostgreSQL a trigger refuses UPDATE and DELETE."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from reviews.models import AuditEvent
from reviews.services.audit import audit_findings, audit_verify

from .audit_helpers import audit_trigger_disabled, verify

pytestmark = pytest.mark.django_db




def trail(production) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(production=production).order_by("id"))


def test_intact_trail_verifies(production):
    events = trail(production)
    assert len(events) == 6  # the production and its five memberships
    assert events[1].previous_hash == events[0].hash
    assert audit_verify(production=production) == []
    code, out = verify("--production", "TEST")
    assert code == 0 and out.endswith("ok TEST: 6 events, chain intact, 1 signed checkpoint\n")


def test_edited_event_is_named(production):
    events = trail(production)
    with audit_trigger_disabled():
        AuditEvent.objects.filter(pk=events[2].pk).update(payload={"user": "someone-else", "role": "director"})
    assert audit_verify(production=production) == [events[2].pk]
    code, out = verify("--production", "TEST")
    assert code == 1
    assert f"event {events[2].pk} (membership.add): edited" in out


def test_removed_event_is_named(production):
    events = trail(production)
    with audit_trigger_disabled():
        AuditEvent.objects.filter(pk=events[3].pk).delete()
    findings = audit_findings(production=production)
    assert [(f.event_id, f.problem) for f in findings] == [(events[4].pk, "removed")]
    code, out = verify()
    assert code == 1 and f"event {events[4].pk} (membership.add): removed" in out


def test_reordered_events_are_named(production):
    """Swapping two events' places (their ids) leaves each hash valid but the links crossed."""
    a, b = trail(production)[3:5]
    with audit_trigger_disabled():
        AuditEvent.objects.filter(pk=a.pk).update(id=-1)
        AuditEvent.objects.filter(pk=b.pk).update(id=a.pk)
        AuditEvent.objects.filter(pk=-1).update(id=b.pk)
    findings = audit_findings(production=production)
    assert {f.problem for f in findings} == {"reordered"}
    assert [f.event_id for f in findings] == [a.pk, b.pk, b.pk + 1]
    code, out = verify("--production", "TEST")
    assert code == 1 and f"event {a.pk} (membership.add): reordered" in out


def test_events_are_written_in_the_change_s_transaction(production, people):
    """A change that fails after its event was written takes the event with it."""
    from reviews.services.productions import membership_add

    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        membership_add(production=production, user=people["outsider"], role="artist", actor=people["supervisor"])
        assert AuditEvent.objects.count() == before + 1
        raise RuntimeError("the request failed after the change")
    assert AuditEvent.objects.count() == before
    assert not production.memberships.filter(user=people["outsider"]).exists()


def test_unknown_production_is_refused(production):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No production NOPE"):
        call_command("verify_audit", "--production", "NOPE")


def test_trigger_refuses_update_and_delete(production):
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    event = trail(production)[1]
    with pytest.raises(DatabaseError, match="append-only: UPDATE"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="membership.remove")
    with pytest.raises(DatabaseError, match="append-only: DELETE"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "membership.add"
    assert audit_verify(production=production) == []

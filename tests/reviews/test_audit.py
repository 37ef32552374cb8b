"""The audit trail is hash-chained: editing or deleting an event is detected."""
import pytest

from reviews.models import AuditEvent
from reviews.services.audit import audit_verify

pytestmark = pytest.mark.django_db


def test_chain_verifies_and_detects_tampering(production, people):
    events = list(AuditEvent.objects.filter(production=production).order_by("id"))
    assert len(events) >= 6  # the production and its five memberships
    assert audit_verify(production=production) == []
    assert events[1].previous_hash == events[0].hash

    AuditEvent.objects.filter(pk=events[2].pk).update(payload={"user": "someone-else"})
    assert audit_verify(production=production) == [events[2].pk]


def test_deleting_an_event_breaks_the_link(production):
    events = list(AuditEvent.objects.filter(production=production).order_by("id"))
    AuditEvent.objects.filter(pk=events[3].pk).delete()
    assert audit_verify(production=production) == [events[4].pk]

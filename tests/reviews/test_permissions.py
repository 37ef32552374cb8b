"""Only members see a production's proposals, and only its directors decide on them."""
import json

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from reviews.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from reviews.models import AuditEvent, ProposalStatus, ReviewDecision

from .helpers import websocket

pytestmark = pytest.mark.django_db(transaction=True)


def connect(path, user):
    socket = websocket(path, user)

    async def attempt():
        connected, code = await socket.connect()
        if connected:
            first = json.loads(await socket.receive_from())
            await socket.disconnect()
            return connected, first
        return connected, code

    return async_to_sync(attempt)()


def test_review_socket_refuses_non_members_and_anonymous(proposal, people):
    assert connect(f"/ws/review/{proposal.pk}/", people["outsider"]) == (False, CLOSE_FORBIDDEN)
    assert connect(f"/ws/review/{proposal.pk}/", None) == (False, CLOSE_UNAUTHENTICATED)
    connected, hello = connect(f"/ws/review/{proposal.pk}/", people["performer"])
    assert connected and hello["data"]["id"] == proposal.pk


def test_production_socket_refuses_non_members(production, people):
    assert connect(f"/ws/productions/{production.code}/", people["outsider"]) == (False, CLOSE_FORBIDDEN)


def decide(user, proposal, decision="approve", note=""):
    client = Client()
    client.force_login(user)
    return client.post(f"/api/productions/{proposal.production.code}/proposals/{proposal.pk}/decisions/",
                       {"decision": decision, "note": note}, content_type="application/json")


@pytest.mark.parametrize("role", ["artist", "supervisor", "producer", "performer"])
def test_only_a_director_approves(proposal, people, role):
    response = decide(people[role], proposal)
    assert response.status_code == 403
    assert "Only a director" in response.json()["detail"]
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.IN_REVIEW
    assert not ReviewDecision.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="proposal.approve").exists()


def test_non_member_cannot_tell_a_proposal_exists(proposal, people):
    response = decide(people["outsider"], proposal)
    assert response.status_code == 404


def test_reject_needs_a_note_and_a_decided_proposal_stays_decided(proposal, people):
    response = decide(people["director"], proposal, "reject")
    assert response.status_code == 400 and "note is required" in response.json()["detail"]
    assert decide(people["director"], proposal, "reject", "Too warm on the hands.").status_code == 201
    again = decide(people["director"], proposal, "approve")
    assert again.status_code == 409
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.REJECTED
    assert ReviewDecision.objects.filter(proposal=proposal).count() == 1

"""Director approval: only a director decides; a newer version supersedes the older ones still
awaiting a decision; two directors deciding at once make one decision (PostgreSQL row lock)."""
import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection

from reviews.errors import Conflict, NotAllowed
from reviews.models import AuditEvent, FixRequestStatus, Job, Proposal, ProposalStatus, ReviewDecision, Role
from reviews.worker.jobs import job_execute
from reviews.services.productions import membership_add
from reviews.services.proposals import proposal_decide


def next_version(fix_request, people) -> Proposal:
    """The fix request's next version, rendered by the real engine in this process."""
    job = Job.objects.create(production=fix_request.production, fix_request=fix_request,
                             frames_total=fix_request.duration_frames, created_by=people["artist"])
    return job_execute(job_id=job.pk, worker="test")


@pytest.mark.django_db
def test_only_a_director_decides_and_only_once(small_proposal, people):
    proposal = small_proposal
    for role in ("supervisor", "artist", "producer", "performer"):
        with pytest.raises(NotAllowed, match="Only a director of TEST"):
            proposal_decide(proposal=proposal, director=people[role], decision="approve")
    proposal_decide(proposal=proposal, director=people["director"], decision="approve")
    with pytest.raises(Conflict, match="is approved; it can no longer be marked rejected"):
        proposal_decide(proposal=proposal, director=people["director"], decision="reject", note="too warm")
    assert list(proposal.decisions.values_list("decision", flat=True)) == ["approve"]
    assert proposal.fix_request.__class__.objects.get(pk=proposal.fix_request_id).status == FixRequestStatus.APPROVED


@pytest.mark.django_db
def test_a_new_version_supersedes_the_older_one(small_proposal, people):
    proposal = small_proposal
    proposal_decide(proposal=proposal, director=people["director"], decision="request_changes",
                    note="Less saturation in the cups")
    v002 = next_version(proposal.fix_request, people)
    assert (v002.version_label, v002.status) == ("v002", ProposalStatus.IN_REVIEW)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.SUPERSEDED
    event = AuditEvent.objects.get(action="proposal.supersede")
    assert (event.target_id, event.payload) == (str(proposal.pk), {"version": "v001", "superseded_by": "v002"})
    with pytest.raises(Conflict, match="superseded"):
        proposal_decide(proposal=proposal, director=people["director"], decision="approve")
    # A decided version keeps its decision when another one comes.
    proposal_decide(proposal=v002, director=people["director"], decision="approve")
    v003 = next_version(proposal.fix_request, people)
    v002.refresh_from_db()
    assert (v002.status, v003.status) == (ProposalStatus.APPROVED, ProposalStatus.IN_REVIEW)


@pytest.mark.django_db(transaction=True)
def test_two_directors_deciding_at_once_make_one_decision(small_proposal, people):
    proposal = small_proposal
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises whole transactions")
    second = User.objects.create_user("director2")
    membership_add(production=proposal.production, user=second, role=Role.DIRECTOR, actor=None)
    barrier = threading.Barrier(2)
    outcomes = {}

    def decide(director, decision):
        try:
            mine = Proposal.objects.select_related("production").get(pk=proposal.pk)
            barrier.wait(timeout=120)  # a hang guard only
            proposal_decide(proposal=mine, director=director, decision=decision, note="From the race")
            outcomes[director.username] = "decided"
        except Conflict as error:
            outcomes[director.username] = f"conflict: {error}"
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(people["director"], "approve")),
               threading.Thread(target=decide, args=(second, "reject"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(o.split(":")[0] for o in outcomes.values()) == ["conflict", "decided"], outcomes
    decisions = list(ReviewDecision.objects.filter(proposal=proposal))
    assert len(decisions) == 1
    winner = decisions[0]
    assert outcomes[winner.director.username] == "decided"
    decided_events = AuditEvent.objects.filter(action__in=["proposal.approve", "proposal.reject"])
    assert [(e.action, e.actor_id) for e in decided_events] == [(f"proposal.{winner.decision}", winner.director_id)]
    proposal.refresh_from_db()
    assert proposal.status == {"approve": ProposalStatus.APPROVED, "reject": ProposalStatus.REJECTED}[winner.decision]

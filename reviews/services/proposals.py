"""Director decisions on proposals."""
from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz, events, states
from reviews.errors import ServiceError
from reviews.models import Decision, FixRequest, Proposal, ReviewDecision

from .audit import audit_record


def proposal_decide(*, proposal: Proposal, director: User, decision: str, note: str = "") -> ReviewDecision:
    """Record a director's ``decision`` (approve, reject, request_changes) on ``proposal`` and
    move it, and its fix request, to the matching status — with its audit event, in one
    transaction. The proposal row is locked, so two directors deciding at once produce one
    decision; the second gets ``Conflict``.

    Raises ``NotAllowed`` unless ``director`` is a director of the proposal's production;
    ``ServiceError`` for an unknown decision or a rejection / change request without a note.
    """
    production = proposal.production
    authz.require(director, production, authz.APPROVE_PROPOSAL)
    if decision not in Decision.values:
        raise ServiceError(f"Unknown decision {decision!r}; use one of {', '.join(Decision.values)}.")
    note = note.strip()
    if decision != Decision.APPROVE and not note:
        raise ServiceError("Say what is wrong or what to change: a note is required to reject or request changes.")
    proposal_status, fix_request_status = states.DECISION_OUTCOMES[decision]
    with transaction.atomic():
        locked = Proposal.objects.select_for_update().get(pk=proposal.pk, production=production)
        states.check_proposal_transition(locked.status, proposal_status)
        review_decision = ReviewDecision.objects.create(
            production=production, proposal=locked, director=director, decision=decision, note=note
        )
        locked.status = proposal_status
        locked.save(update_fields=["status"])
        FixRequest.objects.filter(pk=locked.fix_request_id).update(status=fix_request_status)
        audit_record(production=production, actor=director, action=f"proposal.{decision}", target=locked,
                     payload={"decision": review_decision.pk, "version": locked.version_label, "note": note})
        events.broadcast(events.proposal_group(locked.pk), "proposal.status",
                         {"id": locked.pk, "status": locked.status, "status_label": locked.get_status_display(),
                          "decided_by": director.get_full_name() or director.username, "note": note})
    proposal.status = locked.status
    return review_decision

"""Director decisions on proposals, superseding older versions, and finality."""
import datetime

from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz, events, selectors, states
from reviews.errors import Conflict, ServiceError
from reviews.models import Decision, FixRequest, Proposal, ProposalStatus, ReviewDecision

from .audit import audit_record


def broadcast_proposal_status(proposal: Proposal, actor: User | None, note: str = "") -> None:
    events.broadcast(events.proposal_group(proposal.pk), "proposal.status",
                     {"id": proposal.pk, "status": proposal.status, "status_label": proposal.get_status_display(),
                      "decided_by": (actor.get_full_name() or actor.username) if actor else "", "note": note})


def proposal_decide(*, proposal: Proposal, director: User, decision: str, note: str = "") -> ReviewDecision:
    """Record a director's ``decision`` (approve, reject, request_changes) on ``proposal`` and
    move it, and its fix request, to the matching status — with its audit event, in one
    transaction. The proposal row is locked, so two directors deciding at once produce one
    decision; the second gets ``Conflict``. An approval that makes the proposal final (no
    consent needed, or every affected performer has granted) also records ``proposal.final``.

    Raises ``NotAllowed`` unless ``director`` is a director of the proposal's production;
    ``ServiceError`` for an unknown decision or a rejection / change request without a note;
    ``Conflict`` when the proposal is decided already or superseded by a newer version.
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
        if decision == Decision.APPROVE:
            record_if_final(proposal=locked, actor=director)
        broadcast_proposal_status(locked, director, note)
    proposal.status = locked.status
    return review_decision


def proposal_supersede_older(*, proposal: Proposal) -> list[int]:
    """Mark the older versions of ``proposal``'s fix request that still await a decision (or
    answer a change request, or lost their approval) ``superseded``, each with its audit event.
    Runs inside the transaction that creates ``proposal``; returns the superseded ids."""
    older = list(Proposal.objects.select_for_update()
                 .filter(fix_request_id=proposal.fix_request_id, version__lt=proposal.version,
                         status__in=states.SUPERSEDED_BY_NEWER_VERSION).order_by("version"))
    for old in older:
        states.check_proposal_transition(old.status, ProposalStatus.SUPERSEDED)
        old.status = ProposalStatus.SUPERSEDED
        old.save(update_fields=["status"])
        audit_record(production=proposal.production, actor=None, action="proposal.supersede", target=old,
                     payload={"version": old.version_label, "superseded_by": proposal.version_label})
        broadcast_proposal_status(old, None)
    return [old.pk for old in older]


def proposal_is_final(proposal: Proposal, today: datetime.date | None = None) -> bool:
    """Whether ``proposal`` is final (see ``reviews.states``): approved, and consented to by
    every affected performer when it digitally alters a likeness or performance."""
    return states.proposal_is_final(status=proposal.status,
                                    standing=selectors.consent_standing_of(proposal.fix_request, today))


def proposal_require_final(*, proposal: Proposal) -> None:
    """Raise ``Conflict`` unless ``proposal`` may be delivered (it is final); the message says
    what is missing. Delivery calls this before rendering anything."""
    if proposal.status != ProposalStatus.APPROVED:
        raise Conflict(f"{proposal.version_label} is {proposal.get_status_display().lower()}, not approved; "
                       f"only an approved version is delivered.")
    standing = selectors.consent_standing_of(proposal.fix_request)
    if not states.proposal_is_final(status=proposal.status, standing=standing):
        who = ", ".join(standing.missing) or "the affected performers (none named yet)"
        raise Conflict(f"{proposal.version_label} digitally alters a performer's likeness or performance and "
                       f"awaits consent from {who}; it cannot be delivered until every one has granted.")


def record_if_final(*, proposal: Proposal, actor: User | None) -> bool:
    """Inside a change's transaction: if ``proposal`` has just become final, record
    ``proposal.final`` (the moment the AI-use disclosure register counts from). Returns whether it is."""
    standing = selectors.consent_standing_of(proposal.fix_request)
    if not states.proposal_is_final(status=proposal.status, standing=standing):
        return False
    audit_record(production=proposal.production, actor=actor, action="proposal.final", target=proposal,
                 payload={"version": proposal.version_label, "fix_request": proposal.fix_request_id,
                          "consent": [name for name, _ in standing.performers if name not in standing.missing]})
    return True

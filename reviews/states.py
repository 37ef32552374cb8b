"""The review state machine: the one place that says which status may follow which, when a
proposal is superseded, and when an approved proposal is final.

Proposal statuses::

    in_review ──director──▶ approved | changes_requested | rejected
    in_review, changes_requested, withdrawn ──a newer version of the fix request──▶ superseded
    approved ──an affected performer revokes consent──▶ withdrawn ──director──▶ approved | …

A proposal is *final* (deliverable, in the AI-use disclosure register) when it is approved and,
if its fix request digitally alters a performer's likeness or performance, every affected
performer has granted consent that has not expired.
"""
import datetime

from .errors import Conflict
from .models import Alteration, ConsentStatus, Decision, FixRequestStatus, ProposalStatus

_DECIDED = frozenset({ProposalStatus.APPROVED, ProposalStatus.CHANGES_REQUESTED, ProposalStatus.REJECTED})

PROPOSAL_TRANSITIONS: dict[str, frozenset[str]] = {
    ProposalStatus.IN_REVIEW: _DECIDED | {ProposalStatus.SUPERSEDED},
    ProposalStatus.APPROVED: frozenset({ProposalStatus.WITHDRAWN}),
    ProposalStatus.CHANGES_REQUESTED: frozenset({ProposalStatus.SUPERSEDED}),
    ProposalStatus.REJECTED: frozenset(),
    ProposalStatus.SUPERSEDED: frozenset(),
    ProposalStatus.WITHDRAWN: _DECIDED | {ProposalStatus.SUPERSEDED},
}

#: Statuses a newer version of the same fix request supersedes: the ones still awaiting, or
#: answered by, the next version. Approved and rejected versions keep their decision.
SUPERSEDED_BY_NEWER_VERSION = frozenset(
    {ProposalStatus.IN_REVIEW, ProposalStatus.CHANGES_REQUESTED, ProposalStatus.WITHDRAWN})

# What a director's decision makes of the proposal, and of its fix request.
DECISION_OUTCOMES: dict[str, tuple[str, str]] = {
    Decision.APPROVE: (ProposalStatus.APPROVED, FixRequestStatus.APPROVED),
    Decision.REQUEST_CHANGES: (ProposalStatus.CHANGES_REQUESTED, FixRequestStatus.IN_PROGRESS),
    Decision.REJECT: (ProposalStatus.REJECTED, FixRequestStatus.REJECTED),
}

#: The fix request's status once consent revocation has withdrawn its approved version.
WITHDRAWN_FIX_REQUEST_STATUS = FixRequestStatus.IN_REVIEW


def check_proposal_transition(current: str, new: str) -> None:
    """Raise ``Conflict`` if a proposal may not move from ``current`` to ``new``."""
    if new not in PROPOSAL_TRANSITIONS[current]:
        raise Conflict(
            f"This proposal is {ProposalStatus(current).label.lower()}; it can no longer be "
            f"marked {ProposalStatus(new).label.lower()}. Review the latest version instead."
        )


def alteration_rank(alteration: str) -> int:
    """0 for a routine alteration, 1 for a digital alteration: raising goes up this scale."""
    return [choice.value for choice in Alteration].index(alteration)


def consent_is_valid(status: str, expires_on: datetime.date | None, today: datetime.date) -> bool:
    """A consent counts when it is granted and has not expired (it lapses on ``expires_on``)."""
    return status == ConsentStatus.GRANTED and (expires_on is None or today < expires_on)


def consent_needed(alteration: str) -> bool:
    return alteration == Alteration.DIGITAL_ALTERATION


def proposal_is_final(*, status: str, alteration: str, consents: list[tuple[str, datetime.date | None]],
                      performer_count: int, today: datetime.date) -> bool:
    """Whether an approved proposal is final: approved, and — for a digital alteration —
    one valid consent per affected performer (``consents``: (status, expires_on) of the fix
    request's consent requests; ``performer_count``: the affected performers)."""
    if status != ProposalStatus.APPROVED:
        return False
    if not consent_needed(alteration):
        return True
    valid = sum(consent_is_valid(s, expires_on, today) for s, expires_on in consents)
    return performer_count > 0 and valid == performer_count


#: Consent answers: a performer may grant or deny a pending request, change a denial (or a
#: revoked consent) into a grant, and revoke a grant.
CONSENT_TRANSITIONS: dict[str, frozenset[str]] = {
    ConsentStatus.PENDING: frozenset({ConsentStatus.GRANTED, ConsentStatus.DENIED}),
    ConsentStatus.GRANTED: frozenset({ConsentStatus.REVOKED}),
    ConsentStatus.DENIED: frozenset({ConsentStatus.GRANTED}),
    ConsentStatus.REVOKED: frozenset({ConsentStatus.GRANTED}),
}


def check_consent_transition(current: str, new: str) -> None:
    """Raise ``Conflict`` if a consent request may not move from ``current`` to ``new``."""
    if new not in CONSENT_TRANSITIONS[current]:
        raise Conflict(f"This consent is {ConsentStatus(current).label.lower()}; it cannot be "
                       f"{ConsentStatus(new).label.lower()} now.")

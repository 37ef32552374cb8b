"""The review state machine: the one place that says which status may follow which."""
from .errors import Conflict
from .models import Decision, FixRequestStatus, ProposalStatus

PROPOSAL_TRANSITIONS: dict[str, frozenset[str]] = {
    ProposalStatus.IN_REVIEW: frozenset(
        {ProposalStatus.APPROVED, ProposalStatus.CHANGES_REQUESTED, ProposalStatus.REJECTED}
    ),
    ProposalStatus.APPROVED: frozenset(),
    ProposalStatus.CHANGES_REQUESTED: frozenset(),
    ProposalStatus.REJECTED: frozenset(),
}

# What a director's decision makes of the proposal, and of its fix request.
DECISION_OUTCOMES: dict[str, tuple[str, str]] = {
    Decision.APPROVE: (ProposalStatus.APPROVED, FixRequestStatus.APPROVED),
    Decision.REQUEST_CHANGES: (ProposalStatus.CHANGES_REQUESTED, FixRequestStatus.IN_PROGRESS),
    Decision.REJECT: (ProposalStatus.REJECTED, FixRequestStatus.REJECTED),
}


def check_proposal_transition(current: str, new: str) -> None:
    """Raise ``Conflict`` if a proposal may not move from ``current`` to ``new``."""
    if new not in PROPOSAL_TRANSITIONS[current]:
        raise Conflict(
            f"This proposal is {ProposalStatus(current).label.lower()}; it can no longer be "
            f"marked {ProposalStatus(new).label.lower()}. Review the latest version instead."
        )

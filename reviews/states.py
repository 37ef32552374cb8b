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
from dataclasses import dataclass

from .errors import Conflict
from .models import Alteration, ConsentStatus, Decision, FixKind, FixRequestStatus, ProposalStatus

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


# Guild classification by fix kind and region (PRODUCT.md glossary; SAG-AFTRA 2023): the one rule.
#: Colour, light, a check that changes no pixel, and a reframe (a punch-in changes the framing
#: of the take as shot, not what a performer does in it): routine whatever the region covers. A
#: reframe that does alter a performance (a cut-in that changes what a reaction reads as) is
#: classified by a supervisor by hand, with a written reason, like any fix.
ROUTINE_KINDS = frozenset({FixKind.COLOR_MATCH, FixKind.LOOK_TRANSFER, FixKind.RELIGHT, FixKind.CONTINUITY_CHECK,
                           FixKind.REFRAME})
#: Removal, replacement or rebuilding of what the region covers: routine for things that are not a
#: performer (a prop, a background); a digital alteration when the region overlaps a performer.
REGION_KINDS = frozenset({FixKind.OBJECT_REMOVAL, FixKind.CLEAN_PLATE, FixKind.BACKGROUND_REPLACE,
                          FixKind.FRAME_REBUILD})
#: Face or body retouching and performance retiming would be digital alterations by kind; the
#: portal offers none yet (a supervisor classifies such work by hand).
ALTERING_KINDS: frozenset[str] = frozenset()


def classify(*, kind: str, overlaps_performer: bool) -> str:
    """The classification a fix of ``kind`` gets from what it is and where it works:
    ``overlaps_performer`` is whether its region overlaps a performer (likeness screening
    found a face inside it). Colour and relight stay routine even over a face; removal or
    replacement becomes a digital alteration only over a performer."""
    if kind in ALTERING_KINDS or (kind in REGION_KINDS and overlaps_performer):
        return Alteration.DIGITAL_ALTERATION
    return Alteration.ROUTINE


def screening_may_raise(kind: str) -> bool:
    """Whether likeness screening (a face in the region) can raise a fix of ``kind``."""
    return classify(kind=kind, overlaps_performer=True) != classify(kind=kind, overlaps_performer=False)


@dataclass(frozen=True)
class ConsentStanding:
    """Where a fix request stands with guild consent — what the consent report, the disclosure
    register and the proposal page all say. ``key``: ``not_needed`` | ``name_performers`` |
    ``awaiting`` | ``refused`` | ``granted``; ``performers``: (name, status label) of each affected
    performer; ``missing``: names without a valid consent."""

    key: str
    performers: tuple[tuple[str, str], ...]
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Nothing stands between an approval and finality."""
        return self.key in ("not_needed", "granted")

    @property
    def label(self) -> str:
        who = ", ".join(self.missing)
        return {"not_needed": "Not needed: routine post-production",
                "name_performers": "No performer named: the supervisor must name the performers",
                "awaiting": f"Awaiting consent from {who}",
                "refused": f"Not consented: {who}",
                "granted": "Every affected performer has consented"}[self.key]


def consent_standing(*, alteration: str, performers: list[str],
                     consents: dict[str, tuple[str, datetime.date | None]],
                     today: datetime.date) -> ConsentStanding:
    """The consent standing of a fix request classified ``alteration`` affecting
    ``performers`` (names), given ``consents`` (performer name → (status, expires_on)) of its
    consent requests. Consents of performers no longer named do not count."""
    rows, missing, refused = [], [], False
    for name in sorted(performers):
        status, expires_on = consents.get(name, (ConsentStatus.PENDING, None))
        valid = consent_is_valid(status, expires_on, today)
        label = "Expired" if status == ConsentStatus.GRANTED and not valid else ConsentStatus(status).label
        rows.append((name, label))
        if not valid:
            missing.append(name)
            refused = refused or status != ConsentStatus.PENDING
    if not consent_needed(alteration):
        key = "not_needed"
    elif not performers:
        key = "name_performers"
    elif not missing:
        key = "granted"
    else:
        key = "refused" if refused else "awaiting"
    return ConsentStanding(key, tuple(rows), tuple(missing))


def proposal_is_final(*, status: str, standing: ConsentStanding) -> bool:
    """Whether a proposal is final: approved, and its fix request's consent complete (not
    needed, or granted by every affected performer — never with no performer named)."""
    return status == ProposalStatus.APPROVED and standing.complete


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

"""Guild consent: classifying fix requests (routine alteration or digital alteration of a
performer's likeness or performance, SAG-AFTRA 2023) and the performers' answers to consent
requests. The engine's likeness screening runs on a worker (``reviews.worker.likeness``)."""
from __future__ import annotations

import datetime
import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from reviews import authz, states
from reviews.errors import NotAllowed, ServiceError
from reviews.fixes import fix_spec
from reviews.models import Alteration, ConsentRequest, ConsentStatus, FixRequest, Performer, Proposal, ProposalStatus
from reviews.timecode import frame_timecode

from .audit import audit_record
from .proposals import broadcast_proposal_status, record_if_final

logger = logging.getLogger(__name__)


def consent_description(fix_request: FixRequest) -> str:
    """The reasonably specific description of the use a performer is asked to consent to:
    production, shot, frames (and timecode), the fix and its method, what changes, and where
    to watch the latest version."""
    shot = fix_request.shot
    clip = shot.clip
    first = frame_timecode(start_timecode=clip.start_timecode, frame_rate=clip.frame_rate, frame=fix_request.frame_in)
    last = frame_timecode(start_timecode=clip.start_timecode, frame_rate=clip.frame_rate,
                          frame=fix_request.frame_out - 1)
    latest = fix_request.proposals.order_by("-version").first()
    watch = (f"Watch it: {reverse('frontend:review', args=[latest.pk])} ({latest.version_label})." if latest
             else "A link to watch it appears on your consent page once a version is rendered.")
    changes = fix_request.description.strip() or "the whole frame, as the method above describes"
    return (f"Production {fix_request.production.code} ({fix_request.production.name}), shot {shot.code}, "
            f"frames {fix_request.frame_in}–{fix_request.frame_out - 1} ({first}–{last}, "
            f"{fix_request.duration_frames} frames). Fix: {fix_request.get_kind_display()} — "
            f"{fix_spec(fix_request.kind).method}. What changes: {changes}. {watch}")


def _ensure_consent_requests(fix_request: FixRequest) -> list[ConsentRequest]:
    """A pending consent request for every affected performer that has none yet (inside the
    classification's transaction), each audited."""
    made = []
    have = set(fix_request.consent_requests.values_list("performer_id", flat=True))
    for performer in fix_request.performers.exclude(pk__in=have).order_by("name"):
        consent = ConsentRequest.objects.create(production=fix_request.production, fix_request=fix_request,
                                                performer=performer, description=consent_description(fix_request))
        audit_record(production=fix_request.production, actor=None, action="consent.request", target=consent,
                     payload={"performer": performer.name, "fix_request": fix_request.pk,
                              "shot": fix_request.shot.code})
        made.append(consent)
    return made


def fix_request_classify(*, fix_request: FixRequest, actor: User, alteration: str,
                         performers: list[Performer], reason: str = "") -> FixRequest:
    """The supervisor classifies ``fix_request`` and names the performers it affects.

    A digital alteration needs at least one performer; each gets a pending consent request
    (with a description filled from the fix). Lowering the classification (digital → routine)
    needs a written ``reason``, kept on the fix request and in the audit event. All in one
    transaction, the fix request row locked.

    Raises ``NotAllowed`` unless ``actor`` is a supervisor of the production; ``ServiceError``
    for an unknown classification, performers of another production, a digital alteration
    without performers, or a lowering without a reason.
    """
    production = fix_request.production
    authz.require(actor, production, authz.CLASSIFY_FIX_REQUEST)
    if alteration not in Alteration.values:
        raise ServiceError(f"Unknown classification {alteration!r}; use one of {', '.join(Alteration.values)}.")
    if any(p.production_id != production.pk for p in performers):
        raise ServiceError("Every performer named must be one of this production's performers.")
    if alteration == Alteration.DIGITAL_ALTERATION and not performers:
        raise ServiceError("Name the performers whose likeness or performance this fix alters: "
                           "each is asked for consent.")
    reason = reason.strip()
    with transaction.atomic():
        locked = FixRequest.objects.select_for_update().select_related("shot__clip", "production").get(
            pk=fix_request.pk, production=production)
        lowered = states.alteration_rank(alteration) < states.alteration_rank(locked.alteration)
        if lowered and not reason:
            raise ServiceError("Lowering the classification to a routine alteration needs your written reason "
                               "(why this fix does not alter a performer's likeness or performance).")
        previous = locked.alteration
        locked.alteration = alteration
        if lowered:
            locked.alteration_reason = reason
        locked.save(update_fields=["alteration", "alteration_reason"])
        locked.performers.set(performers)
        audit_record(production=production, actor=actor, action="fix_request.classify", target=locked,
                     payload={"from": previous, "to": alteration, "lowered": lowered, "reason": reason,
                              "performers": sorted(p.name for p in performers),
                              "engine_flagged": bool(locked.likeness_screening.get("flagged"))})
        if states.consent_needed(alteration):
            _ensure_consent_requests(locked)
    fix_request.refresh_from_db()
    return fix_request


def _check_answerer(consent: ConsentRequest, actor: User) -> None:
    authz.require(actor, consent.production, authz.ANSWER_CONSENT)
    performer = consent.performer
    if actor.pk not in (performer.user_id, performer.representative_id):
        raise NotAllowed(f"Only {performer.name} or their representative may answer this consent request.")


def consent_answer(*, consent_request: ConsentRequest, actor: User, grant: bool, scope: str = "",
                   expires_on: datetime.date | None = None) -> ConsentRequest:
    """The performer (or their representative) grants or denies ``consent_request``.

    A grant needs a ``scope`` (the use consented to, in the performer's words) and may carry
    ``expires_on`` (a future date; consent lapses at its start). A grant that completes the
    consent of an approved proposal makes it final (``proposal.final`` audited). One
    transaction, the consent row locked.

    Raises ``NotAllowed`` unless ``actor`` holds the performer role and is the performer or
    their representative; ``ServiceError`` for a grant without scope or an expiry not in the
    future; ``Conflict`` when the consent's status does not allow the answer.
    """
    _check_answerer(consent_request, actor)
    scope = scope.strip()
    if grant and not scope:
        raise ServiceError("Say what you consent to (the scope), e.g. 'this shot and these frames only'.")
    today = timezone.now().date()
    if expires_on is not None and expires_on <= today:
        raise ServiceError(f"An expiry date must be after today ({today.isoformat()}).")
    new = ConsentStatus.GRANTED if grant else ConsentStatus.DENIED
    with transaction.atomic():
        locked = ConsentRequest.objects.select_for_update().select_related("performer", "production").get(
            pk=consent_request.pk)
        states.check_consent_transition(locked.status, new)
        locked.status = new
        locked.scope = scope if grant else ""
        locked.expires_on = expires_on if grant else None
        locked.answered_by = actor
        locked.answered_at = timezone.now()
        locked.save(update_fields=["status", "scope", "expires_on", "answered_by", "answered_at"])
        audit_record(production=locked.production, actor=actor, action=f"consent.{'grant' if grant else 'deny'}",
                     target=locked, payload={"performer": locked.performer.name, "fix_request": locked.fix_request_id,
                                             "scope": locked.scope,
                                             "expires_on": expires_on.isoformat() if expires_on else None})
        if grant:
            for proposal in Proposal.objects.select_for_update().filter(fix_request_id=locked.fix_request_id,
                                                                        status=ProposalStatus.APPROVED):
                record_if_final(proposal=proposal, actor=actor)
    consent_request.refresh_from_db()
    return consent_request


def consent_revoke(*, consent_request: ConsentRequest, actor: User, reason: str = "") -> ConsentRequest:
    """The performer (or their representative) revokes a granted consent. When the fix request
    is a digital alteration, every approved version of it loses its approval (status ``withdrawn``, the fix request back
    in review) and so cannot be delivered; the revocation and each withdrawal are audited, in
    one transaction.

    Raises ``NotAllowed`` as ``consent_answer``; ``Conflict`` unless the consent is granted.
    """
    _check_answerer(consent_request, actor)
    with transaction.atomic():
        locked = ConsentRequest.objects.select_for_update().select_related("performer", "production").get(
            pk=consent_request.pk)
        states.check_consent_transition(locked.status, ConsentStatus.REVOKED)
        locked.status = ConsentStatus.REVOKED
        locked.answered_by = actor
        locked.answered_at = timezone.now()
        locked.save(update_fields=["status", "answered_by", "answered_at"])
        audit_record(production=locked.production, actor=actor, action="consent.revoke", target=locked,
                     payload={"performer": locked.performer.name, "fix_request": locked.fix_request_id,
                              "reason": reason.strip()})
        # A consent the classification does not need (a routine fix) holds no approval up.
        needed = states.consent_needed(locked.fix_request.alteration)
        withdrawn = Proposal.objects.select_for_update().filter(fix_request_id=locked.fix_request_id,
                                                                status=ProposalStatus.APPROVED) if needed else []
        for proposal in withdrawn:
            states.check_proposal_transition(proposal.status, ProposalStatus.WITHDRAWN)
            proposal.status = ProposalStatus.WITHDRAWN
            proposal.save(update_fields=["status"])
            FixRequest.objects.filter(pk=locked.fix_request_id).update(status=states.WITHDRAWN_FIX_REQUEST_STATUS)
            audit_record(production=locked.production, actor=actor, action="proposal.approval_withdrawn",
                         target=proposal, payload={"version": proposal.version_label,
                                                   "performer": locked.performer.name, "consent": locked.pk})
            broadcast_proposal_status(proposal, actor, f"Consent revoked by {locked.performer.name}")
    consent_request.refresh_from_db()
    return consent_request

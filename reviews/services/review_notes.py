"""Review notes: written on one frame of a proposal in the review room, threaded by replies."""
from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz, events
from reviews.errors import ServiceError
from reviews.models import Proposal, ReviewNote
from reviews.timecode import frame_timecode

from .annotations import check_frame, person_name
from .audit import audit_record

MAX_TEXT = 5000


def review_note_payload(note: ReviewNote, *, clip) -> dict:
    """What the review room is told about a note (``note`` events, the room snapshot); ``clip``
    is the proposal's clip, for the note's timecode."""
    return {
        "id": note.pk,
        "proposal": note.proposal_id,
        "frame": note.frame,
        "timecode": frame_timecode(start_timecode=clip.start_timecode, frame_rate=clip.frame_rate, frame=note.frame),
        "parent": note.parent_id,
        "text": note.text,
        "author": person_name(note.author),
        "created_at": note.created_at.isoformat(),
    }


def review_note_create(*, proposal: Proposal, author: User, frame: int, text: str,
                       parent: ReviewNote | None = None) -> ReviewNote:
    """A note on ``frame`` of ``proposal``; with ``parent``, a reply in that note's thread (on the
    parent's frame — ``frame`` must match it). Audited as ``review_note.create`` and sent, on
    commit, to the review room of the proposal's fix request.

    Raises ``NotAllowed`` unless ``author`` may write review notes in the production;
    ``ServiceError`` for an empty or overlong text, a frame outside the proposal, or a parent
    that is not a note of this proposal on this frame.
    """
    authz.require(author, proposal.production, authz.WRITE_REVIEW_NOTE)
    return review_note_save(proposal=proposal, author=author, frame=frame, text=text, parent=parent)


def review_note_save(*, proposal: Proposal, author: User, frame: int, text: str,
                     parent: ReviewNote | None = None) -> ReviewNote:
    """The checks and the saving of :func:`review_note_create` once the caller has established
    that ``author`` may write here (a member's role, or a guest's live share link:
    ``reviews.services.share_links``). Raises ``ServiceError`` as that function does."""
    production = proposal.production
    frame = check_frame(proposal, frame)
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise ServiceError("Write the note first: its text is empty.")
    if len(text) > MAX_TEXT:
        raise ServiceError(f"A note is limited to {MAX_TEXT} characters.")
    if parent is not None and (parent.proposal_id != proposal.pk or parent.frame != frame):
        raise ServiceError("A reply belongs to a note of the same version and frame.")
    with transaction.atomic():
        note = ReviewNote.objects.create(production=production, proposal=proposal, frame=frame, text=text,
                                         parent=parent, author=author)
        audit_record(production=production, actor=author, action="review_note.create", target=note,
                     payload={"proposal": proposal.pk, "frame": frame, "parent": parent.pk if parent else None})
        events.broadcast(events.room_group(proposal.fix_request_id), "note",
                         review_note_payload(note, clip=proposal.fix_request.shot.clip))
    return note

"""The summary of a dailies session, for editorial and the artists: every item of a playlist
with its decision, and its notes with timecode and a thumbnail of the annotated frame (the
version's review picture with that frame's drawings on it). One builder serves the page, the
CSV and the PDF (``frontend.exports``). Reads only.
"""
import datetime
from dataclasses import dataclass, field

import cv2
import numpy as np
from django.utils import timezone

from .media import review_frame_path
from .models import Annotation, AnnotationKind, Playlist, Proposal, ReviewDecision, ReviewNote
from .reports import Report
from .services.annotations import person_name
from .timecode import frame_timecode

#: Width of a note's thumbnail, in pixels (the review picture is scaled down to it, area averaging).
THUMBNAIL_WIDTH = 320


@dataclass
class SummaryNote:
    id: int
    frame: int
    timecode: str
    author: str
    text: str
    reply_to: int | None
    drawings: int  # annotations on the note's frame


@dataclass
class SummaryItem:
    position: int  # from 1
    item_id: int
    proposal: Proposal
    shot: str
    fix: str
    version: str
    status: str
    decision: str  # the latest decision's label, "" when none was made
    decided_by: str
    decision_note: str
    decided_at: str
    notes: list[SummaryNote] = field(default_factory=list)


def _when(moment: datetime.datetime | None) -> str:
    return timezone.localtime(moment, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M") if moment else ""


def playlist_summary(playlist: Playlist) -> list[SummaryItem]:
    """The items of ``playlist`` in order, each with its latest decision and every note on the
    version (frame order, replies after the note they answer), a fixed number of queries."""
    items = list(playlist.items.select_related("proposal__fix_request__shot__clip").order_by("position"))
    proposals = [item.proposal for item in items]
    decisions: dict[int, ReviewDecision] = {}
    for decision in ReviewDecision.objects.filter(proposal__in=proposals).select_related("director").order_by(
            "created_at", "id"):
        decisions[decision.proposal_id] = decision
    drawings: dict[tuple[int, int], int] = {}
    for proposal_id, frame in Annotation.objects.filter(proposal__in=proposals).values_list("proposal_id", "frame"):
        drawings[proposal_id, frame] = drawings.get((proposal_id, frame), 0) + 1
    notes: dict[int, list[ReviewNote]] = {}
    for note in ReviewNote.objects.filter(proposal__in=proposals).select_related("author").order_by(
            "frame", "created_at", "id"):
        notes.setdefault(note.proposal_id, []).append(note)
    summary = []
    for item in items:
        proposal = item.proposal
        fix = proposal.fix_request
        clip = fix.shot.clip
        decision = decisions.get(proposal.pk)
        summary.append(SummaryItem(
            position=item.position + 1, item_id=item.pk, proposal=proposal, shot=fix.shot.code,
            fix=fix.get_kind_display(), version=proposal.version_label, status=proposal.get_status_display(),
            decision=decision.get_decision_display() if decision else "",
            decided_by=person_name(decision.director) if decision else "",
            decision_note=decision.note if decision else "", decided_at=_when(decision.created_at if decision else None),
            notes=[SummaryNote(id=note.pk, frame=note.frame, author=person_name(note.author), text=note.text,
                               timecode=frame_timecode(start_timecode=clip.start_timecode,
                                                       frame_rate=clip.frame_rate, frame=note.frame),
                               reply_to=note.parent_id, drawings=drawings.get((proposal.pk, note.frame), 0))
                   for note in notes.get(proposal.pk, [])]))
    return summary


SUMMARY_COLUMNS = ["Item", "Shot", "Fix", "Version", "Status", "Decision", "Decided by", "Decision note",
                   "Decided at (UTC)", "Note timecode", "Note frame", "Note by", "Note", "Reply to note",
                   "Drawings on frame"]


def summary_report(playlist: Playlist, summary: list[SummaryItem]) -> Report:
    """The summary as a ``Report``: one row per note (an item without notes: one row with its
    decision alone), for the CSV export."""
    rows = []
    for item in summary:
        head = [item.position, item.shot, item.fix, item.version, item.status, item.decision, item.decided_by,
                item.decision_note, item.decided_at]
        for note in item.notes or [None]:
            rows.append(head + ([note.timecode, note.frame, note.author, note.text, note.reply_to or "",
                                 note.drawings] if note else ["", "", "", "", "", ""]))
    decided = sum(1 for item in summary if item.decision)
    return Report(key="dailies", title=f"Dailies summary — {playlist.name}", columns=SUMMARY_COLUMNS, rows=rows,
                  summary=[("Items", str(len(summary))), ("Decided", f"{decided} of {len(summary)}"),
                           ("Notes", str(sum(len(item.notes) for item in summary)))])


def _bgr(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    if len(value) != 6:
        return (48, 59, 255)
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return (b, g, r)


def draw_annotations(image: np.ndarray, annotations: list[Annotation]) -> np.ndarray:
    """``image`` (uint8 [H, W, 3] BGR) with ``annotations`` drawn on it as the review room draws
    them: freehand strokes as polylines, arrows with their head, text at its anchor; points are
    normalised 0–1 picture coordinates. Returns a new array."""
    out = image.copy()
    height, width = out.shape[:2]
    thickness = max(1, round(width / 320))
    for annotation in annotations:
        points = np.array([[x * width, y * height] for x, y in annotation.points], dtype=np.float64)
        if not len(points):
            continue
        colour = _bgr(annotation.color)
        pixels = np.round(points).astype(np.int32)
        if annotation.kind == AnnotationKind.ARROW and len(pixels) >= 2:
            cv2.arrowedLine(out, tuple(map(int, pixels[0])), tuple(map(int, pixels[-1])), colour, thickness,
                            cv2.LINE_AA, tipLength=0.2)
        elif annotation.kind == AnnotationKind.TEXT:
            cv2.putText(out, annotation.text.encode("ascii", "replace").decode(), tuple(map(int, pixels[0])),
                        cv2.FONT_HERSHEY_SIMPLEX, max(0.4, width / 800), colour, thickness, cv2.LINE_AA)
        else:
            cv2.polylines(out, [pixels.reshape(-1, 1, 2)], False, colour, thickness, cv2.LINE_AA)
    return out


def annotated_frame_jpeg(proposal: Proposal, frame: int, *, width: int = THUMBNAIL_WIDTH) -> bytes:
    """A JPEG thumbnail, ``width`` pixels wide, of ``frame`` of ``proposal`` as reviewed (its
    "after" review picture) with the drawings made on that frame.

    Raises ``OSError`` if the review picture is missing on disk."""
    path = review_frame_path(proposal.media_dir, "after", frame)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"review picture {path} is missing")
    image = draw_annotations(image, list(Annotation.objects.filter(proposal=proposal, frame=frame)))
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise OSError("could not encode the thumbnail")
    return encoded.tobytes()

"""Annotations: freehand strokes, arrows and text drawn on one frame of a proposal in the review
room, persisted and fanned out to everyone in the room."""
import re

from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz, events
from reviews.errors import ServiceError
from reviews.models import Annotation, AnnotationKind, Proposal

from .audit import audit_record

MAX_POINTS = 2000
MAX_TEXT = 500
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
# How many points each kind takes: (fewest, most).
POINT_COUNTS = {AnnotationKind.FREEHAND: (2, MAX_POINTS), AnnotationKind.ARROW: (2, 2), AnnotationKind.TEXT: (1, 1)}


def person_name(user: User) -> str:
    return user.get_full_name() or user.username


def annotation_payload(annotation: Annotation) -> dict:
    """What the review room is told about an annotation (``annotation`` events, the room snapshot)."""
    return {
        "id": annotation.pk,
        "proposal": annotation.proposal_id,
        "frame": annotation.frame,
        "kind": annotation.kind,
        "points": annotation.points,
        "text": annotation.text,
        "color": annotation.color,
        "author": person_name(annotation.author),
        "created_at": annotation.created_at.isoformat(),
    }


def check_frame(proposal: Proposal, frame) -> int:
    """``frame`` as an int inside ``[frame_in, frame_out)`` of ``proposal``; ``ServiceError`` otherwise."""
    if not isinstance(frame, int) or isinstance(frame, bool):
        raise ServiceError("frame must be an integer (a clip frame, counted from 0).")
    if not proposal.frame_in <= frame < proposal.frame_out:
        raise ServiceError(f"Frame {frame} is outside this proposal's frames "
                           f"{proposal.frame_in}–{proposal.frame_out - 1}.")
    return frame


def _points(kind: str, points) -> list[list[float]]:
    fewest, most = POINT_COUNTS[kind]
    if not isinstance(points, list) or not fewest <= len(points) <= most:
        raise ServiceError(f"A {kind} annotation takes {fewest}–{most} points [[x, y], ...].")
    clean = []
    for point in points:
        if (not isinstance(point, list) or len(point) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
                or not all(0 <= v <= 1 for v in point)):
            raise ServiceError("Each point is [x, y] with x and y between 0 and 1 (a share of the picture).")
        clean.append([round(float(point[0]), 5), round(float(point[1]), 5)])
    return clean


def annotation_create(*, proposal: Proposal, author: User, frame: int, kind: str, points: list,
                      text: str = "", color: str = "#ff3b30") -> Annotation:
    """Pin a drawing to ``frame`` of ``proposal``: ``kind`` is freehand (2–2000 points), arrow
    (tail, head) or text (its anchor point, and ``text``); points are ``[x, y]`` shares (0–1) of
    the picture's width and height. Audited as ``annotation.create`` and sent, on commit, to the
    review room of the proposal's fix request.

    Raises ``NotAllowed`` unless ``author`` may annotate in the production; ``ServiceError`` for
    a frame outside the proposal, an unknown kind, bad points, a missing or overlong text, or a
    colour that is not ``#rrggbb``.
    """
    production = proposal.production
    authz.require(author, production, authz.ANNOTATE_FRAME)
    frame = check_frame(proposal, frame)
    if kind not in AnnotationKind.values:
        raise ServiceError(f"Unknown annotation kind {kind!r}; use one of {', '.join(AnnotationKind.values)}.")
    points = _points(kind, points)
    text = text.strip() if isinstance(text, str) else ""
    if kind == AnnotationKind.TEXT and not text:
        raise ServiceError("A text annotation needs its text.")
    if len(text) > MAX_TEXT:
        raise ServiceError(f"Annotation text is limited to {MAX_TEXT} characters.")
    if not isinstance(color, str) or not COLOR.fullmatch(color):
        raise ServiceError("color must be #rrggbb.")
    with transaction.atomic():
        annotation = Annotation.objects.create(production=production, proposal=proposal, frame=frame, kind=kind,
                                               points=points, text=text, color=color.lower(), author=author)
        audit_record(production=production, actor=author, action="annotation.create", target=annotation,
                     payload={"proposal": proposal.pk, "frame": frame, "kind": kind})
        events.broadcast(events.room_group(proposal.fix_request_id), "annotation", annotation_payload(annotation))
    return annotation

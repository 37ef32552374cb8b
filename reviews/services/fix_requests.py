"""Fix requests: the tasks a supervisor files on shots, and their assignment to artists."""
import datetime
import math

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz, selectors
from reviews.errors import Conflict, ServiceError
from reviews.fixes import FIXES, LEARNED_MODEL_PARAMETER, clean_parameters, fix_spec
from reviews.models import FixRequest, FixRequestStatus, Job, JobStage, JobState, Production, Shot

from .audit import audit_record
from .jobs import job_cancel, job_submit
from .learned_models import learned_model_of


@transaction.atomic
def fix_request_create(*, production: Production, actor: User, shot: Shot, kind: str, frame_in: int,
                       frame_out: int, reference_shot: Shot | None = None, parameters: dict | None = None,
                       assignee: User | None = None, description: str = "", due_date: datetime.date | None = None,
                       mask: dict | None = None, queue: bool = False) -> FixRequest:
    """File a ``kind`` fix on frames ``[frame_in, frame_out)`` of ``shot``'s clip, optionally
    with a due date and a ``mask`` drawn on one of those frames (see :func:`clean_mask`).
    With ``queue`` its first job is queued in the same transaction (``job_submit``: filing runs
    the fix); without, it is a draft that waits for someone to run it.

    Raises ``NotAllowed`` unless ``actor`` is a supervisor of ``production``; ``ServiceError``
    when the frames leave the shot's source range, a needed reference shot is missing, a shot
    or the assignee is from another production, the parameters are invalid for the fix, or the
    mask is malformed or outside the frames or the picture.
    """
    authz.require(actor, production, authz.FILE_FIX_REQUEST)
    spec = fix_spec(kind)
    for named, candidate in (("shot", shot), ("reference shot", reference_shot)):
        if candidate is not None and candidate.production_id != production.pk:
            raise ServiceError(f"The {named} belongs to another production.")
    if not shot.source_in <= frame_in < frame_out <= shot.source_out:
        raise ServiceError(
            f"Frames {frame_in}–{frame_out} must lie within shot {shot.code}'s source range "
            f"{shot.source_in}–{shot.source_out} (out frames are exclusive)."
        )
    if spec.needs_reference and reference_shot is None:
        raise ServiceError(f"A {kind} fix needs a reference shot.")
    parameters = clean_parameters(kind, parameters or {}, frame_in=frame_in, frame_out=frame_out)
    if spec.needs_clean_plate(parameters) and selectors.clean_plate_of(shot) is None:
        raise ServiceError(f"A {kind} fix with a clean-plate key needs a clean plate of shot {shot.code}: "
                           f"file a clean plate fix on it first.")
    if spec.needs_look_model and not production.look_models.filter(pk=parameters["look_model"]).exists():
        raise ServiceError(f"Look model {parameters['look_model']} is not one of {production.code}'s look models.")
    if spec.learned_model_kind and parameters.get(LEARNED_MODEL_PARAMETER) is not None:
        learned_model_of(production, parameters[LEARNED_MODEL_PARAMETER], spec.learned_model_kind)
    if assignee is not None and not authz.is_member(assignee, production):
        raise ServiceError(f"{assignee.username} is not a member of {production.code}.")
    if mask is not None:
        mask = clean_mask(mask, shot=shot, frame_in=frame_in, frame_out=frame_out)
    elif spec.needs_mask:
        raise ServiceError(f"A {kind} fix needs a mask: draw the outline of what to change on one of its frames.")
    fix_request = FixRequest.objects.create(
        production=production,
        shot=shot,
        kind=kind,
        frame_in=frame_in,
        frame_out=frame_out,
        reference_shot=reference_shot,
        parameters=parameters,
        assignee=assignee,
        description=description,
        due_date=due_date,
        mask=mask,
        created_by=actor,
    )
    audit_record(production=production, actor=actor, action="fix_request.create", target=fix_request,
                 payload={"shot": shot.code, "kind": kind, "frame_in": frame_in, "frame_out": frame_out,
                          "reference_shot": reference_shot.code if reference_shot else None,
                          "assignee": assignee.username if assignee else None, "mask": mask})
    if queue:
        job_submit(fix_request=fix_request, actor=actor)
        fix_request.refresh_from_db()
    return fix_request


MASK_SHAPES = ("rectangle", "polygon")


#: Keyframes a mask may be drawn on.
MAX_MASK_KEYFRAMES = 100


def clean_mask(mask: dict | list, *, shot: Shot, frame_in: int, frame_out: int) -> dict | list:
    """Check a drawn mask and return it normalised. A mask is one outline ``{"frame": N,
    "shape": "rectangle" | "polygon", "points": [[x, y], ...]}`` — N in ``[frame_in,
    frame_out)``, at most ``LOUPE_MASK_MAX_POINTS`` points in the clip's pixels (0 ≤ x ≤ width, 0 ≤ y ≤ height, rounded to 0.1
    px); a rectangle is two opposite corners (stored top-left then bottom-right), a polygon
    three points or more — or a list of such outlines on different frames (*keyframes*, up to
    MAX_MASK_KEYFRAMES), stored in frame order; a list of one is stored as that one outline.

    Raises ``ServiceError`` naming what is wrong.
    """
    if isinstance(mask, list):
        if not 1 <= len(mask) <= MAX_MASK_KEYFRAMES:
            raise ServiceError(f"A mask is one outline, or a list of 1–{MAX_MASK_KEYFRAMES} outlines on different "
                               f"frames (keyframes).")
        outlines = sorted((_clean_outline(outline, shot=shot, frame_in=frame_in, frame_out=frame_out)
                           for outline in mask), key=lambda outline: outline["frame"])
        frames = [outline["frame"] for outline in outlines]
        repeated = sorted({frame for frame in frames if frames.count(frame) > 1})
        if repeated:
            raise ServiceError(f"One outline per keyframe: frame(s) {', '.join(map(str, repeated))} have several.")
        return outlines if len(outlines) > 1 else outlines[0]
    return _clean_outline(mask, shot=shot, frame_in=frame_in, frame_out=frame_out)


def _clean_outline(mask: dict, *, shot: Shot, frame_in: int, frame_out: int) -> dict:
    if not isinstance(mask, dict) or set(mask) != {"frame", "shape", "points"}:
        raise ServiceError('A mask is {"frame": N, "shape": "rectangle" or "polygon", "points": [[x, y], ...]}.')
    frame, shape, points = mask["frame"], mask["shape"], mask["points"]
    if isinstance(frame, bool) or not isinstance(frame, int) or not frame_in <= frame < frame_out:
        raise ServiceError(f"The mask's frame must be one of the fix's frames, {frame_in}–{frame_out - 1}.")
    if shape not in MASK_SHAPES:
        raise ServiceError(f"The mask's shape must be one of {', '.join(MASK_SHAPES)}, not {shape!r}.")
    width, height = shot.clip.width, shot.clip.height
    if not isinstance(points, list):
        raise ServiceError("The mask's points must be a list of [x, y] pairs of numbers.")
    if len(points) > settings.LOUPE_MASK_MAX_POINTS:
        raise ServiceError(f"The mask's outline has {len(points)} points; at most {settings.LOUPE_MASK_MAX_POINTS} "
                           f"are accepted (LOUPE_MASK_MAX_POINTS). Simplify the outline.")
    try:
        points = [[round(float(x), 1), round(float(y), 1)] for x, y in points]
    except (TypeError, ValueError):
        raise ServiceError("The mask's points must be [x, y] pairs of numbers.") from None
    if not all(math.isfinite(x) and math.isfinite(y) and 0 <= x <= width and 0 <= y <= height for x, y in points):
        raise ServiceError(f"The mask's points must lie inside the picture, 0–{width} × 0–{height} pixels.")
    if shape == "rectangle":
        if len(points) != 2:
            raise ServiceError("A rectangle mask is two opposite corners.")
        (x0, y0), (x1, y1) = points
        points = [[min(x0, x1), min(y0, y1)], [max(x0, x1), max(y0, y1)]]
        if points[0][0] == points[1][0] or points[0][1] == points[1][1]:
            raise ServiceError("A rectangle mask must have a width and a height.")
    elif len(points) < 3:
        raise ServiceError("A polygon mask needs three points or more.")
    return {"frame": frame, "shape": shape, "points": points}


@transaction.atomic
def fix_requests_assign(*, production: Production, actor: User, shots: list[Shot], assignee: User | None) -> list[FixRequest]:
    """Assign every fix request still in work (open, in progress, in review) on ``shots`` to
    ``assignee`` (None: unassign) — the shot board's bulk assign. One audit event per fix
    request whose assignee changes; all or nothing.

    Raises ``NotAllowed`` unless ``actor`` is a supervisor of ``production``; ``ServiceError``
    when a shot is from another production, no shot is given, or the assignee is not a member.
    """
    authz.require(actor, production, authz.ASSIGN_FIX_REQUEST)
    if not shots:
        raise ServiceError("Choose at least one shot to assign.")
    if any(shot.production_id != production.pk for shot in shots):
        raise ServiceError("A shot belongs to another production.")
    if assignee is not None and not authz.is_member(assignee, production):
        raise ServiceError(f"{assignee.username} is not a member of {production.code}.")
    changed = []
    for fix_request in (FixRequest.objects.select_for_update(of=("self",)).select_related("shot", "assignee")
                        .filter(shot__in=shots, status__in=selectors.ACTIVE_FIX_STATUSES).order_by("pk")):
        if fix_request.assignee_id == (assignee.pk if assignee else None):
            continue
        previous = fix_request.assignee.username if fix_request.assignee else None
        fix_request.assignee = assignee
        fix_request.save(update_fields=["assignee"])
        audit_record(production=production, actor=actor, action="fix_request.assign", target=fix_request,
                     payload={"shot": fix_request.shot.code, "from": previous,
                              "to": assignee.username if assignee else None})
        changed.append(fix_request)
    return changed


#: Correction strokes a fix request's mask may hold.
MAX_MASK_STROKES = 200
#: Largest brush radius of a correction stroke, pixels.
MAX_STROKE_RADIUS = 500
STROKE_MODES = ("add", "subtract")


def _mask_sequence_check(fix_request: FixRequest) -> None:
    """A mask sequence is made for a fix kind that uses one, from the outline(s) drawn on the
    fix request, before the fix is decided."""
    spec = fix_spec(fix_request.kind)
    if not spec.uses_mask_sequence:
        kinds = ", ".join(kind for kind, candidate in FIXES.items() if candidate.uses_mask_sequence)
        raise ServiceError(f"A {fix_request.kind} fix does not use a mask sequence; {kinds} fixes do.")
    if not spec.mask_sequence_applies(fix_request.parameters):
        raise ServiceError(f"This {fix_request.kind} fix makes its own matte (key "
                           f"{fix_request.parameters.get('key')!r}); a mask sequence is used with key \"sky\".")
    if fix_request.mask is None and not spec.proposes_mask(fix_request.parameters):
        raise ServiceError("Draw the outline of the object on one of the fix's frames first: the mask sequence is "
                           "segmented from it.")
    if fix_request.status in (FixRequestStatus.APPROVED, FixRequestStatus.REJECTED):
        raise Conflict(f"Fix request {fix_request.pk} is {fix_request.get_status_display().lower()}; its mask is "
                       f"no longer changed.")


def _mask_job_queue(fix_request: FixRequest, actor: User) -> Job:
    """Queue a mask job; older mask jobs of the fix request still queued or running are
    cancelled (their result would be stale)."""
    for older in fix_request.jobs.filter(stage=JobStage.MASK, state__in=(JobState.QUEUED, JobState.RUNNING)):
        job_cancel(job=older, actor=actor)
    job, _ = job_submit(fix_request=fix_request, actor=actor, stage=JobStage.MASK)
    return job


@transaction.atomic
def fix_request_mask_propagate(*, fix_request: FixRequest, actor: User) -> Job:
    """Queue a mask job: the object outlined on the fix request's keyframe(s), corrected by its
    strokes, segmented through its frames (``engine.ops.segment``) and stored as a PNG mask per
    frame; the fix then uses that mask sequence instead of the tracked outline.

    Raises ``NotAllowed`` unless ``actor`` is a supervisor of the production; ``ServiceError``
    when the fix kind uses no mask sequence or no outline is drawn; ``Conflict`` when the fix
    request has been decided.
    """
    authz.require(actor, fix_request.production, authz.FILE_FIX_REQUEST)
    _mask_sequence_check(fix_request)
    job = _mask_job_queue(fix_request, actor)
    audit_record(production=fix_request.production, actor=actor, action="fix_request.mask_propagate",
                 target=fix_request, payload={"job": job.pk, "strokes": len(fix_request.mask_strokes)})
    return job


@transaction.atomic
def fix_request_mask_stroke(*, fix_request: FixRequest, actor: User, stroke: dict) -> tuple[dict, Job]:
    """Add a correction stroke (see :func:`clean_stroke`) to the fix request's mask and queue a
    mask job: the stroke's frame becomes a keyframe and the mask re-propagates from there.
    Returns the stored stroke and the job.

    Raises ``NotAllowed`` unless ``actor`` is a supervisor of the production; ``ServiceError``
    naming what is wrong with the stroke, or as :func:`fix_request_mask_propagate`;
    ``Conflict`` when the fix request has been decided.
    """
    def add(locked: FixRequest) -> tuple[list[dict], dict]:
        cleaned = clean_stroke(stroke, shot=locked.shot, frame_in=locked.frame_in, frame_out=locked.frame_out)
        if len(locked.mask_strokes) >= MAX_MASK_STROKES:
            raise ServiceError(f"A mask holds at most {MAX_MASK_STROKES} correction strokes; redraw the outline on a "
                               f"keyframe instead.")
        return [*locked.mask_strokes, cleaned], cleaned

    return _mask_strokes_change(fix_request, actor, add, action="fix_request.mask_stroke")


@transaction.atomic
def fix_request_mask_stroke_undo(*, fix_request: FixRequest, actor: User) -> tuple[dict, Job]:
    """Remove the newest correction stroke of the fix request's mask and queue a mask job, so
    the mask re-propagates without it. Returns the removed stroke and the job.

    Raises ``NotAllowed`` unless ``actor`` is a supervisor of the production; ``ServiceError``
    when the mask has no stroke, or as :func:`fix_request_mask_propagate`; ``Conflict`` when the
    fix request has been decided.
    """
    def remove_newest(locked: FixRequest) -> tuple[list[dict], dict]:
        if not locked.mask_strokes:
            raise ServiceError("The mask has no correction stroke to undo.")
        *kept, newest = locked.mask_strokes
        return kept, newest

    return _mask_strokes_change(fix_request, actor, remove_newest, action="fix_request.mask_stroke_undo")


def _mask_strokes_change(fix_request: FixRequest, actor: User, change, *, action: str) -> tuple[dict, Job]:
    """What changing a mask's strokes takes, whichever the change: the supervisor's permission,
    the fix request locked and checked (:func:`_mask_sequence_check`), ``change(locked)`` →
    (the strokes to keep, the stroke added or removed), a mask job queued to re-propagate, and
    the audit record ``action``. Returns that stroke and the job."""
    authz.require(actor, fix_request.production, authz.FILE_FIX_REQUEST)
    fix_request = FixRequest.objects.select_for_update(of=("self",)).select_related("shot__clip", "production").get(
        pk=fix_request.pk)
    _mask_sequence_check(fix_request)
    fix_request.mask_strokes, stroke = change(fix_request)
    fix_request.save(update_fields=["mask_strokes"])
    job = _mask_job_queue(fix_request, actor)
    audit_record(production=fix_request.production, actor=actor, action=action, target=fix_request,
                 payload={"job": job.pk, "stroke": stroke, "strokes": len(fix_request.mask_strokes)})
    return stroke, job


def clean_stroke(stroke: dict, *, shot: Shot, frame_in: int, frame_out: int) -> dict:
    """Check a correction stroke and return it normalised: ``{"frame": N, "mode": "add" |
    "subtract", "points": [[x, y], ...], "radius": r}`` — a brush path of 1 to
    ``LOUPE_MASK_MAX_POINTS`` points in the clip's pixels (inside the picture, rounded to 0.1 px)
    painted with a round brush of ``r`` pixels (0.5 ≤ r ≤ MAX_STROKE_RADIUS) on frame N in
    ``[frame_in, frame_out)``. Add puts the painted pixels in the mask, subtract takes them out.

    Raises ``ServiceError`` naming what is wrong.
    """
    if not isinstance(stroke, dict) or set(stroke) != {"frame", "mode", "points", "radius"}:
        raise ServiceError('A stroke is {"frame": N, "mode": "add" or "subtract", "points": [[x, y], ...], '
                           '"radius": r} (pixels).')
    frame, mode, points, radius = stroke["frame"], stroke["mode"], stroke["points"], stroke["radius"]
    if isinstance(frame, bool) or not isinstance(frame, int) or not frame_in <= frame < frame_out:
        raise ServiceError(f"The stroke's frame must be one of the fix's frames, {frame_in}–{frame_out - 1}.")
    if mode not in STROKE_MODES:
        raise ServiceError(f"The stroke's mode must be one of {', '.join(STROKE_MODES)}, not {mode!r}.")
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not math.isfinite(radius) or not (
            0.5 <= radius <= MAX_STROKE_RADIUS):
        raise ServiceError(f"The stroke's radius must be a number of pixels, 0.5–{MAX_STROKE_RADIUS}.")
    if not isinstance(points, list) or not points:
        raise ServiceError("The stroke's points must be a non-empty list of [x, y] pairs of numbers.")
    if len(points) > settings.LOUPE_MASK_MAX_POINTS:
        raise ServiceError(f"The stroke has {len(points)} points; at most {settings.LOUPE_MASK_MAX_POINTS} are "
                           f"accepted (LOUPE_MASK_MAX_POINTS). Paint it as several strokes.")
    try:
        points = [[round(float(x), 1), round(float(y), 1)] for x, y in points]
    except (TypeError, ValueError):
        raise ServiceError("The stroke's points must be [x, y] pairs of numbers.") from None
    width, height = shot.clip.width, shot.clip.height
    if not all(math.isfinite(x) and math.isfinite(y) and 0 <= x <= width and 0 <= y <= height for x, y in points):
        raise ServiceError(f"The stroke's points must lie inside the picture, 0–{width} × 0–{height} pixels.")
    return {"frame": frame, "mode": mode, "points": points, "radius": round(float(radius), 1)}

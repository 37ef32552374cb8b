"""Continuity checks and their findings: checks filed between adjacent shots of a scene, what a
check found between two takes, and the fix requests filed from findings with one click."""
from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz
from reviews.errors import Conflict, ServiceError
from reviews.models import ContinuityFinding, FindingKind, FixKind, FixRequest, Production, Shot

from .audit import audit_record
from .fix_requests import fix_request_create

#: The fixes a finding can become, by finding kind. A prop that appeared or moved in take B is
#: removed from B (its outline — the object's own mask — or, for findings stored before outlines,
#: its box, drawn on the first frame showing it, tracked through the shot); a
#: change of light is a lighting harmonisation of B to take A. What disappeared from B cannot be
#: put back by these fixes, so it has none.
FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    FindingKind.APPEARED: (FixKind.OBJECT_REMOVAL,),
    FindingKind.MOVED: (FixKind.OBJECT_REMOVAL,),
    FindingKind.DISAPPEARED: (),
    FindingKind.LIGHT: (FixKind.RELIGHT,),
}


@transaction.atomic
def finding_file_fix(*, finding: ContinuityFinding, actor: User, kind: str, queue: bool = False) -> FixRequest:
    """File the ``kind`` fix request a finding calls for, on the checked shot (take B) over the
    check's frames: an object removal with the finding's object outline (``details["outline"]``,
    the polygon of its mask) as its mask — its box when it has none — drawn on the first frame of
    take B showing it; or a relight with take A as its reference shot. ``queue``: run
    it at once (see ``fix_request_create``).

    Raises ``NotAllowed`` unless ``actor`` may file fix requests in the finding's production;
    ``ServiceError`` when ``kind`` is not a fix this finding can become; ``Conflict`` when a fix
    request was filed from it already.
    """
    authz.require(actor, finding.production, authz.FILE_FIX_REQUEST)
    allowed = FOLLOW_UPS[finding.kind]
    if kind not in allowed:
        choices = f"choose {' or '.join(allowed)}" if allowed else "it has no fix to file from it"
        raise ServiceError(f"A {finding.get_kind_display().lower()} finding cannot become a {kind} fix; {choices}.")
    finding = (ContinuityFinding.objects.select_for_update(of=("self",))
               .select_related("fix_request__shot", "fix_request__reference_shot").get(pk=finding.pk))
    if finding.follow_up_id is not None:
        raise Conflict(f"Fix request {finding.follow_up_id} was filed from this finding already.")
    check = finding.fix_request
    take_a = check.reference_shot
    mask = None
    reference_shot = None
    if kind == FixKind.OBJECT_REMOVAL:
        x, y, width, height = finding.box
        points = (finding.details or {}).get("outline")
        if points and len(points) >= 3:
            mask = {"frame": finding.frames_b[0], "shape": "polygon", "points": points}
        else:
            mask = {"frame": finding.frames_b[0], "shape": "rectangle", "points": [[x, y], [x + width, y + height]]}
    else:
        reference_shot = take_a
    fix_request = fix_request_create(
        production=finding.production, actor=actor, shot=check.shot, kind=kind, frame_in=check.frame_in,
        frame_out=check.frame_out, reference_shot=reference_shot, mask=mask, queue=queue,
        description=f"From the continuity check of {check.shot.code} against {take_a.code}: "
                    f"{finding.get_kind_display().lower()} (confidence {finding.confidence:.2f}).")
    finding.follow_up = fix_request
    finding.save(update_fields=["follow_up"])
    audit_record(production=finding.production, actor=actor, action="continuity.follow_up", target=fix_request,
                 payload={"finding": finding.pk, "finding_kind": finding.kind, "kind": kind})
    return fix_request


@transaction.atomic
def continuity_checks_file(*, production: Production, actor: User, shots: list[Shot],
                           queue: bool = False) -> list[FixRequest]:
    """File a continuity check between every adjacent pair of ``shots`` (a scene, picked on the
    shot board) in cut order — shots without a place in the cut after those with one, by code:
    each shot over its whole source range, against the shot before it. All or nothing.
    ``queue``: run each at once (see ``fix_request_create``).

    Raises ``NotAllowed`` unless ``actor`` may file fix requests; ``ServiceError`` for fewer
    than two shots or a shot of another production.
    """
    authz.require(actor, production, authz.FILE_FIX_REQUEST)
    if len(shots) < 2:
        raise ServiceError("Choose two shots or more: each is checked against the one before it in the cut.")
    ordered = sorted(shots, key=lambda shot: (shot.cut_order is None, shot.cut_order or 0, shot.code))
    return [fix_request_create(production=production, actor=actor, shot=later, kind=FixKind.CONTINUITY_CHECK,
                               frame_in=later.source_in, frame_out=later.source_out, reference_shot=earlier,
                               queue=queue, description=f"Continuity of {later.code} against {earlier.code}, "
                                           f"the shot before it.")
            for earlier, later in zip(ordered, ordered[1:])]

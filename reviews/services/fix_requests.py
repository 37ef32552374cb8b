"""Fix requests: the tasks a supervisor files on shots."""
from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz
from reviews.errors import ServiceError
from reviews.fixes import clean_parameters, fix_spec
from reviews.models import FixRequest, Production, Shot

from .audit import audit_record


@transaction.atomic
def fix_request_create(*, production: Production, actor: User, shot: Shot, kind: str, frame_in: int,
                       frame_out: int, reference_shot: Shot | None = None, parameters: dict | None = None,
                       assignee: User | None = None, description: str = "") -> FixRequest:
    """File a ``kind`` fix on frames ``[frame_in, frame_out)`` of ``shot``'s clip.

    Raises ``NotAllowed`` unless ``actor`` is a supervisor of ``production``; ``ServiceError``
    when the frames leave the shot's source range, a needed reference shot is missing, a shot
    or the assignee is from another production, or the parameters are invalid for the fix.
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
    parameters = clean_parameters(kind, parameters or {})
    if spec.needs_look_model and not production.look_models.filter(pk=parameters["look_model"]).exists():
        raise ServiceError(f"Look model {parameters['look_model']} is not one of {production.code}'s look models.")
    if assignee is not None and not authz.is_member(assignee, production):
        raise ServiceError(f"{assignee.username} is not a member of {production.code}.")
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
        created_by=actor,
    )
    audit_record(production=production, actor=actor, action="fix_request.create", target=fix_request,
                 payload={"shot": shot.code, "kind": kind, "frame_in": frame_in, "frame_out": frame_out,
                          "reference_shot": reference_shot.code if reference_shot else None})
    return fix_request

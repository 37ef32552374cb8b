"""Shots: source ranges of clips."""
from django.contrib.auth.models import User
from django.db import transaction

from reviews import authz
from reviews.errors import ServiceError
from reviews.models import Clip, Production, Shot

from .audit import audit_record


@transaction.atomic
def shot_create(*, production: Production, clip: Clip, code: str, source_in: int, source_out: int,
                actor: User) -> Shot:
    """A shot over frames ``[source_in, source_out)`` of ``clip``. Raises ``ServiceError`` if the
    range is empty or leaves the clip."""
    authz.require(actor, production, authz.FILE_FIX_REQUEST)
    if clip.production_id != production.pk:
        raise ServiceError("The clip belongs to another production.")
    if not 0 <= source_in < source_out <= clip.frame_count:
        raise ServiceError(
            f"Source range {source_in}–{source_out} must lie within {clip.name}, "
            f"which has {clip.frame_count} frames (0–{clip.frame_count - 1})."
        )
    shot = Shot.objects.create(production=production, clip=clip, code=code, source_in=source_in, source_out=source_out)
    audit_record(production=production, actor=actor, action="shot.create", target=shot,
                 payload={"code": code, "clip": clip.pk, "source_in": source_in, "source_out": source_out})
    return shot

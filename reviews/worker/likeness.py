"""Likeness screening, the worker side (queue ``gpu``): the engine looks for faces in a fix
request's frames (``engine.ops.likeness``, OpenCV) and the classification rule may raise the fix
to a digital alteration. ``reviews.tasks.fix_request_screen_run`` runs
:func:`fix_request_screen_likeness` here; the consent workflow itself (classification, answers,
revocation) is ``reviews.services.consent`` (web side), which never imports this module
(docs/adr/0010-light-web-processes.md).
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from django.db import transaction
from django.utils import timezone

from engine.errors import EngineError
from engine.media.decode import FrameSource
from engine.ops import likeness
from reviews import events, states
from reviews.media import media_path
from reviews.models import FixRequest
from reviews.services.audit import audit_record

logger = logging.getLogger(__name__)


def _fix_region(fix_request: FixRequest) -> np.ndarray | None:
    """bool [H, W]: the region the fix request's newest version declared (its ``region.png``);
    None (the whole frame) before it has a version."""
    latest = fix_request.proposals.order_by("-version").first()
    if latest is None:
        return None
    region = cv2.imread(str(media_path(latest.media_dir) / "region.png"), cv2.IMREAD_GRAYSCALE)
    return region > 0 if region is not None else None


def fix_request_screen_likeness(*, fix_request: FixRequest, samples: int = 6) -> dict:
    """Run the engine's likeness screening (``engine.ops.likeness``) on the fix request's frames
    and keep its result. Faces count inside the region its newest version declared (the whole
    frame before the first version: jobs screen once a version exists).

    What a face inside means is the classification rule's (``states.classify``): it raises a
    routine removal, replacement or rebuild (its region overlaps a performer) to a digital
    alteration, never a colour or relight fix, and never lowers anything. A raise is audited
    as ``fix_request.likeness_flagged`` with the engine as actor, kept in the screening
    (``raised``: True, ``raised_at``), shown on the proposal page and announced to the
    production's open pages (event ``fix_request.classified``); the supervisor then names the
    performers, or lowers it with a reason.

    Returns the screening as stored (``{"method", "frames_scanned", "flagged", "faces",
    "raised"}``, or ``{"error": ...}`` when the footage could not be read). Decoding runs
    outside any transaction; the update is one transaction.
    """
    source_path = Path(fix_request.shot.clip.source_path)
    try:
        found = likeness.screen(FrameSource(source_path, fix_request.frame_in, fix_request.frame_out),
                                region=_fix_region(fix_request), samples=samples).to_dict()
    except EngineError as error:
        logger.warning("likeness screening of fix request %s failed: %s", fix_request.pk, error)
        found = {"method": likeness.METHOD, "error": str(error), "flagged": False}
    with transaction.atomic():
        locked = FixRequest.objects.select_for_update().select_related("shot").get(pk=fix_request.pk)
        by_rule = states.classify(kind=locked.kind, overlaps_performer=found["flagged"])
        raise_it = states.alteration_rank(by_rule) > states.alteration_rank(locked.alteration)
        found["raised"] = raise_it
        if raise_it:
            found["raised_at"] = timezone.now().isoformat(timespec="seconds")
            locked.alteration = by_rule
        locked.likeness_screening = found
        locked.save(update_fields=["likeness_screening", "alteration"])
        if raise_it:
            frames = sorted({f["frame"] for f in found["faces"]})
            audit_record(production=locked.production, actor=None, action="fix_request.likeness_flagged",
                         target=locked, payload={"to": locked.alteration, "method": found["method"],
                                                 "faces": len(found["faces"]), "frames": frames})
            events.broadcast(events.production_group(locked.production_id), "fix_request.classified", {
                "fix_request": locked.pk, "shot": locked.shot.code, "alteration": locked.alteration,
                "message": f"Likeness screening raised the {locked.get_kind_display().lower()} on "
                           f"{locked.shot.code} to a digital alteration: a face inside its region on "
                           f"frame{'s' if len(frames) > 1 else ''} {', '.join(map(str, frames))}. "
                           f"Name the performers, or lower it with a reason."})
    fix_request.refresh_from_db()
    return found

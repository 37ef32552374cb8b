"""Mask jobs, the worker side: a fix request's object segmented through its frames from the
outline(s) drawn on it and its correction strokes (``engine.ops.segment``), stored as a mask
sequence — ``masks/job-<job id>/NNNNNN.png`` (0 outside, 255 inside; N = clip frame) and
``strokes.json`` beside it — for the fix to use instead of the outline tracked as a polygon.

A sky replacement (``background_replace`` with key ``sky``) is the same job with two
differences: without a drawn outline the sky is proposed automatically
(:func:`engine.ops.sky.sky_segmentation`; a shot without one fails the job with "no sky
found …"), and its masks are stored as 8-bit soft mattes (0..255, the guided filter's edges),
which the compositor uses as alpha.

The fix's run (``reviews.worker.fixes``) reads the newest mask job's sequence
(:func:`stored_mask_sequence`); the job itself (``reviews.worker.jobs.job_execute``) copies it
beside the proposal's frames (``segmentation/``), so a proposal keeps the mask it was made
with after the supervisor corrects the fix request's mask again.
"""
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from engine.errors import EngineError
from engine.media.decode import FrameSource
from engine.ops.segment import Segmentation, keyframe_mask
from engine.ops.sky import sky_segmentation, soft_alphas
from reviews import selectors
from reviews.fixes import fix_spec, mask_outlines
from reviews.media import frame_name, mask_media_dir, media_path
from reviews.models import FixRequest, Job, JobState

from .fixes import drawn_polygon


def stroke_mask(stroke: dict, size: tuple[int, int]) -> np.ndarray:
    """bool [H, W] pixels a correction stroke painted: its path ``points`` (clip pixels) drawn
    with a round brush of ``radius`` pixels (a single point is a dot); ``size`` is (H, W)."""
    painted = np.zeros(size, np.uint8)
    points = np.round(np.float32(stroke["points"]) * 16).astype(np.int32)  # 4 fractional bits
    radius = max(1, round(stroke["radius"]))
    cv2.polylines(painted, [points.reshape(-1, 1, 2)], False, 255, thickness=2 * radius, lineType=cv2.LINE_8,
                  shift=4)
    for x, y in points:  # round ends and joins, and a dot for a one-point stroke
        cv2.circle(painted, (int(x), int(y)), radius * 16, 255, thickness=-1, lineType=cv2.LINE_8, shift=4)
    return painted > 0


def segmentation_of(fix_request: FixRequest, shot: FrameSource, *, should_cancel=None) -> Segmentation:
    """The fix request's segmentation: its outline(s) as keyframes — or, with none drawn and a
    fix that proposes its region (the sky), the automatic proposal — then each correction
    stroke in the order painted (``Segmentation.correct``: the stroke's frame becomes a
    keyframe the mask re-propagates from).

    Raises ``ParameterError`` (an ``EngineError``) when an outline or a corrected mask is empty;
    ``NoSkyFound`` (one too) when the shot has no sky to propose.
    """
    size = (shot.clip_probe.height, shot.clip_probe.width)
    outlines = mask_outlines(fix_request.mask)
    if not outlines and fix_spec(fix_request.kind).proposes_mask(fix_request.parameters):
        segmentation = sky_segmentation(shot, should_cancel=should_cancel)
    else:
        keyframes = {outline["frame"]: keyframe_mask(drawn_polygon(outline), size) for outline in outlines}
        segmentation = Segmentation(shot, keyframes, should_cancel=should_cancel)
    for stroke in fix_request.mask_strokes:
        segmentation = segmentation.correct(stroke["frame"], **{stroke["mode"]: stroke_mask(stroke, size)})
    return segmentation


def mask_sequence_make(job: Job, fix_request: FixRequest, shot: FrameSource, *, progress, should_cancel) -> str:
    """Segment the fix request's object through ``shot`` (its frames) and store one PNG mask a
    frame (0/255; a sky replacement's: 8-bit soft mattes) in the job's folder, written to a staging folder renamed into place at the end.
    Returns the folder, relative to MEDIA_ROOT. ``progress(done, total)`` after every frame.

    Raises ``EngineError`` (unreadable footage, an empty outline or corrected mask) or
    ``Cancelled``; the staging folder is removed either way.
    """
    final = mask_media_dir(job.pk)
    staging = media_path(final).with_name(f".staging-job-{job.pk}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        segmentation = segmentation_of(fix_request, shot, should_cancel=should_cancel)
        frames = shot.frame_range
        soft = fix_spec(fix_request.kind).soft_mask(fix_request.parameters)
        alphas = soft_alphas(segmentation, frames) if soft else segmentation.alphas(frames)
        for done, (number, alpha) in enumerate(alphas, start=1):
            image = np.rint(alpha * 255.0).astype(np.uint8) if soft else np.where(alpha >= 0.5, 255, 0).astype(np.uint8)
            if not cv2.imwrite(str(staging / frame_name(number, "png")), image, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
                raise OSError(f"could not write the mask of frame {number} to {staging}")
            progress(done, len(frames))
        (staging / "strokes.json").write_text(json.dumps(
            {"outlines": mask_outlines(fix_request.mask), "strokes": fix_request.mask_strokes}))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    target = media_path(final)
    shutil.rmtree(target, ignore_errors=True)
    staging.replace(target)
    return final


def stored_mask_sequence(fix_request: FixRequest) -> Path | None:
    """The folder of the fix request's mask sequence — its newest mask job's — or None when it
    has none (the fix tracks the drawn outline instead).

    Raises ``EngineError`` when the newest mask job did not succeed: the fix would otherwise
    use a mask that misses the last correction.
    """
    job = selectors.mask_job_of(fix_request)
    if job is None:
        return None
    if job.state != JobState.SUCCEEDED:
        raise EngineError(f"The fix request's newest mask job ({job.pk}) has {job.get_state_display().lower()}"
                          f"{': ' + job.error if job.error else ''}. Correct the mask (or retry that job) so its mask "
                          f"sequence is made, then run the fix again.")
    return media_path(mask_media_dir(job.pk))


"""How each fix kind runs on a worker: the engine call that makes its result from a job's
inputs, and the files stored beside its frames. The kinds, their parameters and what they need
are in ``reviews.fixes`` (web side); every kind there has its run here."""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from engine.errors import EngineError
from engine.fixes import background, clean_plate, continuity, look, match, rebuild, reframe, relight, remove
from engine.media.decode import FrameSource
from engine.media.images import quantise
from engine.ops import region
from reviews.fixes import mask_outlines
from reviews.models import FixKind


@dataclass(frozen=True)
class FixInputs:
    """What a job hands to a fix: frames, the reference, parameters, the production's look
    file when the fix applies one, the fix request's drawn mask, and the engine's callbacks."""

    shot: FrameSource
    reference: FrameSource | None
    params: Any
    look_path: Path | None
    sink: Callable
    progress: Callable
    should_cancel: Callable
    mask: dict | list | None = None  # FixRequest.mask: one outline {"frame", "shape", "points"} or a list (keyframes)
    clean_plate: FrameSource | None = None  # the shot's clean plate, for fixes that need one
    matte_sink: Callable | None = None  # matte_sink(frame, alpha uint8 [H, W]) stores a matte per frame
    mask_sink: Callable | None = None  # mask_sink(frame, hole uint8 [H, W]) stores the region a frame may change
    # The fix request's stored mask sequence (reviews.worker.masks): used instead of tracking the outline.
    mask_sequence: Path | None = None


@dataclass(frozen=True)
class FixRun:
    run: Callable[[FixInputs], Any]  # returns an engine FixResult
    # Files stored beside the proposal's frames, made from the engine's result.
    extra_files: Callable[[Any], dict[str, bytes]] = field(default=lambda result: {})


def _engine_callbacks(inputs: FixInputs) -> dict:
    return {"sink": inputs.sink, "progress": inputs.progress, "should_cancel": inputs.should_cancel}


def drawn_polygon(outline: dict) -> np.ndarray:
    """float32 [K, 2] (x, y) of a drawn outline (a rectangle is two opposite corners)."""
    points = np.float32(outline["points"])
    if outline["shape"] == "rectangle":
        (x0, y0), (x1, y1) = points
        return region.box_polygon([x0, y0, x1 - x0, y1 - y0])
    return points


class MaskSequence:
    """A stored mask sequence (``masks/job-<id>/NNNNNN.png``, 0/255) as the engine's mask
    stream: ``masks(frames)`` yields ``(frame_number, bool [H, W])`` read by clip frame number.

    Raises ``EngineError`` when a frame's mask is missing.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def masks(self, frames: range):
        for number, alpha in self.alphas(frames):
            yield number, alpha > 127

    def alphas(self, frames: range):
        """Yield ``(frame_number, uint8 [H, W])``: the stored matte as it is (0..255)."""
        for number in frames:
            alpha = cv2.imread(str(self.folder / f"{number:06d}.png"), cv2.IMREAD_GRAYSCALE)
            if alpha is None:
                raise EngineError(f"The mask sequence has no mask for frame {number}: propagate the mask again.")
            yield number, alpha


def _tracked(i: FixInputs) -> region.MaskStream:
    """The fix request's mask sequence when it has one; else the drawn outlines tracked through
    the shot (between two keyframes, both)."""
    if i.mask_sequence is not None:
        return MaskSequence(i.mask_sequence)
    outlines = {outline["frame"]: drawn_polygon(outline) for outline in mask_outlines(i.mask)}
    return region.track_keyframes(i.shot, outlines, should_cancel=i.should_cancel)


def _remove_object(i: FixInputs):
    """Object removal of the drawn object: its mask sequence (segmented and corrected), or its
    outline tracked through the shot from the frames it was drawn on."""
    return remove.run(shot=i.shot, params=i.params, masks=_tracked(i), mask_sink=i.mask_sink, **_engine_callbacks(i))


def _clean_plate(i: FixInputs):
    """A clean plate; what to leave out is the fix request's mask sequence when it has one, else
    one drawn outline marks it on every frame (a locked-off shot), outlines on several
    keyframes are tracked through the shot."""
    outlines = mask_outlines(i.mask)
    if len(outlines) > 1 or i.mask_sequence is not None:
        leave_out = _tracked(i)
    elif outlines:
        probe = i.shot.clip_probe
        leave_out = region.rasterise(drawn_polygon(outlines[0]), (probe.height, probe.width))
    else:
        leave_out = None
    return clean_plate.run(shot=i.shot, params=i.params, masks=leave_out, **_engine_callbacks(i))


def _replace_background(i: FixInputs):
    """Background replacement: the reference shot is the new background plate. With key sky the
    region replaced is the fix request's mask sequence (soft mattes) when it has one, else its
    drawn outline(s) tracked through the shot, else the engine's automatic sky proposal."""
    mattes = None
    if i.params.key == "sky":
        if i.mask_sequence is not None:
            mattes = MaskSequence(i.mask_sequence).alphas(i.shot.frame_range)
        elif mask_outlines(i.mask):
            mattes = _tracked(i).masks(i.shot.frame_range)
    return background.run(shot=i.shot, reference=i.reference, params=i.params, clean_plate=i.clean_plate,
                         matte_sink=i.matte_sink, mattes=mattes, **_engine_callbacks(i))


def _png(image: np.ndarray) -> bytes:
    """``image`` ([H, W, 3] RGB or [H, W]) as a lossless PNG: uint8 as 8-bit; float32 at source
    precision (a deep clean plate) as 16-bit, code × 65535 rounded — a half/float source's values
    outside 0..1 are clipped there (its rendered frames are EXR; its plate is not yet)."""
    if image.dtype != np.uint8:
        image = quantise(image, np.uint16)
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image)
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG")
    return data.tobytes()


RUNS: dict[str, FixRun] = {
    FixKind.COLOR_MATCH: FixRun(
        run=lambda i: match.run(shot=i.shot, reference=i.reference, params=i.params, **_engine_callbacks(i))),
    FixKind.RELIGHT: FixRun(
        run=lambda i: relight.run(shot=i.shot, reference=i.reference, params=i.params, **_engine_callbacks(i)),
        extra_files=lambda result: {"grade.cc": result.cdl.to_cc_xml("loupe_relight").encode()}),
    FixKind.LOOK_TRANSFER: FixRun(run=lambda i: look.apply_look(i.shot, i.look_path, **_engine_callbacks(i))),
    FixKind.OBJECT_REMOVAL: FixRun(run=_remove_object),
    FixKind.CLEAN_PLATE: FixRun(
        run=_clean_plate,
        extra_files=lambda result: {"plate.png": _png(result.plate),
                                    "confidence.png": _png(np.round(result.confidence * 255).astype(np.uint8))}),
    FixKind.BACKGROUND_REPLACE: FixRun(run=_replace_background),
    FixKind.FRAME_REBUILD: FixRun(run=lambda i: rebuild.run(shot=i.shot, params=i.params, **_engine_callbacks(i))),
    FixKind.REFRAME: FixRun(
        run=lambda i: reframe.run(shot=i.shot, params=i.params, **_engine_callbacks(i)),
        # The box track rendered, beside the frames: the proposal's lineage with its parameters and shot.
        extra_files=lambda result: {"box_track.json": json.dumps(
            {"box_track": {str(n): box for n, box in result.box_track.items()}}).encode()}),
    FixKind.CONTINUITY_CHECK: FixRun(
        run=lambda i: continuity.run(shot=i.shot, reference=i.reference, params=i.params,
                                     progress=i.progress, should_cancel=i.should_cancel)),
}

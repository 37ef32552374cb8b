"""Look transfer: a production's look (a trained look model, :mod:`engine.models.look`, or any
LUT file OpenColorIO reads) applied to a shot.

A look applies to the code values of the clip's own encoding (its input colour space: a show
LUT made for the camera's log, a look model trained on the production's dailies) — so
:data:`WORKING_SPACE` is the clip's input colour space, the same at every bit depth.

- 8-bit sources: every frame goes through one :class:`engine.ops.lut3d.DenseLut8` (the look
  evaluated once on all 2²⁴ 8-bit colours), so equal colours map equally in every frame.
- Deeper sources (10/12/16-bit, half/float EXR): float32 frames at source precision through the
  look itself (OpenColorIO's float CPU processor, for LUT files and for a trained
  :class:`Lut3D` as a ``Lut3DTransform``), written back at the source's depth — no 8-bit step.
  Measurements are taken after the display transform (:mod:`engine.media.colour`).

A look model trained by Loupe carries the colours its training saw (:class:`Coverage`, a
comment line of its .cube); applying it reports ``unseen_colours_fraction``, the share of the
shot's pixels (on the measurement grid of every frame) in colours training never saw — where
the look relies on its global stage alone (issue #18).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from engine.errors import Cancelled
from engine.fixes.result import FixResult
from engine.media.colour import apply_cpu, display_transform
from engine.media.decode import FrameSource
from engine.ops.lut3d import DenseLut8, Lut3D, OcioTransform, load_look
from engine.models.look import Coverage
from engine.ops.measure import CorrespondingDeltaE, FlickerMeter, check_correspondence, sample_grid


#: The space a look applies in: None = the clip's input colour space (see the module docstring).
WORKING_SPACE = None

Look = Lut3D | OcioTransform | str | os.PathLike


def look_table(look: Look) -> DenseLut8:
    """The 8-bit apply table of a look: a :class:`Lut3D`, an :class:`OcioTransform`, or a
    path to any file OpenColorIO reads.

    Raises:
        FrameSourceError: a path that is missing or unreadable by OpenColorIO.
    """
    if isinstance(look, Lut3D):
        return DenseLut8.from_lut3d(look)
    if not isinstance(look, OcioTransform):
        look = load_look(look)
    return DenseLut8.from_ocio(look)


def look_function(look: Look) -> Callable[[np.ndarray], np.ndarray]:
    """The look as a function on float32 [H, W, 3] frames (input clamped to the LUT's 0..1
    domain, as OpenColorIO clamps a 3D LUT's input) → float32 [H, W, 3].

    Raises:
        FrameSourceError: a path that is missing or unreadable by OpenColorIO.
    """
    if isinstance(look, Lut3D):
        processor = look.float_processor()

        def apply_lut(frame: np.ndarray) -> np.ndarray:
            return apply_cpu(processor, np.array(frame, dtype=np.float32, order="C", copy=True))

        return apply_lut
    if not isinstance(look, OcioTransform):
        look = load_look(look)
    return look.apply_float


def apply_look(
    shot: FrameSource,
    look: Look,
    *,
    sink: Callable[[int, np.ndarray, np.ndarray], None],
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    reference: FrameSource | None = None,
    coverage: Coverage | None = None,
) -> FixResult:
    """Apply a look (a trained :class:`Lut3D` or a .cube/.3dl/.clf/.cdl/.ccc file) to a shot,
    at the shot's precision (see the module docstring).

    Args:
        shot: the frames to grade.
        look: see :func:`look_table`.
        sink: ``sink(frame_number, before, after)``, [H, W, 3] RGB each, in order: uint8 for
            8-bit sources, float32 at source precision for deeper ones (write them with
            ``FrameWriter(..., encoding=shot.encoding)``).
        progress: ``progress(done, total)`` after each frame.
        should_cancel: polled between frames; True stops the run with Cancelled.
        reference: optional clip of the same framing whose frame ``reference.first + i``
            is the wanted result for shot frame ``shot.first + i`` (e.g. the colourist's
            grade); adds per-pixel ΔE2000 measurements.
        coverage: the colours the look's training saw; None reads it from a look file Loupe
            trained (:meth:`Coverage.from_cube`), and a look without one reports no share.

    Returns:
        :class:`FixResult`: region all True; measurements ``flicker_*`` (see
        :class:`engine.ops.measure.FlickerMeter`), ``apply_frames_per_second``, with a
        coverage ``unseen_colours_fraction`` (0..1, share of the shot's sampled pixels in
        colours training never saw), and with a reference ``delta_e2000_mean`` / ``delta_e2000_p95``.

    Raises:
        FrameSourceError: unreadable shot, reference or look file.
        ParameterError: a reference of another size or with fewer frames.
        Cancelled: ``should_cancel()`` returned True.
    """
    if reference is not None:
        check_correspondence(shot, reference)
    deep = not shot.encoding.is_8bit
    if coverage is None and isinstance(look, (str, os.PathLike)):
        coverage = Coverage.from_cube(look)
    unseen, sampled = 0, 0
    apply = look_function(look) if deep else look_table(look).apply
    to_display = display_transform(shot.colorspace)  # measured as a viewer sees it, at every depth
    flicker = FlickerMeter(to_display)
    per_pixel = CorrespondingDeltaE(to_display)
    references = reference.frames(as_float=deep) if reference is not None else None
    total, done, applying = len(shot), 0, 0.0
    for number, before in shot.frames(as_float=deep):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"look apply cancelled after {done} of {total} frames")
        started = time.perf_counter()
        after = apply(before)
        applying += time.perf_counter() - started
        flicker.add(before, after)
        if coverage is not None:
            codes = sample_grid(before)
            unseen += int(coverage.unseen_mask(codes.astype(np.float32) / 255.0 if codes.dtype == np.uint8 else codes).sum())
            sampled += codes.shape[0] * codes.shape[1]
        if references is not None:
            per_pixel.add(after, next(references)[1])
        sink(number, before, after)
        done += 1
        if progress is not None:
            progress(done, total)
    measurements = {**flicker.measurements(), "apply_frames_per_second": done / max(applying, 1e-9)}
    if coverage is not None and sampled:
        measurements["unseen_colours_fraction"] = unseen / sampled
    if reference is not None:
        measurements.update(per_pixel.measurements("delta_e2000"))
    probe = shot.clip_probe
    return FixResult(region=np.ones((probe.height, probe.width), dtype=bool), measurements=measurements, frame_count=done)

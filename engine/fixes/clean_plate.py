"""Clean plate: a shot's background rebuilt from its own frames, without actors or props.

Method (the classical background-plate estimate of compositing tools, e.g. the temporal
median of Cucchiara et al., "Detecting Moving Objects, Ghosts, and Shadows in Video
Streams", IEEE TPAMI 25(10), 2003):

1. **Align.** Up to ``max_frames`` frames, evenly spaced over the shot, are aligned onto
   the reference frame's framing by a feature homography (:mod:`engine.ops.align`: ORB, RANSAC),
   which follows a panning or tilting camera (exactly for a camera that rotates, or a far
   scene). Frames that cannot be aligned with confidence are left out.
2. **Exclude masked pixels.** Masks (:mod:`engine.ops.region`, dilated by ``margin_px``) are
   warped along with their frames; masked pixels, and pixels outside a frame's view, do
   not vote.
3. **Robust temporal median, excluding moving pixels.** Per pixel, the median over the
   frames that see it; samples farther than ``motion_threshold`` (code values, any
   channel) from that median belong to something that moved through (a passer-by, a
   shadow) and are dropped; the plate is the median of the samples left.
4. **Confidence.** Per pixel, the share of sampled frames whose sample was kept. Pixels
   no frame ever showed (confidence 0) are filled spatially (:mod:`engine.ops.exemplar`) and
   reported as such; a confidence map comes with the plate.

Sources deeper than 8 bits are worked on in scene-linear ACEScg, the working space
:data:`WORKING_SPACE` (a median of light, not of a log or display encoding): each sampled frame
(float32 at source precision) is converted through OpenColorIO to ACEScg in 8-bit units (ACEScg
× 255, so ``motion_threshold`` keeps its scale), aligned by the homography found on its 8-bit
view, and held as float16 (11 significant bits of linear light, finer than a 12-bit log code);
the median is taken there, what no frame showed is filled by diffusion (Telea and Navier–Stokes,
:func:`engine.ops.fusion.diffusion_fill`, which works on float; the exemplar fill is 8-bit), and
the plate is converted back to the input colour space — float32 at source precision, written
at the source's depth (16-bit PNG, or EXR). The plate is a new picture (its region is the whole
frame), so no pixel is owed bit for bit. 8-bit sources keep their code-value path
(:data:`WORKING_SPACE_8BIT`).

Memory: the aligned samples (``max_frames`` frames; uint8, or float16 for deep sources) plus a
strip of float work space.
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.errors import Cancelled, ParameterError
from engine.fixes.result import FixResult
from engine.media.colour import COMPOSITING_SPACE, colorspace_transform
from engine.media.decode import FrameSource
from engine.media.images import quantise, write_image
from engine.media.probe import Encoding
from engine.ops import fusion, region
from engine.ops.align import align_to_shot
from engine.ops.exemplar import exemplar_fill
from engine.fixes.params import PlateParams  # noqa: F401  (moved there: importable without torch or OpenCV)

log = logging.getLogger(__name__)

#: The space the plate of a deep source is estimated in: scene-linear ACEScg.
WORKING_SPACE = COMPOSITING_SPACE
#: 8-bit sources are worked on as their own code values (None: the clip's input colour space).
WORKING_SPACE_8BIT = None

#: Rows of the frame whose medians are computed at once (bounds the float work space).
_STRIP_ROWS = 64


@dataclass
class PlateResult(FixResult):
    """A :class:`engine.fixes.result.FixResult` with the plate itself.

    Attributes:
        plate: [H, W, 3] RGB, in the reference frame's framing: uint8 for 8-bit sources,
            float32 at source precision in the clip's input colour space for deeper ones.
        confidence: float32 [H, W] in 0..1: the share of sampled frames that showed the
            background at each pixel; 0 where no frame did (filled spatially).
        reference_frame: the frame number whose framing the plate has.
    """

    plate: np.ndarray | None = None
    confidence: np.ndarray | None = None
    reference_frame: int = 0


def _sampled_numbers(frames: range, count: int, reference: int) -> set[int]:
    picks = np.linspace(frames.start, frames.stop - 1, num=min(count, len(frames)))
    return {int(round(p)) for p in picks} | {reference}


def _masked_median(samples: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Per-pixel median over usable samples; NaN where none. samples [S, h, W, 3] uint8."""
    values = samples.astype(np.float32)
    values[~usable] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice": pixels no frame showed
        return np.nanmedian(values, axis=0)


def run(
    *,
    shot: FrameSource,
    params: PlateParams | None = None,
    masks: region.MaskInput | None = None,
    sink: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> PlateResult:
    """Rebuild the clean plate of a shot from its own frames (see the module docstring).

    Args:
        shot: the frames, any depth (see the module docstring).
        params: :class:`PlateParams`; defaults when None.
        masks: what to leave out, when ``params.mask_folder`` is None: a folder, a
            :class:`engine.ops.region.MaskStream`, a callable or one bool [H, W] array; None =
            only moving pixels are left out.
        sink: called once as ``sink(reference_frame, reference, plate)`` ([H, W, 3]: uint8 for
            8-bit sources, float32 at source precision for deeper ones).
        progress: ``progress(done, total)`` after each sampled frame; total = frames sampled.
        should_cancel: polled between frames; True stops with :class:`Cancelled`.

    Returns:
        :class:`PlateResult`: ``region`` all True (the plate is a new picture), ``plate``,
        ``confidence``, and ``measurements`` (floats): ``frames_sampled``,
        ``frames_aligned`` (frames that voted), ``unseen_fraction`` (share of the plate no
        frame showed, filled spatially), ``confidence_mean``, ``moving_fraction`` (share of
        usable samples dropped as moving), ``reference_mean_abs_difference`` (mean |plate −
        reference frame| in 8-bit code units of the clip's encoding over the reference's unmasked pixels — small when
        the plate keeps the reference's look).

    Raises:
        ParameterError: invalid parameters; masks given twice; a reference frame outside the
            shot; masks of another size; no frame could be aligned.
        FrameSourceError: the shot or the masks cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    params = params if params is not None else PlateParams()
    if not isinstance(params, PlateParams):
        raise ParameterError(f"params must be PlateParams, got {type(params).__name__}")
    if params.mask_folder is not None and masks is not None:
        raise ParameterError("masks given twice: in the parameters and as an argument")
    if params.mask_folder is not None:
        masks = params.mask_folder
    frames = shot.frame_range
    reference_number = (frames.start + len(frames) // 2) if params.reference_frame is None else params.reference_frame
    if reference_number not in frames:
        raise ParameterError(
            f"reference_frame {reference_number} is outside the shot's frames {frames.start}–{frames.stop - 1}"
        )
    wanted = _sampled_numbers(frames, params.max_frames, reference_number)
    deep = not shot.encoding.is_8bit
    reference = next(FrameSource(shot.path, first=reference_number, stop=reference_number + 1,
                                 input_colorspace=shot.colorspace).frames(as_float=deep))[1]
    if deep:
        to_working = colorspace_transform(shot.colorspace, WORKING_SPACE)
        from_working = colorspace_transform(WORKING_SPACE, shot.colorspace)
    view = quantise(reference, np.uint8) if deep else reference  # what the alignment looks at
    height, width = reference.shape[:2]
    mask_iter = region.mask_stream(masks).masks(frames) if masks is not None else None
    samples: list[np.ndarray] = []
    usable: list[np.ndarray] = []
    reference_mask = np.zeros((height, width), bool)
    done = 0
    for number, frame in shot.frames(as_float=deep):
        mask = None
        if mask_iter is not None:
            _, mask = next(mask_iter)
            if mask.shape != (height, width):
                raise ParameterError(f"the mask of frame {number} is {mask.shape[1]}x{mask.shape[0]}, "
                                     f"the frame {width}x{height}")
            mask = region.dilate(mask, params.margin_px)
        if number not in wanted:
            continue
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"clean plate cancelled at frame {number}")
        if number == reference_number and mask is not None:
            reference_mask = mask
        working = (to_working(frame) * np.float32(255)).astype(np.float16) if deep else frame
        warped, valid = working, np.ones((height, width), bool)
        if params.align and number != reference_number:
            alignment = align_to_shot(view, quantise(frame, np.uint8) if deep else frame)
            if alignment is None:
                log.info("clean plate: frame %d of %s not aligned; left out", number, shot.path.name)
                done += 1
                if progress is not None:
                    progress(done, len(wanted))
                continue
            warped, valid = alignment.warped, alignment.valid
            if deep:  # the same warp as the 8-bit view's, on the working frame
                warped = cv2.warpPerspective(working.astype(np.float32), alignment.homography, (width, height),
                                             flags=cv2.INTER_LINEAR).astype(np.float16)
            if mask is not None:
                mask = cv2.warpPerspective(mask.astype(np.uint8), alignment.homography, (width, height),
                                           flags=cv2.INTER_NEAREST) > 0
        samples.append(warped)
        usable.append(valid if mask is None else valid & ~mask)
        done += 1
        if progress is not None:
            progress(done, len(wanted))
    if len(samples) < 1:
        raise ParameterError(f"no frame of {shot.path.name} could be aligned to frame {reference_number}")
    stack = np.stack(samples)
    use = np.stack(usable)
    del samples, usable
    plate = np.zeros((height, width, 3), np.float32)
    kept_count = np.zeros((height, width), np.int32)
    usable_count = int(use.sum())
    for top in range(0, height, _STRIP_ROWS):
        rows = slice(top, min(height, top + _STRIP_ROWS))
        strip, strip_use = stack[:, rows], use[:, rows]
        median = _masked_median(strip, strip_use)
        distance = np.abs(strip.astype(np.float32) - median[None]).max(axis=3)
        kept = strip_use & (distance <= params.motion_threshold)
        plate[rows] = _masked_median(strip, kept)
        kept_count[rows] = kept.sum(axis=0)
    unseen = kept_count == 0
    plate = np.nan_to_num(plate, nan=0.0)
    if deep:
        if unseen.any():
            plate = fusion.diffusion_fill(plate, unseen)
        plate_out = from_working(plate / np.float32(255))
        codes = (plate_out * np.float32(255), reference * np.float32(255))
    else:
        plate_out = np.clip(plate + 0.5, 0, 255).astype(np.uint8)
        if unseen.any():
            plate_out = exemplar_fill(plate_out, unseen)
        codes = (plate_out.astype(np.float32), reference)
    confidence = kept_count.astype(np.float32) / len(stack)
    compare = ~reference_mask
    measurements = {
        "frames_sampled": float(len(wanted)),
        "frames_aligned": float(len(stack)),
        "unseen_fraction": float(unseen.mean()),
        "confidence_mean": float(confidence.mean()),
        "moving_fraction": float(1.0 - kept_count.sum() / max(usable_count, 1)),
        "reference_mean_abs_difference": float(
            np.abs(codes[0] - codes[1])[compare].mean()) if compare.any() else float("nan"),
    }
    if sink is not None:
        sink(reference_number, reference, plate_out)
    log.info("clean plate %s: %s", shot.path.name, measurements)
    return PlateResult(region=np.ones((height, width), bool), measurements=measurements, frame_count=1,
                       plate=plate_out, confidence=confidence, reference_frame=reference_number)


def write_plate(path, plate: np.ndarray, encoding: Encoding | None = None, colorspace: str | None = None) -> None:
    """Write a plate ([H, W, 3] RGB) atomically (a temporary file renamed into place): uint8 as
    an 8-bit PNG; float32 (a deep source's plate) at the source's ``encoding`` — a ``.png``
    path as a 16-bit PNG, an ``.exr`` path as EXR (half, or float for float sources) recording
    ``colorspace``.

    Raises:
        ParameterError: the file cannot be written, or a float plate to a path that is
            neither ``.png`` nor ``.exr``.
    """
    path = Path(path)
    if plate.dtype == np.uint8:
        _write_png(path, cv2.cvtColor(plate, cv2.COLOR_RGB2BGR))
        return
    suffix = path.suffix.lower()
    if suffix not in (".png", ".exr"):
        raise ParameterError(f"a deep source's plate is written as .png (16-bit) or .exr, not {path.name}")
    sample_type = "uint16" if suffix == ".png" else ("float" if encoding is not None and
                                                      encoding.sample_type == "float" else "half")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write_image(temporary, plate, sample_type=sample_type, colorspace=colorspace)
        os.replace(temporary, path)
    except OSError as exc:
        raise ParameterError(f"could not write {path}: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


def write_confidence(path, confidence: np.ndarray) -> None:
    """Write a confidence map (float [H, W], 0..1) as an 8-bit grey PNG (255 = every frame
    showed the pixel, 0 = none did).

    Raises:
        ParameterError: the file cannot be written.
    """
    _write_png(Path(path), np.clip(confidence * 255.0 + 0.5, 0, 255).astype(np.uint8))


def _write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial.png")
    try:
        if not cv2.imwrite(str(temporary), image):
            raise ParameterError(f"could not write {path}")
        os.replace(temporary, path)
    except OSError as exc:
        raise ParameterError(f"could not write {path}: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)

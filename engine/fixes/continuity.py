"""Continuity check between two shots or takes of one scene: what appeared, disappeared, moved,
or changed light between take A and take B, ignoring what is expected to move.

Method (all on frames scaled to ``ANALYSIS_WIDTH`` pixels wide, in shot B's framing):

1. **Sample and align.** ``params.samples`` frames are taken evenly from each take. Every sample
   of both takes is aligned onto B's middle sample (the *key*) by a feature homography
   (:func:`engine.ops.align.align_to_shot`: ORB, ratio test, RANSAC), which absorbs camera motion
   (pan, tilt, zoom, handheld shake) and the framing difference between the takes.
2. **Plates and what moves.** Each take's aligned samples give a *plate*, their per-pixel temporal
   median (people and props that move through the take are voted out of it), and a *moving* mask:
   pixels where the samples differ from the plate (within ``parallax_px``, as the takes are
   compared: a pixel of alignment jitter on a high-contrast edge is not motion) in at least
   ``MOVING_SHARE`` of them (people, animals, vehicles, waving trees). Pixels moving in either take are not compared.
3. **Light.** The mean relative luminance (CIE Y) and mean chroma (a*, b*) of the two plates over
   the pixels both show are compared: a difference beyond ``exposure_threshold_stops`` stops or
   ``white_balance_threshold`` ΔE*ab is a ``light`` finding (the whole frame). Exposure is the
   median per-pixel luminance ratio (in stops) over the pixels neither clipped (Y ≥
   ``CLIPPED_Y``) nor near black in either plate, so that a white table clipped in both takes
   does not dilute it. Then A's plate is
   brought to B's colour by the shot match's MKL transfer (:func:`engine.fixes.match.fit_colour_transfer`,
   Pitié & Kokaram 2007), so that light alone raises no other finding.
4. **Differences.** Per pixel, the CIELAB distance of each plate to the other's range of colours
   within ``parallax_px`` (a min/max envelope, so that residual parallax and a pixel of
   misalignment do not count) — the larger of the two ways. Pixels beyond
   ``difference_threshold`` ΔE*ab, opened and closed morphologically, form connected *seeds*;
   seeds smaller than ``min_area_fraction`` of the frame are dropped.
5. **Which take, and the whole object** (:mod:`engine.ops.change`, ADR 0015). Largest seed first:
   the take holding the object is the one whose seed pixels are less explained by the unchanged
   background around the seed (nearest-colour novelty, :func:`engine.ops.change.holder`): B
   holds it → ``appeared``, A → ``disappeared``. The object is segmented on that take's plate
   by GrabCut initialised from the plain (no-tolerance) difference around the seed
   (:func:`engine.ops.change.segment`); a seed mostly inside an object already found, or whose
   object overlaps one, is part of it. Masks are scaled to B's full size.
6. **Moved.** An object only A holds and one only B holds with the same colours (Bhattacharyya
   coefficient of CIELAB histograms ≥ ``MOVED_SIMILARITY``, areas within ``MOVED_AREA_RATIO``)
   are one ``moved`` finding: mask and box where it is in B, ``mask_a``/``box_a`` where it was in A.
7. **Frame ranges.** A seed's frames in each take are the first and last samples of that take
   whose aligned content in the seed is what the take's plate shows there (and so differs from
   the other take).

Findings carry a confidence in 0..1 (how far beyond the threshold the seed's mean difference
lies, times the share of B's samples showing it), the object's mask (B's framing and size) and
picture crops of both sides (full resolution; A's crop seen from B's framing; for ``moved`` both
places). Known limit: each sample is aligned on its own; a sample whose homography is thrown off
by a large moving foreground (RANSAC fitting the moving person) makes the still pixels at the
frame's corners look moving, and an object there is not compared (bench: coffee).
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from engine.device import single_thread
from engine.errors import FrameWriteError, ParameterError, check_cancel
from engine.fixes.match import fit_colour_transfer
from engine.media.decode import FrameSource
from engine.ops import change
from engine.ops.align import ShotAligner
from engine.fixes.params import ContinuityParams  # noqa: F401  (moved there: importable without torch or OpenCV)

log = logging.getLogger(__name__)

#: The space this check compares in: an 8-bit view of each take (findings and crops, no output frames).
WORKING_SPACE = None

#: Frames are compared at this width (pixels); boxes are scaled back to shot B's pixels.
ANALYSIS_WIDTH = 480
#: A pixel that differs from its take's plate in at least this share of the samples is moving.
MOVING_SHARE = 0.25
#: An object only A holds and one only B holds whose colours are at least this similar
#: (Bhattacharyya coefficient of CIELAB histograms, :func:`engine.ops.change.similarity`) are one moved prop ...
MOVED_SIMILARITY = 0.6
#: ... if the smaller's area is at least this share of the larger's.
MOVED_AREA_RATIO = 0.5
#: A seed or object that shares at least this share of its pixels with an object already found
#: (held by the same take) is part of that object.
OVERLAP_SHARE = 0.3
#: Pixels of a plate at or above this relative luminance (CIE Y) are taken as clipped, and left
#: out of the exposure measure; so are those below ``DARK_Y`` (noise and black level).
CLIPPED_Y, DARK_Y = 0.85, 0.005
#: Kinds of finding, as FINDINGS.json spells them.
KINDS = ("appeared", "disappeared", "moved", "light")


@dataclass
class Finding:
    """One continuity difference between take A and take B.

    Attributes:
        kind: ``"appeared"`` (in B, not in A), ``"disappeared"`` (in A, not in B), ``"moved"``
            (in both, elsewhere) or ``"light"`` (exposure or white balance, whole frame).
        frames_a, frames_b: ``(first, last)`` frame numbers (from 0 at the start of each clip,
            inclusive) of the samples of each take that show the difference.
        box: ``(x, y, width, height)`` in shot B's pixels.
        confidence: 0..1.
        crop_a, crop_b: uint8 [h, w, 3] RGB pictures of the box and some context, in A (seen
            from B's framing) and in B; not part of :meth:`to_dict`.
        details: named floats (mean difference ΔE*ab, exposure stops, …).
        take: which take holds the object: ``"b"`` (appeared), ``"a"`` (disappeared),
            ``"both"`` (moved); None for ``light``.
        mask: bool [H, W] in shot B's pixels, the object's own mask: where it is in B
            (appeared, moved) or where it was in A, seen from B's framing (disappeared); None
            for ``light``. ``box`` is its bounding box. Written as a PNG by :func:`write_findings`.
        box_a, mask_a: for ``moved``, where the object was in A (B's framing, B's pixels); else None.
    """

    kind: str
    frames_a: tuple[int, int]
    frames_b: tuple[int, int]
    box: tuple[int, int, int, int]
    confidence: float
    crop_a: np.ndarray = field(repr=False)
    crop_b: np.ndarray = field(repr=False)
    details: dict[str, float] = field(default_factory=dict)
    take: str | None = None
    mask: np.ndarray | None = field(default=None, repr=False)
    box_a: tuple[int, int, int, int] | None = None
    mask_a: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, object]:
        """The finding as FINDINGS.json holds it (no pictures): ``kind``, ``frames_a``,
        ``frames_b``, ``box``, ``confidence``, ``details``, ``take``; for objects ``outline``
        (:func:`outline` of ``mask``); for ``moved`` ``box_a``."""
        document = {"kind": self.kind, "frames_a": list(self.frames_a), "frames_b": list(self.frames_b),
                    "box": list(self.box), "confidence": round(self.confidence, 4),
                    "details": {k: round(float(v), 4) for k, v in self.details.items()}, "take": self.take}
        if self.mask is not None:
            document["outline"] = outline(self.mask)
        if self.box_a is not None:
            document["box_a"] = list(self.box_a)
        return document


#: An object's outline in FINDINGS.json keeps at most this many points.
OUTLINE_POINTS = 400


def outline(mask: np.ndarray) -> list[list[int]]:
    """The outer contour of the largest part of a bool [H, W] mask as ``[[x, y], ...]``, the
    border pixels' coordinates (OpenCV's border following, Suzuki & Abe 1985), simplified by Douglas–Peucker
    (1 px, more if needed to keep at most ``OUTLINE_POINTS`` points); [] for an empty mask.
    The polygon a fix request's mask takes (``"shape": "polygon"``)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return []
    contour = max(contours, key=cv2.contourArea)
    epsilon = 1.0
    points = cv2.approxPolyDP(contour, epsilon, True)
    while len(points) > OUTLINE_POINTS:
        epsilon *= 1.5
        points = cv2.approxPolyDP(contour, epsilon, True)
    return [[int(x), int(y)] for x, y in points[:, 0]]


@dataclass
class ContinuityResult:
    """What a continuity check found.

    Attributes:
        findings: :class:`Finding` list, most confident first.
        measurements: flat dict of floats: ``samples_aligned_a``, ``samples_aligned_b``,
            ``exposure_difference_stops`` (B − A), ``white_balance_difference`` (ΔE*ab of mean
            chroma), ``moving_fraction`` (share of the frame ignored as moving),
            ``compared_fraction`` (share compared), ``frames_per_second`` (frames of both takes
            covered per second of checking).
    """

    findings: list[Finding]
    measurements: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        """``{"findings": [...], "measurements": {...}}`` (JSON-serialisable)."""
        return {"findings": [f.to_dict() for f in self.findings], "measurements": self.measurements}


@dataclass
class _Take:
    numbers: list[int]
    aligned: np.ndarray       # uint8 [S, h, w, 3], in B's key framing
    valid: np.ndarray         # bool [S, h, w]
    plate: np.ndarray         # uint8 [h, w, 3]
    plate_valid: np.ndarray   # bool [h, w]
    moving: np.ndarray        # bool [h, w]


_check_cancel = functools.partial(check_cancel, fix="continuity check")


def _lab(image: np.ndarray) -> np.ndarray:
    """float32 [H, W, 3] CIELAB (D65; L* 0..100) of uint8 [H, W, 3] sRGB, through OpenCV (which
    decodes the sRGB transfer function, IEC 61966-2-1, before the CIE 15 conversion)."""
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _samples(source: FrameSource, count: int) -> list[tuple[int, np.ndarray]]:
    step = max(1, len(source) // count)
    return [item for _, item in zip(range(count), source.frames(step=step))]


def _small(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    if width <= ANALYSIS_WIDTH:
        return frame
    size = (ANALYSIS_WIDTH, max(1, round(height * ANALYSIS_WIDTH / width)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


#: ORB features per analysis frame (ANALYSIS_WIDTH wide).
ALIGN_FEATURES = 1500


def _take(samples: list[tuple[int, np.ndarray]], aligner: ShotAligner, threshold: float, name: str,
          tolerance: int) -> _Take:
    numbers, aligned, valid = [], [], []
    for number, frame in samples:
        alignment = aligner.align(_small(frame))
        if alignment is None:
            log.info("continuity: frame %d of take %s does not align with B's key frame; left out", number, name)
            continue
        numbers.append(number)
        aligned.append(alignment.warped)
        valid.append(alignment.valid)
    if len(numbers) < 2:
        raise ParameterError(
            f"take {name}: only {len(numbers)} of {len(samples)} sampled frames align with take B — "
            "are the two takes the same setup, seen from about the same place?"
        )
    stack = np.stack(aligned)
    valid_stack = np.stack(valid)
    seen = valid_stack.sum(axis=0)
    plate_valid = seen >= max(2, math.ceil(0.5 * len(numbers)))
    plate = _median_of_valid(stack, valid_stack, seen).round().astype(np.uint8)
    plate_lab = _lab(plate)
    deviating = np.zeros(plate_valid.shape, np.float32)
    for image, ok in zip(stack, valid_stack):
        # Within ``tolerance`` pixels, as the takes are compared: a pixel of alignment jitter
        # between samples on a high-contrast edge is not motion.
        distance = _envelope_distance(_lab(image), plate_lab, tolerance)
        deviating += (distance > threshold) & ok
    moving = (deviating / np.maximum(seen, 1)) >= MOVING_SHARE
    moving = cv2.dilate(moving.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    return _Take(numbers=numbers, aligned=stack, valid=valid_stack, plate=plate, plate_valid=plate_valid,
                 moving=moving)


def _median_of_valid(stack: np.ndarray, valid: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Per pixel and channel, the median of the samples of ``stack`` (uint8 [S, h, w, 3]) that
    ``valid`` (bool [S, h, w]; ``seen`` its count per pixel) marks, as ``np.nanmedian`` gives it
    with the others set to NaN (the mean of the two middle ones for an even count); 0 where no
    sample is valid. float32 [h, w, 3].

    A sort along the samples with invalid ones pushed to the end (as 256), then the middle ones
    picked by count: ``np.nanmedian`` over a short axis goes through masked arrays, ten times slower."""
    ordered = np.where(valid[..., None], stack.astype(np.int16), np.int16(256))
    ordered.sort(axis=0)
    count = seen[None, ..., None].astype(np.intp)
    lower = np.take_along_axis(ordered, np.maximum(count - 1, 0) // 2, axis=0)[0].astype(np.float32)
    upper = np.take_along_axis(ordered, count // 2 - (count == 0), axis=0)[0].astype(np.float32)
    median = (lower + upper) / 2.0
    median[seen == 0] = 0.0
    return median


def _envelope_distance(lab: np.ndarray, other: np.ndarray, radius: int) -> np.ndarray:
    """Per pixel, the Euclidean distance (ΔE*ab) from ``lab`` to the per-channel [min, max] range
    of ``other`` within ``radius`` pixels (float32 [h, w])."""
    if radius == 0:
        return np.linalg.norm(lab - other, axis=2)
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    low = cv2.erode(other, kernel)
    high = cv2.dilate(other, kernel)
    outside = np.maximum(low - lab, 0.0) + np.maximum(lab - high, 0.0)
    return np.linalg.norm(outside, axis=2)


def _relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """CIE Y of uint8 sRGB (IEC 61966-2-1 decoding, ITU-R BT.709 primaries)."""
    value = rgb.astype(np.float32) / 255.0
    linear = np.where(value <= 0.04045, value / 12.92, ((value + 0.055) / 1.055) ** 2.4)
    return linear @ np.float32([0.2126, 0.7152, 0.0722])


def _present(take: _Take, region: np.ndarray, threshold: float) -> list[int]:
    """Frame numbers of the take's samples that show in ``region`` what its plate shows there
    (so differ from the other take as the plates do)."""
    plate_lab = _lab(take.plate)
    shown = []
    for number, image, ok in zip(take.numbers, take.aligned, take.valid):
        pixels = region & ok
        if pixels.sum() < 0.5 * region.sum():
            continue
        distance = np.linalg.norm(_lab(image)[pixels] - plate_lab[pixels], axis=1)
        if np.median(distance) <= threshold:
            shown.append(number)
    return shown


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    pad_x, pad_y = w // 4 + 4, h // 4 + 4
    height, width = image.shape[:2]
    return np.ascontiguousarray(image[max(0, y - pad_y):min(height, y + h + pad_y),
                                      max(0, x - pad_x):min(width, x + w + pad_x)])


def run(
    *,
    shot: FrameSource,
    reference: FrameSource,
    params: ContinuityParams | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> ContinuityResult:
    """Find continuity differences between take A (``reference``) and take B (``shot``).

    See the module docstring for the method. Nothing is rendered: the check reports findings
    (the portal turns one into an object-removal or relight fix request).

    Args:
        shot: take B, whose framing boxes are given in (any length; ``params.samples`` frames
            of it are read, the others decoded and skipped).
        reference: take A (any size; it is aligned onto B).
        params: :class:`ContinuityParams`; defaults when None.
        progress: ``progress(done, total)`` over the sampled frames of both takes.
        should_cancel: polled between frames; True stops the run with :class:`Cancelled`.

    Returns:
        :class:`ContinuityResult`.

    Raises:
        ParameterError: invalid params; too few sampled frames of a take align with B's key
            frame (not the same setup).
        FrameSourceError: a take cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    params = params if params is not None else ContinuityParams()
    if not isinstance(params, ContinuityParams):
        raise ParameterError(
            f"params must be ContinuityParams (use ContinuityParams.from_dict for stored JSON), "
            f"got {type(params).__name__}"
        )
    started = time.perf_counter()
    samples_b = _samples(shot, params.samples)
    _check_cancel(should_cancel, "after reading take B")
    samples_a = _samples(reference, params.samples)
    _check_cancel(should_cancel, "after reading take A")
    total = len(samples_a) + len(samples_b)
    key_number, key_full = samples_b[len(samples_b) // 2]
    key = _small(key_full)
    threshold = params.difference_threshold
    aligner = ShotAligner(key, features=ALIGN_FEATURES)
    take_b = _take(samples_b, aligner, threshold, "B", params.parallax_px)
    if progress is not None:
        progress(len(samples_b), total)
    _check_cancel(should_cancel, "after aligning take B")
    take_a = _take(samples_a, aligner, threshold, "A", params.parallax_px)
    if progress is not None:
        progress(total, total)
    height, width = key.shape[:2]

    shared = take_a.plate_valid & take_b.plate_valid
    moving = take_a.moving | take_b.moving
    static = shared & ~moving
    if static.mean() < 0.05:
        raise ParameterError("the takes share too few still pixels to compare (less than 5 % of the frame)")

    lab_b = _lab(take_b.plate)
    # Bring A's colour to B's (MKL over the still pixels both show), then compare. The transfer is
    # fitted twice: the second time without the pixels the first comparison found different, so
    # that the very objects being looked for do not bend the colour match.
    fit_pixels = static
    for _ in range(2):
        with single_thread():  # small tensors: one torch thread is faster (see engine.device)
            plate_a = _transferred(take_a.plate,
                                   fit_colour_transfer(take_a.plate[fit_pixels], take_b.plate[fit_pixels]))
        lab_a = _lab(plate_a)
        distance = np.maximum(_envelope_distance(lab_a, lab_b, params.parallax_px),
                              _envelope_distance(lab_b, lab_a, params.parallax_px))
        matching = static & (distance <= threshold)
        fit_pixels = matching if matching.sum() >= 0.25 * static.sum() else static
    # Light: the plates before normalising colour, over the still pixels that matched in colour.
    # Exposure: the median per-pixel ratio of luminance, in stops, over the pixels neither clipped
    # nor near black in either plate (a white table clipped in both takes does not dilute it).
    luminance_a = _relative_luminance(take_a.plate)[fit_pixels]
    luminance_b = _relative_luminance(take_b.plate)[fit_pixels]
    measurable = ((luminance_a < CLIPPED_Y) & (luminance_b < CLIPPED_Y)
                  & (luminance_a > DARK_Y) & (luminance_b > DARK_Y))
    if measurable.sum() >= 100:
        exposure_stops = float(np.median(np.log2(luminance_b[measurable] / luminance_a[measurable])))
    else:
        exposure_stops = math.log2(max(float(luminance_b.mean()), 1e-6) / max(float(luminance_a.mean()), 1e-6))
    lab_a_raw = _lab(take_a.plate)
    chroma_shift = float(np.linalg.norm(lab_b[fit_pixels][:, 1:].mean(axis=0)
                                        - lab_a_raw[fit_pixels][:, 1:].mean(axis=0)))

    distance[~static] = 0.0
    differs = (distance > threshold).astype(np.uint8)
    differs = cv2.morphologyEx(differs, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    differs = cv2.morphologyEx(differs, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(differs, connectivity=8)
    unchanged = static & (distance <= change.MATCH_SHARE * threshold)
    # The plain difference (no parallax tolerance, a pixel of blur against resampling), for
    # segmenting the object around a seed.
    plain = np.linalg.norm(cv2.GaussianBlur(lab_a, (3, 3), 0) - cv2.GaussianBlur(lab_b, (3, 3), 0), axis=2)
    plain[~static] = 0.0

    # A's frames in B's framing at full size, for crops.
    middle_a = samples_a[len(samples_a) // 2][1]
    full_alignment = ShotAligner(key_full).align(middle_a)
    view_a = full_alignment.warped if full_alignment is not None else _upsample(plate_a, key_full.shape)
    full_size = (shot.clip_probe.height, shot.clip_probe.width)

    min_area = params.min_area_fraction * width * height
    objects: list[dict] = []
    for index in sorted(range(1, count), key=lambda i: -stats[i, cv2.CC_STAT_AREA]):
        area = int(stats[index, cv2.CC_STAT_AREA])
        if area < min_area:
            continue
        seed = labels == index
        side, novelty_a, novelty_b = change.holder(lab_a, lab_b, seed, unchanged)
        # A seed that is mostly inside an object already found (with the same holder) is a part of it.
        if any(o["take"] == side and (o["small"] & seed).sum() >= OVERLAP_SHARE * area for o in objects):
            continue
        image = take_b.plate if side == "b" else plate_a
        small_mask = change.segment(image, plain, seed, threshold)
        mean_difference = float(distance[seed].mean())
        frames_b = _present(take_b, seed, threshold)
        frames_a = _present(take_a, seed, threshold)
        share_b = len(frames_b) / len(take_b.numbers)
        confidence = min(1.0, (mean_difference - threshold) / threshold) * share_b
        merged = next((o for o in objects if o["take"] == side
                       and (o["small"] & small_mask).sum() >= OVERLAP_SHARE * min(o["small"].sum(), small_mask.sum())),
                      None)
        if merged is not None:
            merged["small"] |= small_mask
            merged["confidence"] = max(merged["confidence"], max(0.0, confidence))
            continue
        objects.append({"take": side, "small": small_mask, "confidence": max(0.0, confidence),
                        "frames_a": frames_a or take_a.numbers, "frames_b": frames_b or take_b.numbers,
                        "mean_difference": mean_difference, "novelty_a": novelty_a, "novelty_b": novelty_b})
    for found in objects:
        found["mask"] = _full_mask(found["small"], full_size)
        found["box"] = _box(found["mask"])

    findings = _pair_moved(objects, plate_a, take_b.plate, view_a, key_full)
    findings = [f for f in findings if f.confidence > 0.0]
    if abs(exposure_stops) > params.exposure_threshold_stops or chroma_shift > params.white_balance_threshold:
        light_confidence = max(abs(exposure_stops) / max(params.exposure_threshold_stops, 1e-6),
                               chroma_shift / max(params.white_balance_threshold, 1e-6))
        findings.append(Finding(
            kind="light", frames_a=(take_a.numbers[0], take_a.numbers[-1]),
            frames_b=(take_b.numbers[0], take_b.numbers[-1]),
            box=(0, 0, shot.clip_probe.width, shot.clip_probe.height),
            confidence=min(1.0, 0.5 * light_confidence), crop_a=view_a.copy(), crop_b=key_full.copy(),
            details={"exposure_difference_stops": exposure_stops, "white_balance_difference": chroma_shift}))
    findings.sort(key=lambda f: -f.confidence)
    elapsed = time.perf_counter() - started
    measurements = {
        "samples_aligned_a": float(len(take_a.numbers)), "samples_aligned_b": float(len(take_b.numbers)),
        "exposure_difference_stops": exposure_stops, "white_balance_difference": chroma_shift,
        "moving_fraction": float(moving.mean()), "compared_fraction": float(static.mean()),
        "frames_per_second": (len(shot) + len(reference)) / elapsed if elapsed > 0 else 0.0,
        "findings": float(len(findings)),
    }
    log.info("continuity %s vs %s: %d findings, %s", reference.path.name, shot.path.name, len(findings), measurements)
    return ContinuityResult(findings=findings, measurements=measurements)


def _transferred(image: np.ndarray, transfer: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
    """uint8 [H, W, 3] RGB through a colour transfer of :func:`engine.fixes.match.fit_colour_transfer`."""
    out = transfer(torch.from_numpy(image.reshape(-1, 3).astype(np.float32) / 255.0))
    return np.clip(out.numpy().reshape(image.shape) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _upsample(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _full_mask(small: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool [H, W] at shot B's full size from an analysis-size bool mask (bilinear, then 0.5)."""
    if small.shape == size:
        return small.copy()
    return cv2.resize(small.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR) >= 0.5


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    return int(x), int(y), int(w), int(h)


def _pair_moved(objects: list[dict], plate_a: np.ndarray, plate_b: np.ndarray, view_a: np.ndarray,
                view_b: np.ndarray) -> list[Finding]:
    """Findings from objects, pairing an object only A holds with one only B holds that shows the
    same thing (colour similarity ≥ ``MOVED_SIMILARITY``, areas within ``MOVED_AREA_RATIO``) into
    one ``moved`` finding — the most similar pairs first."""
    pairs = []
    for i, in_b in enumerate(objects):
        if in_b["take"] != "b":
            continue
        for j, in_a in enumerate(objects):
            if in_a["take"] != "a":
                continue
            areas = sorted((float(in_b["small"].sum()), float(in_a["small"].sum())))
            if areas[0] < MOVED_AREA_RATIO * areas[1]:
                continue
            score = change.similarity(plate_a, in_a["small"], plate_b, in_b["small"])
            if score >= MOVED_SIMILARITY:
                pairs.append((score, i, j))
    used: set[int] = set()
    findings = []
    for score, i, j in sorted(pairs, reverse=True):
        if i in used or j in used:
            continue
        used.update((i, j))
        in_b, in_a = objects[i], objects[j]
        found = dict(in_b, confidence=max(in_b["confidence"], in_a["confidence"]))
        findings.append(_finding(found, view_a, view_b, kind="moved", frames_a=in_a["frames_a"], other=in_a,
                                 extra={"moved_from_x": in_a["box"][0], "moved_from_y": in_a["box"][1],
                                        "similarity": score}))
    for i, found in enumerate(objects):
        if i not in used:
            findings.append(_finding(found, view_a, view_b))
    return findings


def _finding(found: dict, view_a: np.ndarray, view_b: np.ndarray, *, kind: str | None = None,
             frames_a: list[int] | None = None, other: dict | None = None,
             extra: dict[str, float] | None = None) -> Finding:
    frames_a = frames_a if frames_a is not None else found["frames_a"]
    frames_b = found["frames_b"]
    kind = kind or ("appeared" if found["take"] == "b" else "disappeared")
    box = found["box"]
    crop_box = box if other is None else _union_box(box, other["box"])
    return Finding(kind=kind, frames_a=(frames_a[0], frames_a[-1]), frames_b=(frames_b[0], frames_b[-1]),
                   box=box, confidence=found["confidence"],
                   crop_a=_crop(view_a, crop_box), crop_b=_crop(view_b, crop_box),
                   details={"mean_difference_delta_e": found["mean_difference"],
                            "novelty_a_delta_e": found["novelty_a"], "novelty_b_delta_e": found["novelty_b"],
                            **(extra or {})},
                   take={"appeared": "b", "disappeared": "a", "moved": "both"}[kind], mask=found["mask"],
                   box_a=other["box"] if other is not None else None,
                   mask_a=other["mask"] if other is not None else None)


def _union_box(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x0, y0 = min(box[0], other[0]), min(box[1], other[1])
    x1, y1 = max(box[0] + box[2], other[0] + other[2]), max(box[1] + box[3], other[1] + other[3])
    return x0, y0, x1 - x0, y1 - y0


def write_findings(result: ContinuityResult, out: str | os.PathLike) -> dict[str, object]:
    """Write ``FINDINGS.json`` and the crops beside it, atomically.

    The JSON is ``{"findings": [{"kind", "frames_a", "frames_b", "box", "confidence", "details",
    "take", "crop_a", "crop_b", "outline"?, "mask"?, "box_a"?, "mask_a"?}, ...], "measurements": {...}}``;
    ``crop_a``/``crop_b`` name PNG files in the same folder (``<stem>-001-a.png``,
    ``<stem>-001-b.png``, …); ``mask`` (objects) names the object's mask, a PNG of shot B's size,
    0 outside and 255 inside (``<stem>-001-mask.png``), and for ``moved`` ``mask_a`` where it was
    in A (``<stem>-001-mask-a.png``); ``outline`` is that mask's outer contour as a polygon
    ``[[x, y], ...]`` in B's pixels. ``take`` is ``"a"``, ``"b"``, ``"both"`` or null (light).
    Every file is written under a temporary name and renamed into place, the JSON last.

    Returns:
        The JSON document written.

    Raises:
        FrameWriteError: a file cannot be written.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    document = result.to_dict()
    try:
        for index, (finding, entry) in enumerate(zip(result.findings, document["findings"]), start=1):
            pictures = [("crop_a", "a", cv2.cvtColor(finding.crop_a, cv2.COLOR_RGB2BGR)),
                        ("crop_b", "b", cv2.cvtColor(finding.crop_b, cv2.COLOR_RGB2BGR))]
            if finding.mask is not None:
                pictures.append(("mask", "mask", finding.mask.astype(np.uint8) * 255))
            if finding.mask_a is not None:
                pictures.append(("mask_a", "mask-a", finding.mask_a.astype(np.uint8) * 255))
            for key, suffix, picture in pictures:
                name = f"{out.stem}-{index:03d}-{suffix}.png"
                temporary = out.parent / f".{name}.partial.png"
                if not cv2.imwrite(str(temporary), picture):
                    raise FrameWriteError(f"could not write {temporary}")
                os.replace(temporary, out.parent / name)
                entry[key] = name
        temporary = out.parent / f".{out.name}.partial"
        temporary.write_text(json.dumps(document, indent=2))
        os.replace(temporary, out)
    except OSError as exc:
        raise FrameWriteError(f"could not write {out}: {exc}") from exc
    return document

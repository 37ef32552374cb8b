"""Continuity check between two shots or takes of one scene: what appeared, disappeared, moved,
or changed light between take A and take B, ignoring what is expected to move.

Method (all on frames scaled to ``ANALYSIS_WIDTH`` pixels wide, in shot B's framing):

1. **Sample and align.** ``params.samples`` frames are taken evenly from each take. Every sample
   of both takes is aligned onto B's middle sample (the *key*) by a feature homography
   (:func:`engine.ops.align.align_to_shot`: ORB, ratio test, RANSAC), which absorbs camera motion
   (pan, tilt, zoom, handheld shake) and the framing difference between the takes.
2. **Plates and what moves.** Each take's aligned samples give a *plate*, their per-pixel temporal
   median (people and props that move through the take are voted out of it), and a *moving* mask:
   pixels where the samples differ from the plate in at least ``MOVING_SHARE`` of them (people,
   animals, vehicles, waving trees). Pixels moving in either take are not compared.
3. **Light.** The mean relative luminance (CIE Y) and mean chroma (a*, b*) of the two plates over
   the pixels both show are compared: a difference beyond ``exposure_threshold_stops`` stops or
   ``white_balance_threshold`` ΔE*ab is a ``light`` finding (the whole frame). Then A's plate is
   brought to B's colour by the shot match's MKL transfer (:func:`engine.fixes.match.fit_colour_transfer`,
   Pitié & Kokaram 2007), so that light alone raises no other finding.
4. **Differences.** Per pixel, the CIELAB distance of each plate to the other's range of colours
   within ``parallax_px`` (a min/max envelope, so that residual parallax and a pixel of
   misalignment do not count) — the larger of the two ways. Pixels beyond
   ``difference_threshold`` ΔE*ab, opened and closed morphologically, form connected regions;
   regions smaller than ``min_area_fraction`` of the frame are dropped.
5. **Kind.** A region whose content stands out from its surroundings more in B than in A (contrast
   to a ring around it) is ``appeared``, the other way round ``disappeared``; an appeared and a
   disappeared region showing the same thing (normalised cross-correlation of the two crops in
   CIELAB ≥ ``MOVED_CORRELATION``) are merged into one ``moved`` finding (box where it is in B).
6. **Frame ranges.** A region's frames in each take are the first and last samples of that take
   whose aligned content in the region is what the take's plate shows there (and so differs from
   the other take).

Findings carry a confidence in 0..1 (how far beyond the threshold the mean difference lies, times
the share of B's samples showing it) and picture crops of both sides (full resolution; A's crop
seen from B's framing).
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
from engine.ops.align import ShotAligner
from engine.fixes.params import ContinuityParams  # noqa: F401  (moved there: importable without torch or OpenCV)

log = logging.getLogger(__name__)

#: The space this check compares in: an 8-bit view of each take (findings and crops, no output frames).
WORKING_SPACE = None

#: Frames are compared at this width (pixels); boxes are scaled back to shot B's pixels.
ANALYSIS_WIDTH = 480
#: A pixel that differs from its take's plate in at least this share of the samples is moving.
MOVING_SHARE = 0.25
#: An appeared and a disappeared region whose crops correlate at least this well are one moved prop.
MOVED_CORRELATION = 0.6
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
    """

    kind: str
    frames_a: tuple[int, int]
    frames_b: tuple[int, int]
    box: tuple[int, int, int, int]
    confidence: float
    crop_a: np.ndarray = field(repr=False)
    crop_b: np.ndarray = field(repr=False)
    details: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The finding as FINDINGS.json holds it (no pictures)."""
        return {"kind": self.kind, "frames_a": list(self.frames_a), "frames_b": list(self.frames_b),
                "box": list(self.box), "confidence": round(self.confidence, 4),
                "details": {k: round(v, 4) for k, v in self.details.items()}}


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


def _take(samples: list[tuple[int, np.ndarray]], aligner: ShotAligner, threshold: float, name: str) -> _Take:
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
        distance = np.linalg.norm(_lab(image) - plate_lab, axis=2)
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


def _contrast_to_ring(lab: np.ndarray, region: np.ndarray) -> float:
    ring = cv2.dilate(region.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~region
    if not ring.any():
        return 0.0
    inside = lab[region]
    outside = lab[ring]
    mean_shift = np.linalg.norm(inside.mean(axis=0) - outside.mean(axis=0))
    return float(mean_shift + inside.std(axis=0).mean())


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two uint8 RGB crops (``b`` resized to ``a``) over the three
    CIELAB channels together, each crop's mean removed per channel: 1 for the same thing, about
    0 for unrelated content (colour counts, so a red cup does not match grass of its shape)."""
    lab_a = _lab(a).reshape(-1, 3)
    lab_b = _lab(cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)).reshape(-1, 3)
    lab_a = lab_a - lab_a.mean(axis=0)
    lab_b = lab_b - lab_b.mean(axis=0)
    norm = math.sqrt(float((lab_a * lab_a).sum() * (lab_b * lab_b).sum()))
    return float((lab_a * lab_b).sum() / norm) if norm > 0 else 0.0


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
    take_b = _take(samples_b, aligner, threshold, "B")
    if progress is not None:
        progress(len(samples_b), total)
    _check_cancel(should_cancel, "after aligning take B")
    take_a = _take(samples_a, aligner, threshold, "A")
    if progress is not None:
        progress(total, total)
    height, width = key.shape[:2]
    scale_x = shot.clip_probe.width / width
    scale_y = shot.clip_probe.height / height

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
    luminance_a = float(_relative_luminance(take_a.plate)[fit_pixels].mean())
    luminance_b = float(_relative_luminance(take_b.plate)[fit_pixels].mean())
    exposure_stops = math.log2(max(luminance_b, 1e-6) / max(luminance_a, 1e-6))
    lab_a_raw = _lab(take_a.plate)
    chroma_shift = float(np.linalg.norm(lab_b[fit_pixels][:, 1:].mean(axis=0)
                                        - lab_a_raw[fit_pixels][:, 1:].mean(axis=0)))

    distance[~static] = 0.0
    differs = (distance > threshold).astype(np.uint8)
    differs = cv2.morphologyEx(differs, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    differs = cv2.morphologyEx(differs, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(differs, connectivity=8)

    # A's frames in B's framing at full size, for crops.
    middle_a = samples_a[len(samples_a) // 2][1]
    full_alignment = ShotAligner(key_full).align(middle_a)
    view_a = full_alignment.warped if full_alignment is not None else _upsample(plate_a, key_full.shape)

    def full_box(x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
        x0, y0 = math.floor(x * scale_x), math.floor(y * scale_y)
        x1, y1 = math.ceil((x + w) * scale_x), math.ceil((y + h) * scale_y)
        return x0, y0, min(x1, shot.clip_probe.width) - x0, min(y1, shot.clip_probe.height) - y0

    min_area = params.min_area_fraction * width * height
    regions = []
    for index in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[index])
        if area < min_area:
            continue
        region = labels == index
        mean_difference = float(distance[region].mean())
        in_a = _contrast_to_ring(lab_a, region)
        in_b = _contrast_to_ring(lab_b, region)
        frames_b = _present(take_b, region, threshold)
        frames_a = _present(take_a, region, threshold)
        share_b = len(frames_b) / len(take_b.numbers)
        confidence = min(1.0, (mean_difference - threshold) / threshold) * share_b
        regions.append({"kind": "appeared" if in_b >= in_a else "disappeared", "region": region,
                        "box_small": (x, y, w, h), "box": full_box(x, y, w, h),
                        "frames_a": frames_a or take_a.numbers, "frames_b": frames_b or take_b.numbers,
                        "confidence": max(0.0, confidence), "mean_difference": mean_difference})

    findings = _merge_moved(regions, view_a, key_full)
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


def _merge_moved(regions: list[dict], view_a: np.ndarray, view_b: np.ndarray) -> list[Finding]:
    """Findings from regions, pairing an appeared with a disappeared region that show the same
    thing (one moved prop)."""
    used: set[int] = set()
    findings = []
    for i, appeared in enumerate(regions):
        if appeared["kind"] != "appeared":
            continue
        best, best_score = None, MOVED_CORRELATION
        for j, gone in enumerate(regions):
            if gone["kind"] != "disappeared" or j in used:
                continue
            score = _correlation(_crop_exact(view_b, appeared["box"]), _crop_exact(view_a, gone["box"]))
            if score >= best_score:
                best, best_score = j, score
        if best is not None:
            used.update((i, best))
            gone = regions[best]
            findings.append(_finding(appeared, view_a, view_b, kind="moved",
                                     frames_a=gone["frames_a"], extra={"moved_from_x": gone["box"][0],
                                                                       "moved_from_y": gone["box"][1],
                                                                       "correlation": best_score}))
    for i, region in enumerate(regions):
        if i not in used:
            findings.append(_finding(region, view_a, view_b))
    return findings


def _crop_exact(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return image[y:y + h, x:x + w]


def _finding(region: dict, view_a: np.ndarray, view_b: np.ndarray, *, kind: str | None = None,
             frames_a: list[int] | None = None, extra: dict[str, float] | None = None) -> Finding:
    frames_a = frames_a if frames_a is not None else region["frames_a"]
    frames_b = region["frames_b"]
    return Finding(kind=kind or region["kind"], frames_a=(frames_a[0], frames_a[-1]),
                   frames_b=(frames_b[0], frames_b[-1]), box=region["box"], confidence=region["confidence"],
                   crop_a=_crop(view_a, region["box"]), crop_b=_crop(view_b, region["box"]),
                   details={"mean_difference_delta_e": region["mean_difference"], **(extra or {})})


def write_findings(result: ContinuityResult, out: str | os.PathLike) -> dict[str, object]:
    """Write ``FINDINGS.json`` and the crops beside it, atomically.

    The JSON is ``{"findings": [{"kind", "frames_a", "frames_b", "box", "confidence", "details",
    "crop_a", "crop_b"}, ...], "measurements": {...}}``; ``crop_a``/``crop_b`` name PNG files in
    the same folder (``<stem>-001-a.png``, ``<stem>-001-b.png``, …). Every file is written under a
    temporary name and renamed into place, the JSON last.

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
            for side, picture in (("a", finding.crop_a), ("b", finding.crop_b)):
                name = f"{out.stem}-{index:03d}-{side}.png"
                temporary = out.parent / f".{name}.partial.png"
                if not cv2.imwrite(str(temporary), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
                    raise FrameWriteError(f"could not write the crop {temporary}")
                os.replace(temporary, out.parent / name)
                entry[f"crop_{side}"] = name
        temporary = out.parent / f".{out.name}.partial"
        temporary.write_text(json.dumps(document, indent=2))
        os.replace(temporary, out)
    except OSError as exc:
        raise FrameWriteError(f"could not write {out}: {exc}") from exc
    return document

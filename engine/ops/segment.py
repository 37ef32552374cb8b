"""Video object segmentation: a per-pixel mask carried through a shot from masks (or outlines)
drawn on one or more keyframes, corrected by add/subtract strokes on any frame.

Method — flow-propagated shape prior and an appearance model fitted to the keyframes, combined
per pixel as in Video SnapCut (Bai, Wang, Simons & Sapiro, "Video SnapCut: Robust Video Object
Cutout Using Localized Classifiers", SIGGRAPH 2009, the method behind After Effects' Roto Brush):

1. **Appearance.** Colour histograms (CIELAB, :data:`HISTOGRAM_BINS` per axis) of the object and
   of its surroundings (a band :data:`BACKGROUND_BAND` object-sizes wide around it) on every
   keyframe give a colour probability ``p_c = H_obj / (H_obj + H_bg)`` per pixel. Learned from
   the shot's own keyframes only; no pretrained weights.
2. **Propagation.** The previous frame's object probability is carried to the current frame
   along dense optical flow (DIS, Kroeger et al. 2016, current → previous, backward warping;
   :mod:`engine.ops.flow`), giving the shape prior ``p_s``.
3. **Combination.** Near the carried boundary the colour model decides, far from it the carried
   shape does: ``p = f_s·p_s + (1 − f_s)·p_c`` with the shape confidence
   ``f_s = 1 − exp(−d² / σ²)``, ``d`` the distance to the carried boundary (pixels) and σ
   :data:`SHAPE_SIGMA` of the object's size (SnapCut's eq. 2–3, one global classifier instead of
   local windows). The mask is ``p > 0.5``, cleaned (small specks and holes removed, only the
   parts touching the carried shape kept); it is what the next frame carries.
4. **Keyframes.** A keyframe keeps its own mask. Between two keyframes, the mask carried forwards
   from the earlier one and backwards from the later one are blended by temporal distance
   (linear weights) before the threshold; before the first keyframe and after the last one
   the nearest keyframe's propagation alone is used.
5. **Output.** Work runs at most :data:`ANALYSIS_MAX_SIDE` pixels along the longer side; the
   probability is scaled to the frame's size and its edges pulled onto the frame's edges by the
   guided filter (He et al. 2010, :func:`engine.ops.matte.refine`): ``alphas`` gives that soft
   8-bit-able matte, ``masks`` its threshold at 0.5.

Memory: frames are read in order (backwards in windows of :data:`WINDOW` frames); only the
analysis-size probabilities of the stretch between two keyframes are held, PNG-compressed.

Correction strokes: :meth:`Segmentation.correct` takes add/subtract masks on any frame, makes
that frame's corrected mask a keyframe and so re-propagates the mask from there.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from engine.errors import ParameterError, check_cancel
from engine.media.decode import FrameSource
from engine.ops import flow as flow_ops
from engine.ops.matte import refine
from engine.ops.region import rasterise

#: Propagation and the appearance model work at most this many pixels along the longer side.
ANALYSIS_MAX_SIDE = 480
#: Frames read at once when going backwards through a shot.
WINDOW = 24
#: Bins per CIELAB axis of the colour histograms.
HISTOGRAM_BINS = 16
#: The background histogram is taken in a band this many object-sizes (sqrt of area) around it.
BACKGROUND_BAND = 10.0
#: The object's colours are taken from its mask eroded by this share of its size.
CORE_SHARE = 0.03
#: Shape confidence σ, as a share of the object's size (sqrt of its area, analysis pixels).
SHAPE_SIGMA = 0.04
#: A frame's mask reaches at most this share of the object's size beyond the carried shape.
GROWTH = 0.05
#: Smallest σ, analysis pixels.
SHAPE_SIGMA_MIN_PX = 2.0
#: Parts of the mask smaller than this share of the object's area are removed; holes likewise filled.
SPECK_SHARE = 0.02
#: Density floor of the colour histograms, as a share of a uniform density.
HISTOGRAM_FLOOR = 0.01
#: The carried shape's prior is kept within [PRIOR_FLOOR, 1 − PRIOR_FLOOR].
PRIOR_FLOOR = 0.001
#: Motion likelihood: flow differences are measured against this many analysis pixels ...
MOTION_SIGMA_PX = 1.5
#: ... and the ratio is kept within [1/MOTION_RATIO, MOTION_RATIO].
MOTION_RATIO = 20.0
#: The object's flow is averaged over a Gaussian of this share of its size.
FLOW_SIGMA = 0.1


def _lab_codes(frame: np.ndarray) -> np.ndarray:
    """int32 [H, W] histogram bin index of each pixel's CIELAB colour (uint8 RGB in)."""
    lab = cv2.cvtColor(frame, cv2.COLOR_RGB2Lab)  # 8-bit Lab: L*, a*, b* each scaled to 0..255
    codes = (lab.astype(np.int32) * HISTOGRAM_BINS) >> 8
    return (codes[..., 0] * HISTOGRAM_BINS + codes[..., 1]) * HISTOGRAM_BINS + codes[..., 2]


def _object_size(mask: np.ndarray) -> float:
    return float(np.sqrt(max(1, int(mask.sum()))))


class AppearanceModel:
    """Object and background colour histograms (CIELAB) fitted to keyframes.

    :meth:`fit` adds one keyframe (uint8 [h, w, 3] RGB and its bool [h, w] mask);
    :meth:`probability` gives float32 [h, w] in 0..1, the share of the object's histogram in
    the two (equal priors), per pixel.
    """

    def __init__(self) -> None:
        size = HISTOGRAM_BINS ** 3
        self.object = np.zeros(size, np.float64)
        self.background = np.zeros(size, np.float64)

    def fit(self, frame: np.ndarray, mask: np.ndarray) -> None:
        codes = _lab_codes(frame)
        band = max(3, round(BACKGROUND_BAND * _object_size(mask)))
        if band >= np.hypot(*mask.shape):  # the band reaches every pixel (a large object, e.g. a sky)
            around = ~mask
        else:
            around = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(
                cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))).astype(bool) & ~mask
        size = HISTOGRAM_BINS ** 3
        core = round(CORE_SHARE * _object_size(mask))
        if core > 0:  # the object's colours from its core: edge pixels mix in the background's
            eroded = cv2.erode(mask.astype(np.uint8), cv2.getStructuringElement(
                cv2.MORPH_ELLIPSE, (2 * core + 1, 2 * core + 1))).astype(bool)
            mask_core = eroded if eroded.sum() >= 0.25 * mask.sum() else mask
        else:
            mask_core = mask
        inside = np.bincount(codes[mask_core], minlength=size)
        outside = np.bincount(codes[around], minlength=size)
        self.object += inside / max(1, inside.sum())
        self.background += outside / max(1, outside.sum())

    def likelihoods(self, frame: np.ndarray, carried: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """float32 [h, w] colour densities of object and background at each pixel of ``frame``.

        With ``carried`` (bool [h, w], the object's shape carried onto this frame), the
        background's histogram is the keyframes' mixed (half and half) with this frame's own,
        taken in a band around the carried shape beyond :data:`GROWTH`·2 of its size: a pan that
        brings in new background colours does not make them the object's."""
        codes = _lab_codes(frame)
        size = HISTOGRAM_BINS ** 3
        floor = HISTOGRAM_FLOOR / size
        background = self.background / max(1e-12, self.background.sum())
        if carried is not None and carried.any():
            object_size = _object_size(carried)
            near = max(2, round(2 * GROWTH * object_size))
            far = max(near + 2, round(BACKGROUND_BAND * object_size))
            distance = cv2.distanceTransform((~carried).astype(np.uint8), cv2.DIST_L2, 3)
            band = (distance > near) & (distance <= far)
            if band.any():
                local = np.bincount(codes[band], minlength=size)
                background = 0.5 * background + 0.5 * local / local.sum()
        obj = (self.object / max(1e-12, self.object.sum()) + floor).astype(np.float32)
        bg = (background + floor).astype(np.float32)
        return obj[codes], bg[codes]


def _analysis_scale(height: int, width: int) -> float:
    return min(1.0, ANALYSIS_MAX_SIDE / max(height, width))


def _small(frame: np.ndarray, scale: float) -> np.ndarray:
    if frame.dtype != np.uint8:  # float32 at source precision (0..1): an analysis view only
        frame = np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)
    if scale < 1.0:
        frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame)


def _clean(mask: np.ndarray, keep_near: np.ndarray, area: float) -> np.ndarray:
    """Remove parts smaller than SPECK_SHARE of ``area`` or not touching ``keep_near``; fill
    holes of that size."""
    limit = SPECK_SHARE * area
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count > 1:
        touching = np.bincount(labels[keep_near], minlength=count) > 0
        keep = (stats[:, cv2.CC_STAT_AREA] >= limit) & touching
        keep[0] = False
        mask = keep[labels]
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    if count > 1:
        small = stats[:, cv2.CC_STAT_AREA] < limit
        small[0] = False
        mask = mask | small[labels]
    return mask


class _Propagator:
    """Carries an object probability from frame to frame (steps 2–3 of the module docstring)."""

    def __init__(self, appearance: AppearanceModel, frame: np.ndarray, mask: np.ndarray) -> None:
        self.appearance = appearance
        self.previous = frame
        self.probability = mask.astype(np.float32)

    def step(self, frame: np.ndarray) -> np.ndarray:
        """float32 [h, w] object probability of ``frame`` (uint8 [h, w, 3], analysis size)."""
        to_previous = flow_ops.flow(frame, self.previous)
        carried, motion = carry(self.probability, to_previous)
        self.previous = frame
        obj, bg = self.appearance.likelihoods(frame, carried > 0.5)
        self.probability = combine(carried, (obj * motion, bg))
        return self.probability


def _object_flow(flow_field: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """The flow averaged over the object's pixels near each pixel (normalised convolution with a
    Gaussian of ``sigma`` pixels, weighted by ``weight``): a ring of background inside a loose
    mask moves with the object, not with what is behind it."""
    weighted = cv2.GaussianBlur(flow_field * weight[..., None], (0, 0), sigma)
    total = cv2.GaussianBlur(weight, (0, 0), sigma)
    return weighted / np.maximum(total, 1e-3)[..., None]


def carry(probability: np.ndarray, to_previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The previous frame's probability carried onto the current frame along the object's flow,
    and the motion likelihood ratio of object to background per pixel.

    Args:
        probability: float32 [h, w], the previous frame's object probability.
        to_previous: float32 [h, w, 2] flow current → previous.

    Returns:
        (carried float32 [h, w] in 0..1, motion float32 [h, w]): ``motion`` is
        ``exp((|f − f_bg|² − |f − f_obj|²) / 2s²)`` clipped to [1/MOTION_RATIO, MOTION_RATIO],
        ``f_obj`` and ``f_bg`` the flow averaged over the object's and the background's pixels
        near each pixel, s = :data:`MOTION_SIGMA_PX`: a pixel moving as the object does and
        unlike its surroundings is more likely the object's (motion segmentation, as in
        ObjectFlow, Tsai et al. CVPR 2016); 1 where both move alike.
    """
    area = float((probability > 0.5).sum())
    if area == 0:
        return np.zeros_like(probability), np.ones_like(probability)
    # The object's flow, seen from the current frame: the previous mask brought over by the raw
    # flow tells which current pixels are the object's.
    rough = flow_ops.warp(probability, to_previous)
    sigma = max(2.0, FLOW_SIGMA * np.sqrt(area))
    object_flow = _object_flow(to_previous, rough, sigma)
    background_flow = _object_flow(to_previous, 1.0 - rough, 2.0 * sigma)
    to_object = np.square(to_previous - object_flow).sum(axis=2)
    to_background = np.square(to_previous - background_flow).sum(axis=2)
    exponent = np.clip((to_background - to_object) / (2.0 * MOTION_SIGMA_PX ** 2),
                       -np.log(MOTION_RATIO), np.log(MOTION_RATIO))
    return flow_ops.warp(probability, object_flow), np.exp(exponent).astype(np.float32)


def combine(carried: np.ndarray, likelihoods: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Bayes' rule per pixel: the carried shape, blurred by σ (:data:`SHAPE_SIGMA` of the
    object's size) into a prior, times the colour likelihoods of object and background.

    Args:
        carried: float32 [h, w] carried shape in 0..1.
        likelihoods: float32 [h, w] each, the colour densities of object and background.

    Returns:
        float32 [h, w]: the cleaned mask of ``posterior > 0.5`` as 0/1.
    """
    shape = carried > 0.5
    area = float(shape.sum())
    if area == 0:
        return np.zeros_like(carried)
    sigma = max(SHAPE_SIGMA_MIN_PX, SHAPE_SIGMA * np.sqrt(area))
    inside = cv2.distanceTransform(shape.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~shape).astype(np.uint8), cv2.DIST_L2, 3)
    confidence = 1.0 - np.exp(-np.square(inside + outside) / (sigma * sigma))
    prior = np.clip(0.5 + 0.5 * np.where(shape, confidence, -confidence), PRIOR_FLOOR, 1.0 - PRIOR_FLOOR)
    obj, bg = likelihoods
    posterior = prior * obj / (prior * obj + (1.0 - prior) * bg)
    reach = max(1.0, GROWTH * np.sqrt(area))
    mask = _clean((posterior > 0.5) & (outside <= reach), shape, area)
    return mask.astype(np.float32)


Outline = Sequence[Sequence[float]]


def keyframe_mask(outline: np.ndarray | Outline | Sequence[Outline], size: tuple[int, int]) -> np.ndarray:
    """A keyframe's bool [H, W] mask from a mask array (non-zero = object) or from one polygon
    ``[[x, y], ...]`` or several ``[[[x, y], ...], ...]`` (pixels; their union).

    Raises:
        ParameterError: a mask of another size, a polygon of fewer than 3 points, or an empty mask.
    """
    if isinstance(outline, np.ndarray) and outline.ndim == 2 and (outline.dtype == bool or outline.shape[1] != 2):
        if outline.shape != size:
            raise ParameterError(f"a keyframe mask of {outline.shape[1]}x{outline.shape[0]} for frames of "
                                 f"{size[1]}x{size[0]}")
        mask = outline > 0
    else:
        first = outline[0] if len(outline) else None
        nested = first is not None and np.asarray(first, dtype=object).ndim == 2 or (
            first is not None and len(first) and not np.isscalar(first[0]))
        polygons = [np.asarray(p, dtype=np.float32) for p in outline] if nested else [np.asarray(outline, np.float32)]
        mask = np.zeros(size, bool)
        for polygon in polygons:
            if polygon.ndim != 2 or polygon.shape[1] != 2 or len(polygon) < 3:
                raise ParameterError(f"an outline needs at least 3 (x, y) points, got {np.asarray(polygon).tolist()!r}")
            mask |= rasterise(polygon, size)
    if not mask.any():
        raise ParameterError("the keyframe's outline or mask covers no pixel")
    return mask


class Segmentation:
    """An object's masks through a shot, from masks on keyframes (a :class:`~engine.ops.region.MaskStream`).

    Args:
        shot: the frames (any :class:`FrameSource`; its range is the shot).
        keyframes: ``{frame_number: mask or outline}`` — bool/uint8 [H, W] masks of the frame's
            size, or polygons (see :func:`keyframe_mask`); at least one, inside the shot.
        should_cancel: polled between frames; True stops with :class:`Cancelled`.

    Raises:
        ParameterError: no keyframe, a keyframe outside the shot, a bad outline or mask.
    """

    def __init__(self, shot: FrameSource, keyframes: Mapping[int, object], *,
                 should_cancel: Callable[[], bool] | None = None) -> None:
        if not keyframes:
            raise ParameterError("draw the outline (or give a mask) on at least one frame")
        self.shot = shot
        self.size = (shot.clip_probe.height, shot.clip_probe.width)
        frames = shot.frame_range
        outside = [k for k in sorted(keyframes) if k not in frames]
        if outside:
            raise ParameterError(f"keyframe(s) {', '.join(map(str, outside))} outside the shot's frames "
                                 f"{frames.start}–{frames.stop - 1}")
        self.keyframes = {int(k): keyframe_mask(v, self.size) for k, v in sorted(keyframes.items())}
        self.scale = _analysis_scale(*self.size)
        self.should_cancel = should_cancel
        self._appearance: AppearanceModel | None = None

    # -- the model -------------------------------------------------------------------------
    def _small_mask(self, mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        if mask.shape == shape:
            return mask
        return cv2.resize(mask.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA) > 0.5

    def _read(self, first: int, stop: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(number, full frame, analysis frame) for first..stop-1, in order."""
        for number, frame in FrameSource(self.shot.path, first=first, stop=stop).frames():
            check_cancel(self.should_cancel, f"at frame {number}", fix="segmentation")
            yield number, frame, _small(frame, self.scale)

    def _read_backwards(self, first: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        """(number, analysis frame) for stop-1 down to first, reading WINDOW frames at a time."""
        while stop > first:
            start = max(first, stop - WINDOW)
            chunk = [(n, small) for n, _, small in self._read(start, stop)]
            yield from reversed(chunk)
            stop = start

    def appearance(self) -> AppearanceModel:
        """The colour model fitted to every keyframe (fitted once, on first use)."""
        if self._appearance is None:
            model = AppearanceModel()
            for key, mask in self.keyframes.items():
                for _, _, small in self._read(key, key + 1):
                    model.fit(small, self._small_mask(mask, small.shape[:2]))
            self._appearance = model
        return self._appearance

    def _propagate(self, key: int, frames: Iterator[tuple[int, np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
        """Carry keyframe ``key``'s mask through ``frames`` ((number, analysis frame), starting
        with the keyframe itself); yields (number, float32 probability) after the keyframe."""
        propagator = None
        for number, small in frames:
            if propagator is None:
                if number != key:
                    raise AssertionError("propagation starts on its keyframe")
                propagator = _Propagator(self.appearance(), small,
                                         self._small_mask(self.keyframes[key], small.shape[:2]))
                continue
            yield number, propagator.step(small)

    def probabilities(self, frames: range | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield ``(frame_number, full frame, float32 [h, w] analysis-size probability)`` for
        every frame of ``frames`` (default: the shot), in order. Keyframes give their own mask."""
        shot_range = self.shot.frame_range
        frames = frames if frames is not None else shot_range
        if frames.start < shot_range.start or frames.stop > shot_range.stop:
            raise ParameterError(f"frames {frames.start}–{frames.stop - 1} are outside the shot's frames "
                                 f"{shot_range.start}–{shot_range.stop - 1}")
        keys = list(self.keyframes)
        first_key = keys[0]
        # Before the first keyframe: backwards from it (collected, then yielded in order).
        if frames.start < first_key:
            stop = min(first_key, frames.stop)
            before = {n: _encode(p) for n, p in self._propagate(
                first_key, self._read_backwards(frames.start, first_key + 1)) if n < stop}
            for number, frame, _ in self._read(frames.start, stop):
                yield number, frame, _decode(before.pop(number))
        for index, key in enumerate(keys):
            nxt = keys[index + 1] if index + 1 < len(keys) else shot_range.stop
            stop = min(nxt, frames.stop)
            if nxt <= frames.start or key >= frames.stop:
                continue
            between = {}
            if index + 1 < len(keys):  # backwards from the next keyframe
                between = {n: _encode(p) for n, p in self._propagate(
                    nxt, self._read_backwards(max(key + 1, frames.start), nxt + 1)) if n < stop}
            propagator = None
            for number, frame, small in self._read(key, stop):
                if propagator is None:
                    probability = self._small_mask(self.keyframes[key], small.shape[:2]).astype(np.float32)
                    propagator = _Propagator(self.appearance(), small, probability > 0.5)
                else:
                    probability = propagator.step(small)
                    if number in between:
                        weight = (nxt - number) / (nxt - key)
                        probability = weight * probability + (1.0 - weight) * _decode(between.pop(number))
                if number >= frames.start:
                    yield number, frame, probability

    def alphas(self, frames: range | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_number, float32 [H, W] matte in 0..1)``: the probability at the frame's
        size, edges pulled onto the frame's by the guided filter."""
        for number, frame, probability in self.probabilities(frames):
            if number in self.keyframes:
                yield number, self.keyframes[number].astype(np.float32)
                continue
            full = cv2.resize(probability, (self.size[1], self.size[0]), interpolation=cv2.INTER_LINEAR)
            radius = max(1, round(2 / self.scale))
            yield number, refine(_small(frame, 1.0), full, radius=radius, eps=1e-3)

    def masks(self, frames: range) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_number, bool [H, W])`` for every frame of ``frames`` (matte ≥ 0.5)."""
        for number, alpha in self.alphas(frames):
            yield number, alpha >= 0.5

    def mask(self, frame_number: int) -> np.ndarray:
        """bool [H, W] mask of one frame."""
        for _, mask in self.masks(range(frame_number, frame_number + 1)):
            return mask
        raise AssertionError("unreachable")

    def correct(self, frame_number: int, *, add: np.ndarray | None = None,
                subtract: np.ndarray | None = None) -> Segmentation:
        """A correction stroke: the mask of ``frame_number`` with ``add`` put in and ``subtract``
        taken out (bool [H, W] each, e.g. rasterised brush strokes) becomes a keyframe, so that
        the mask re-propagates from there (and the frames between it and its neighbouring
        keyframes are blended anew).

        Returns:
            A new :class:`Segmentation` with that keyframe; this one is unchanged.

        Raises:
            ParameterError: the frame is outside the shot, a stroke of another size, or the
                corrected mask is empty.
        """
        if frame_number not in self.shot.frame_range:
            raise ParameterError(f"frame {frame_number} is outside the shot's frames "
                                 f"{self.shot.frame_range.start}–{self.shot.frame_range.stop - 1}")
        mask = self.keyframes.get(frame_number)
        mask = mask.copy() if mask is not None else self.mask(frame_number)
        for stroke, put in ((add, True), (subtract, False)):
            if stroke is None:
                continue
            stroke = np.asarray(stroke)
            if stroke.shape != self.size:
                raise ParameterError(f"a stroke of {stroke.shape[1]}x{stroke.shape[0]} on frames of "
                                     f"{self.size[1]}x{self.size[0]}")
            mask[stroke > 0] = put
        keyframes = dict(self.keyframes)
        keyframes[frame_number] = mask
        corrected = Segmentation(self.shot, keyframes, should_cancel=self.should_cancel)
        return corrected


def _encode(probability: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.clip(probability * 255.0 + 0.5, 0, 255).astype(np.uint8))
    return data.tobytes()


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0


def read_outline(path: str | os.PathLike, size: tuple[int, int]) -> np.ndarray:
    """A keyframe's bool [H, W] mask from a file: ``.json`` holding one polygon ``[[x, y], ...]``,
    several ``[[[x, y], ...], ...]``, or ``{"polygons": [...]}`` (pixels), or an image (PNG, …;
    any channel above 127 = object).

    Raises:
        ParameterError: unreadable file, bad JSON, a mask of another size, an empty outline.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ParameterError(f"cannot read the outline {path}: {exc}") from exc
        if isinstance(document, dict):
            document = document.get("polygons", document.get("polygon"))
        if not isinstance(document, list) or not document:
            raise ParameterError(f"{path} must hold a polygon [[x, y], ...] or a list of polygons")
        try:
            nested = isinstance(document[0][0], list)
            polygons = [np.asarray(p, np.float32) for p in document] if nested else [np.asarray(document, np.float32)]
        except (TypeError, ValueError, IndexError) as exc:
            raise ParameterError(f"{path} must hold a polygon [[x, y], ...] or a list of polygons") from exc
        return keyframe_mask(polygons, size)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ParameterError(f"cannot read the mask image {path}")
    mask = (image > 127) if image.ndim == 2 else (image[..., :3] > 127).any(axis=2)
    return keyframe_mask(mask, size)

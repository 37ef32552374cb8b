"""Confidence-aware fusion of several fills of one hole, and the classical spatial fill it starts from.

A hole can be filled by several sources — colours carried along the optical flow from other
frames, the temporal median of the same pixel over the frames that show it (a locked-off
camera), a spatial fill from the hole's own surroundings, a learned inpainting network — each
right in some places and wrong in others. Each source's error is *measured* where the truth is
known: on a band of pixels just outside the hole, which every source can also fill (the band is
hidden from it, or it carries those pixels from other frames too). The squared errors measured
on the band are spread smoothly over the hole (:func:`engine.ops.flow.smooth_fill`), grown with
the distance from the hole's edge for the sources that diffuse inwards (their error grows the
deeper they reach), and the fill is the inverse-variance weighted mean of the sources — the
minimum-variance unbiased combination of independent estimates (Gauss–Markov; as in the
per-pixel fusion of exposure stacks and of multi-frame candidates in video completion, e.g.
Huang et al., "Temporally Coherent Completion of Dynamic Video", SIGGRAPH Asia 2016, §5).

A band just outside the hole says little about a spatial fill deep inside it, so the spatial
fills are also *self-checked* (:func:`self_check`): the hole's own shape is placed where the
frame is known, filled there, and compared with the frame per depth into the hole
(ADR 0007, amendment of 2026-12-08).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.errors import ParameterError
from engine.ops import flow

#: Variance floor (code values², 0..255 scale) added to every measured squared error: a source
#: whose band happens to be perfect does not take the hole alone on a handful of samples.
#: 4 → 0.5: on a locked-off shot the temporal median's error is about 2 (tuning split, cups with
#: a moving hole: median 44.55 dB; Loupe 44.03 with 4, 44.26 with 0.5; dog and tennis unchanged).
ERROR_FLOOR = 0.5
#: Radius (pixels) of OpenCV's Telea and Navier–Stokes inpainting neighbourhoods.
DIFFUSION_RADIUS_PX = 3


def diffusion_fills(frame: np.ndarray, hole: np.ndarray, *, white: float = 255.0,
                    methods: tuple[int, ...] = (cv2.INPAINT_TELEA, cv2.INPAINT_NS)) -> list[np.ndarray]:
    """The two classical spatial fills of ``hole``: OpenCV's fast-marching inpainting (Telea, "An
    Image Inpainting Technique Based on the Fast Marching Method", 2004) and its Navier–Stokes
    inpainting (Bertalmio, Bertozzi & Sapiro, CVPR 2001), radius :data:`DIFFUSION_RADIUS_PX`.

    Args:
        frame: uint8 or float32 [H, W, 3]; float frames are filled channel by channel (OpenCV
            takes float images one channel at a time) after scaling ``white`` to 255: OpenCV's
            float Telea assumes 8-bit code units (on 0..1 values it overshoots to −1..2).
        hole: bool [H, W], True where the frame is unknown.
        white: the value of white in ``frame``'s units (float frames only; 255 for the
            removal's code units, 1 for 0..1 frames).
        methods: the OpenCV flags, in the order returned (default both).

    Returns:
        [Telea, Navier–Stokes] (as ``methods`` asks): float32 [H, W, 3] in the frame's units;
        equal to ``frame`` outside ``hole``.

    Raises:
        ParameterError: the shapes disagree.
    """
    if frame.shape[:2] != hole.shape or frame.ndim != 3:
        raise ParameterError(f"a frame of shape {frame.shape} and a hole of shape {hole.shape} disagree")
    mask = hole.astype(np.uint8)
    if not mask.any():
        return [frame.astype(np.float32) for _ in methods]
    fills = []
    for method in methods:
        if frame.dtype == np.uint8:
            fills.append(cv2.inpaint(frame, mask, DIFFUSION_RADIUS_PX, method).astype(np.float32))
        else:
            image = frame.astype(np.float32) * np.float32(255.0 / white)
            fills.append(np.float32(white / 255.0) * np.dstack(
                [cv2.inpaint(np.ascontiguousarray(image[..., c]), mask, DIFFUSION_RADIUS_PX, method)
                 for c in range(frame.shape[2])]))
    return [np.where(hole[..., None], fill, frame).astype(np.float32) for fill in fills]


def diffusion_fill(frame: np.ndarray, hole: np.ndarray, *, white: float = 255.0) -> np.ndarray:
    """The classical spatial fill: the mean of the two :func:`diffusion_fills` (Telea 2004 and
    Navier–Stokes 2001). Arguments, units and errors as there; float32 [H, W, 3]."""
    telea, navier_stokes = diffusion_fills(frame, hole, white=white)
    return (telea + navier_stokes) * np.float32(0.5)


def spread_error(squared_error: np.ndarray, measured: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """float32 [N]: a source's squared error at each hole pixel, spread smoothly from where it
    was measured (pull–push membrane of :func:`engine.ops.flow.smooth_fill`).

    Args:
        squared_error: float32 [H, W], valid where ``measured``.
        measured: bool [H, W], pixels whose error against the truth is known (the band).
        hole: bool [H, W], the pixels asked for (returned in ``np.nonzero`` order).

    Returns:
        float32 [N] (N = hole pixels); +inf everywhere when nothing was measured (the source is
        not used).
    """
    if not measured.any():
        return np.full(int(hole.sum()), np.inf, np.float32)
    spread = flow.smooth_fill(np.where(measured, squared_error, 0).astype(np.float32), measured)
    return spread[hole]


def weights(values: list[np.ndarray], squared_errors: list[np.ndarray]) -> np.ndarray:
    """float32 [K, N]: the share of each candidate in :func:`fuse`'s mean at each pixel (columns
    sum to 1 where a source covers the pixel, else 0). Arguments as :func:`fuse`."""
    if not values or len(values) != len(squared_errors):
        raise ParameterError("fuse needs one squared error per candidate, and at least one candidate")
    stacked = np.stack(values).astype(np.float32)
    errors = np.stack(squared_errors).astype(np.float32)
    usable = np.isfinite(errors) & np.all(np.isfinite(stacked), axis=2)
    weight = np.where(usable, 1.0 / (np.where(usable, errors, 0) + ERROR_FLOOR), 0.0).astype(np.float32)
    return weight / np.maximum(weight.sum(axis=0), 1e-12)


def fuse(values: list[np.ndarray], squared_errors: list[np.ndarray]) -> np.ndarray:
    """Inverse-variance weighted mean of several candidate fills of the same pixels.

    Args:
        values: K float32 [N, C] candidate colours (NaN where a source has none).
        squared_errors: K float32 [N] expected squared errors of each source at each pixel
            (+inf or NaN where the source is not to be used). :data:`ERROR_FLOOR` is added.

    Returns:
        float32 [N, C]. A pixel no source covers takes the first candidate's value.

    Raises:
        ParameterError: no candidates, or their lengths disagree.
    """
    if not values or len(values) != len(squared_errors):
        raise ParameterError("fuse needs one squared error per candidate, and at least one candidate")
    stacked = np.stack(values).astype(np.float32)                       # [K, N, C]
    errors = np.stack(squared_errors).astype(np.float32)                # [K, N]
    usable = np.isfinite(errors) & np.all(np.isfinite(stacked), axis=2)
    weight = np.where(usable, 1.0 / (np.where(usable, errors, 0) + ERROR_FLOOR), 0.0).astype(np.float32)
    total = weight.sum(axis=0)
    safe = np.where(np.isfinite(stacked), stacked, 0)
    fused = (safe * weight[..., None]).sum(axis=0) / np.maximum(total, 1e-12)[:, None]
    none = total == 0
    fused[none] = safe[0][none]
    return fused.astype(np.float32)


#: Edges (pixels of depth: the distance from the hole's edge, 1 at its outermost pixels) of the
#: depth classes in which :func:`self_check` measures the spatial fills' error and mix.
DEPTH_EDGES_PX = (0.0, 2.0, 4.0, 8.0, 16.0, 32.0, np.inf)
#: A depth class measured on fewer pixels than this borrows the next shallower class's figures.
DEPTH_MIN_PIXELS = 64
#: Where no copy of the hole fits clear of it, copies may overlap it by up to this share.
OVERLAP_SHARE = 0.5
#: The mix of the spatial fills is chosen on a simplex grid of this step: 0.5 offers each fill
#: alone and the even pairs (0.1 chose mixes fitted to the copies' noise: tuning split, a
#: static tennis hole −0.17 dB, dog static −0.1, cups static +0.03).
MIX_STEP = 0.5


def synthetic_holes(hole: np.ndarray, clear: np.ndarray, count: int, *, known_share: float = 1.0,
                    taken: np.ndarray | None = None) -> list[np.ndarray]:
    """Up to ``count`` copies of ``hole``'s shape moved to where the truth is known.

    Each copy is ``hole`` translated (a grid of offsets about 1/54 of the frame's longer side
    apart, the nearest first), clipped to the frame, keeping at least 90 % of its pixels, with
    at least ``known_share`` of them outside ``clear``, and touching no earlier copy.

    Args:
        hole: bool [H, W], the hole's shape (non-empty).
        clear: bool [H, W], the pixels whose truth is not known (the hole grown by what a fill
            reads).
        count: the largest number of copies.
        known_share: the least share of a copy's pixels outside ``clear`` (1: none inside).
        taken: bool [H, W], pixels no copy may touch (earlier copies), or None.

    Returns:
        bool [H, W] masks (possibly none: no place fits).

    Raises:
        ParameterError: the shapes disagree.
    """
    if hole.shape != clear.shape:
        raise ParameterError(f"a hole of shape {hole.shape} and a mask of shape {clear.shape} disagree")
    height, width = hole.shape
    ys, xs = np.nonzero(hole)
    if not len(ys):
        return []
    top, left = ys.min(), xs.min()
    shape = hole[top:ys.max() + 1, left:xs.max() + 1]
    size = int(shape.sum())
    step = max(4, round(max(height, width) / 54))
    offsets = [(dy, dx) for dy in range(-height, height + 1, step) for dx in range(-width, width + 1, step)
               if (dy, dx) != (0, 0)]
    offsets.sort(key=lambda o: o[0] ** 2 + o[1] ** 2)
    taken = np.zeros_like(hole) if taken is None else taken.copy()
    copies = []
    for dy, dx in offsets:
        y0, x0 = top + dy, left + dx
        a0, b0 = max(0, y0), max(0, x0)
        a1, b1 = min(height, y0 + shape.shape[0]), min(width, x0 + shape.shape[1])
        if a1 <= a0 or b1 <= b0:
            continue
        part = shape[a0 - y0:a1 - y0, b0 - x0:b1 - x0]
        inside = int(part.sum())
        if inside < 0.9 * size or (part & taken[a0:a1, b0:b1]).any():
            continue
        if inside - int((part & clear[a0:a1, b0:b1]).sum()) < known_share * inside:
            continue
        copy = np.zeros_like(hole)
        copy[a0:a1, b0:b1] = part
        copies.append(copy)
        taken |= region_grow(copy, 2)
        if len(copies) == count:
            break
    return copies


def region_grow(mask: np.ndarray, px: int) -> np.ndarray:
    """bool [H, W]: ``mask`` grown by ``px`` pixels (a square: cheap, for spacing only)."""
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def depth_classes(hole: np.ndarray) -> np.ndarray:
    """int [H, W]: each hole pixel's class of :data:`DEPTH_EDGES_PX` (its Euclidean distance to
    the nearest pixel outside the hole, OpenCV's 3×3 mask); −1 outside the hole."""
    depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    classes = np.searchsorted(np.asarray(DEPTH_EDGES_PX[1:-1]), depth, side="left").astype(np.intp)
    return np.where(hole, classes, -1)


def _simplex(k: int) -> np.ndarray:
    """float [M, k]: the mixes of k sources on a grid of step :data:`MIX_STEP` (summing to 1)."""
    steps = round(1 / MIX_STEP)
    grid = [c for c in np.ndindex(*(steps + 1,) * k) if sum(c) == steps]
    return np.asarray(grid, np.float64) / steps


@dataclass(frozen=True)
class SpatialCheck:
    """What :func:`self_check` measured: per depth class, the pooled products of the spatial
    fills' errors on the synthetic holes, and from them the mix of the fills with the lowest
    squared error and that error.

    Attributes:
        gram: float64 [D, K, K], per depth class the sums of products of the K fills' errors
            (code values², over pixels and channels).
        pixels: float [D], the (weighted) count of pixels each class was measured on.
        weights: float [D, K], the mix of the K fills per depth class (rows sum to 1).
        errors: float [D], its mean squared error (code values², per channel) per class; +inf
            for a class nothing measured.
    """

    gram: np.ndarray
    pixels: np.ndarray
    weights: np.ndarray
    errors: np.ndarray

    @classmethod
    def from_gram(cls, gram: np.ndarray, pixels: np.ndarray) -> SpatialCheck:
        """The check whose mixes and errors are chosen from ``gram`` and ``pixels`` (shapes as
        the attributes). A class measured on fewer than :data:`DEPTH_MIN_PIXELS` pixels takes
        the figures of the next shallower class that has them."""
        count, k = gram.shape[0], gram.shape[1]
        mixes = _simplex(k)
        weights, errors = np.zeros((count, k)), np.zeros(count)
        for c in range(count):
            source = c
            while source > 0 and pixels[source] < DEPTH_MIN_PIXELS:
                source -= 1
            if pixels[source] <= 0:
                weights[c], errors[c] = np.full(k, 1.0 / k), np.inf
                continue
            mse = np.einsum("mi,ij,mj->m", mixes, gram[source], mixes) / (3 * pixels[source])
            best = int(np.argmin(mse))
            weights[c], errors[c] = mixes[best], mse[best]
        return cls(gram, pixels, weights, errors)

    def pooled(self, earlier: SpatialCheck | None, carry: float) -> SpatialCheck:
        """This check with ``earlier``'s measurements added at weight ``carry`` (0..1): a
        running, exponentially decaying pool over the frames of a shot, so that the mix does
        not jump from frame to frame on a few pixels' evidence. ``earlier`` None, or of another
        number of fills: this check unchanged."""
        if earlier is None or earlier.gram.shape != self.gram.shape:
            return self
        return SpatialCheck.from_gram(self.gram + carry * earlier.gram, self.pixels + carry * earlier.pixels)

    def apply(self, fills: list[np.ndarray], hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mixed fill of ``hole``'s pixels and its expected squared error.

        Args:
            fills: the K fills, float32 [H, W, 3], in the order measured.
            hole: bool [H, W].

        Returns:
            (float32 [N, 3] colours, float32 [N] squared errors), N = hole pixels in
            ``np.nonzero`` order.
        """
        classes = depth_classes(hole)[hole]
        stacked = np.stack([fill[hole] for fill in fills])               # [K, N, 3]
        weight = self.weights[classes].T.astype(np.float32)            # [K, N]
        return (stacked * weight[..., None]).sum(axis=0), self.errors[classes].astype(np.float32)


def self_check(frame: np.ndarray, hole: np.ndarray, fillers, *, copies: int, clear_px: int,
               untrusted: np.ndarray | None = None) -> SpatialCheck | None:
    """Measure the spatial fills on holes of the same shape placed where the truth is known.

    The hole's shape is moved to up to ``copies`` places of the same frame clear of the hole
    (:func:`synthetic_holes`); each filler fills them (it sees the frame outside them only)
    and its result is compared with the frame there, per depth class (:func:`depth_classes`).
    Where fewer places are clear (a hole of a large share of the frame), copies overlapping the
    hole by up to :data:`OVERLAP_SHARE` are taken too: the filler then fills the copy and the
    hole together and is measured on the copy's pixels whose truth is known, each classed by
    its depth into the two. For each class the mix of the fillers (a grid of step
    :data:`MIX_STEP` on the simplex) with the lowest pooled squared error is kept: fills that
    diffuse the same edge inwards err together, so their best mix is measured, not derived
    from independent errors. This is the held-out validation of a predictor on the very image
    it is used on and, unlike a band just outside the hole, it measures the fill as deep as
    the hole is.

    Args:
        frame: uint8 or float32 [H, W, 3], the frame (its values outside ``untrusted`` are the
            truth).
        hole: bool [H, W], the hole to be filled (its shape is copied).
        fillers: K callables ``filler(image, where) -> float32 [H, W, 3]`` filling ``where``.
        copies: the most synthetic holes measured.
        clear_px: the copies keep this far from ``untrusted``.
        untrusted: bool [H, W], pixels that are not the truth (default ``hole``; a frame whose
            hole is partly filled already passes its whole hole).

    Returns:
        :class:`SpatialCheck`, or None when no copy fits in the frame.

    Raises:
        ParameterError: the shapes disagree.
    """
    untrusted = hole if untrusted is None else untrusted
    if frame.shape[:2] != hole.shape or untrusted.shape != hole.shape:
        raise ParameterError(f"a frame of shape {frame.shape} and a hole of shape {hole.shape} disagree")
    clear = region_grow(untrusted, clear_px)
    places = synthetic_holes(hole, clear, copies)
    if len(places) < copies:
        taken = np.zeros_like(hole)
        for place in places:
            taken |= region_grow(place, 2)
        places += synthetic_holes(hole, clear, copies - len(places), known_share=1 - OVERLAP_SHARE, taken=taken)
    if not places:
        return None
    classes_count = len(DEPTH_EDGES_PX) - 1
    k = len(fillers)
    gram = np.zeros((classes_count, k, k), np.float64)
    pixels = np.zeros(classes_count, np.float64)
    pad = clear_px
    for place in places:
        unknown = place | untrusted if (place & clear).any() else place
        ys, xs = np.nonzero(unknown)
        top, left = max(0, ys.min() - pad), max(0, xs.min() - pad)
        bottom, right = min(hole.shape[0], ys.max() + 1 + pad), min(hole.shape[1], xs.max() + 1 + pad)
        crop, where = frame[top:bottom, left:right], unknown[top:bottom, left:right]
        scored = (place & ~clear)[top:bottom, left:right]
        truth = crop[scored].astype(np.float64)
        residuals = np.stack([(filler(crop, where)[scored] - truth).reshape(-1) for filler in fillers], axis=1)
        classes = np.repeat(depth_classes(where)[scored], 3)
        for c in range(classes_count):
            chosen = residuals[classes == c]
            gram[c] += chosen.T @ chosen
            pixels[c] += len(chosen) // 3
    return SpatialCheck.from_gram(gram, pixels)


def membrane_fill(frame: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The smooth (membrane, harmonic) fill of ``hole`` from its edge: the pull–push
    interpolation of Gortler et al. 1996 relaxed towards the Laplace equation
    (:func:`engine.ops.flow.smooth_fill`). float32 [H, W, 3] in the frame's units, equal to
    ``frame`` outside ``hole``."""
    return flow.smooth_fill(frame.astype(np.float32), ~hole)

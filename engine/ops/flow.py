"""Dense optical flow between frames, warping along it, and its forward–backward check.

Method: DIS optical flow (Kroeger et al., "Fast Optical Flow using Dense Inverse Search",
ECCV 2016) through OpenCV's ``cv2.DISOpticalFlow`` at its ``MEDIUM`` preset, on grey
frames. Occlusions and unreliable vectors are found by forward–backward consistency
(Sundaram, Brox & Keutzer, "Dense Point Trajectories by GPU-accelerated Large Displacement
Optical Flow", ECCV 2010): a vector is trusted when following it forward and then the
backward flow from where it lands returns close to where it started.

Flow convention: ``flow[y, x] = (dx, dy)`` in pixels, float32 [H, W, 2], mapping a pixel of
the *from* frame to its position in the *to* frame. :func:`warp` uses the backward
convention of ``cv2.remap``: to bring frame *B* onto frame *A*'s pixel grid, warp *B* with
the flow A → B.

This module is shared by every fix that follows pixels through time (object removal, clean
plates, mattes, rebuilt frames, continuity); it imports nothing from Django.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from engine.errors import ParameterError

#: Forward–backward round trips longer than ``FB_ABSOLUTE_PX + FB_RELATIVE * |motion|`` pixels
#: mark a vector as unreliable (Sundaram et al. 2010 use 0.01·(|w|² + |ŵ|²) + 0.5 on squared
#: lengths; this is the same test on lengths).
FB_ABSOLUTE_PX = 1.0
FB_RELATIVE = 0.05


def grey8(frame: np.ndarray) -> np.ndarray:
    """uint8 [H, W] grey of a frame — uint8, or float32 in 8-bit code units (value × 255, as
    object removal holds deep frames) rounded and clipped: what DIS flow reads. An analysis
    view only; no pixel of an output passes through it.

    Raises:
        ParameterError: not [H, W] or [H, W, 3].
    """
    if frame.ndim == 3 and frame.shape[2] == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    elif frame.ndim != 2:
        raise ParameterError(f"a frame must be [H, W] grey or [H, W, 3] RGB, not shape {frame.shape}")
    if frame.dtype != np.uint8:
        frame = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


def _dis() -> cv2.DISOpticalFlow:
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def flow(frame_from: np.ndarray, frame_to: np.ndarray) -> np.ndarray:
    """Dense optical flow from one frame to another (DIS, Kroeger et al. 2016).

    Args:
        frame_from, frame_to: uint8 [H, W, 3] RGB or [H, W] grey, the same size.

    Returns:
        float32 [H, W, 2]: ``(dx, dy)`` in pixels taking each pixel of ``frame_from`` to
        ``frame_to``.

    Raises:
        ParameterError: the frames differ in size or are not images.
    """
    if frame_from.shape[:2] != frame_to.shape[:2]:
        raise ParameterError(f"frames differ in size: {frame_from.shape[:2]} and {frame_to.shape[:2]}")
    return _dis().calc(grey8(frame_from), grey8(frame_to), None)


@dataclass(frozen=True)
class FlowPair:
    """Flow both ways between frames A and B, with the vectors each way that can be trusted.

    Attributes:
        forward: float32 [H, W, 2], A → B.
        backward: float32 [H, W, 2], B → A.
        forward_valid: bool [H, W] on A's grid: the A pixel is seen in B at ``forward``.
        backward_valid: bool [H, W] on B's grid: the B pixel is seen in A at ``backward``.
    """

    forward: np.ndarray
    backward: np.ndarray
    forward_valid: np.ndarray
    backward_valid: np.ndarray


def flow_pair(frame_a: np.ndarray, frame_b: np.ndarray) -> FlowPair:
    """Flow A → B and B → A with forward–backward consistency (Sundaram et al. 2010).

    Args:
        frame_a, frame_b: uint8 [H, W, 3] RGB or [H, W] grey, the same size.

    Raises:
        ParameterError: as :func:`flow`.
    """
    forward = flow(frame_a, frame_b)
    backward = flow(frame_b, frame_a)
    return FlowPair(forward=forward, backward=backward,
                    forward_valid=consistent(forward, backward),
                    backward_valid=consistent(backward, forward))


def warp(image: np.ndarray, flow_field: np.ndarray, *, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Sample ``image`` at ``p + flow_field[p]`` for every pixel ``p`` (backward warping).

    To bring frame B onto frame A's grid, pass B with the flow A → B.

    Args:
        image: [H, W] or [H, W, C] array of any dtype OpenCV remaps (uint8, float32, …).
        flow_field: float32 [H, W, 2].
        interpolation: an OpenCV interpolation flag (``cv2.INTER_NEAREST`` for masks).

    Returns:
        An array of ``image``'s shape and dtype; samples that fall outside ``image`` repeat its
        border (use :func:`inside` to know which did).

    Raises:
        ParameterError: the shapes disagree.
    """
    if image.shape[:2] != flow_field.shape[:2] or flow_field.shape[2:] != (2,):
        raise ParameterError(f"cannot warp an image of shape {image.shape} by a flow of shape {flow_field.shape}")
    return cv2.remap(image, _landing(flow_field), None, interpolation, borderMode=cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=8)
def pixel_grid(height: int, width: int) -> np.ndarray:
    """float32 [H, W, 2]: every pixel's own ``(x, y)``; built once per size, read-only."""
    grid = np.empty((height, width, 2), np.float32)
    grid[..., 0] = np.arange(width, dtype=np.float32)
    grid[..., 1] = np.arange(height, dtype=np.float32)[:, None]
    grid.flags.writeable = False
    return grid


def _landing(flow_field: np.ndarray) -> np.ndarray:
    """float32 [H, W, 2]: ``p + flow_field[p]``, where each pixel's vector lands."""
    return cv2.add(pixel_grid(*flow_field.shape[:2]), np.asarray(flow_field, np.float32))


def inside(flow_field: np.ndarray) -> np.ndarray:
    """bool [H, W]: True where ``p + flow_field[p]`` lands inside the frame."""
    height, width = flow_field.shape[:2]
    x, y = cv2.split(_landing(flow_field))
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def consistent(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Forward–backward consistency of ``forward`` (A → B) against ``backward`` (B → A).

    Returns:
        bool [H, W] on A's grid: True where the vector lands inside B and the round trip
        ``forward[p] + backward[p + forward[p]]`` is shorter than
        ``FB_ABSOLUTE_PX + FB_RELATIVE · (|forward[p]| + |backward[…]|)`` pixels.
    """
    height, width = forward.shape[:2]
    landing = _landing(forward)
    back = cv2.remap(backward, landing, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    forward_x, forward_y = cv2.split(np.asarray(forward, np.float32))
    back_x, back_y = cv2.split(back)
    # Lengths by cv2.magnitude: a NumPy norm over a trailing axis of two was a third of a pair's time.
    round_trip = cv2.magnitude(forward_x + back_x, forward_y + back_y)
    motion = cv2.magnitude(forward_x, forward_y) + cv2.magnitude(back_x, back_y)
    x, y = cv2.split(landing)
    landed = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    return landed & (round_trip < FB_ABSOLUTE_PX + FB_RELATIVE * motion)


def forward_check(frame_a: np.ndarray, frame_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flow A → B (float32 [H, W, 2]) and its forward–backward check (bool [H, W] on A's grid):
    :func:`flow_pair`'s ``forward`` and ``forward_valid``, without the backward check.
    Raises ParameterError as :func:`flow`."""
    forward = flow(frame_a, frame_b)
    return forward, consistent(forward, flow(frame_b, frame_a))


# --------------------------------------------------------------------------- filling and sampling
# Added for video inpainting and clean plates (engine.fixes.remove, engine.fixes.clean_plate).


def smooth_fill(values: np.ndarray, known: np.ndarray, *, relax_iterations: int = 8) -> np.ndarray:
    """Fill the unknown pixels of ``values`` smoothly from the known ones (pull–push).

    Method: the pull–push interpolation of Gortler et al., "The Lumigraph", SIGGRAPH 1996
    (§3.4.2): known samples are averaged down a Gaussian pyramid with their weights (pull),
    then every level's holes are filled from the level below (push); a few Jacobi steps of
    the Laplace equation inside the holes then smooth the result towards the membrane
    (harmonic) interpolant. Known pixels are returned unchanged.

    Used to complete optical flow inside a hole (the background's motion continued from
    the hole's border) and to spread a boundary colour correction into a hole (the
    membrane form of Poisson blending, Pérez et al. 2003; Farbman et al. 2009).

    Args:
        values: float32 [H, W] or [H, W, C].
        known: bool [H, W], True where ``values`` holds data.
        relax_iterations: Jacobi steps inside the holes after the push.

    Returns:
        float32 array of ``values``' shape. With no known pixel at all, zeros.

    Raises:
        ParameterError: the shapes disagree.
    """
    if values.shape[:2] != known.shape:
        raise ParameterError(f"values of shape {values.shape} and a known-mask of shape {known.shape} disagree")
    values = np.asarray(values, dtype=np.float32)
    squeeze = values.ndim == 2
    if squeeze:
        values = values[..., None]
    if not known.any():
        return np.zeros(values.shape[:2] if squeeze else values.shape, np.float32)
    if known.all():
        return values[..., 0].copy() if squeeze else values.copy()
    # Only the holes' neighbourhood takes part: crop to their bounding box, grown.
    ys, xs = np.nonzero(~known)
    grow = max(16, (ys.max() - ys.min() + xs.max() - xs.min()) // 4)
    top, left = max(0, ys.min() - grow), max(0, xs.min() - grow)
    bottom, right = min(known.shape[0], ys.max() + 1 + grow), min(known.shape[1], xs.max() + 1 + grow)
    if known[top:bottom, left:right].any() and (bottom - top, right - left) != known.shape:
        out = values.copy()
        out[top:bottom, left:right] = _smooth_fill_all(values[top:bottom, left:right],
                                                       known[top:bottom, left:right], relax_iterations)
        return out[..., 0] if squeeze else out
    out = _smooth_fill_all(values, known, relax_iterations)
    return out[..., 0] if squeeze else out


def _smooth_fill_all(values: np.ndarray, known: np.ndarray, relax_iterations: int) -> np.ndarray:
    """Pull–push over the whole of float32 [H, W, C] ``values``."""
    weight = known.astype(np.float32)
    levels: list[tuple[np.ndarray, np.ndarray]] = []
    v, w = values * weight[..., None], weight
    while True:
        levels.append((v, w))
        if min(w.shape) <= 2 or w.min() > 0:
            break
        v = _pyr_down(v)
        w = cv2.pyrDown(w)
    v, w = levels[-1]
    estimate = v / np.maximum(w, 1e-6)[..., None]
    if w.min() <= 0:
        estimate[w <= 0] = (v.sum(axis=(0, 1)) / max(float(w.sum()), 1e-6))
    for v, w in reversed(levels[:-1]):
        coarse = _pyr_up(estimate, w.shape)
        alpha = np.clip(w, 0.0, 1.0)[..., None]
        estimate = alpha * (v / np.maximum(w, 1e-6)[..., None]) + (1.0 - alpha) * coarse
    hole = (~known)[..., None]
    np.copyto(estimate, values, where=~hole)
    for _ in range(relax_iterations):
        blurred = cv2.blur(estimate, (3, 3), borderType=cv2.BORDER_REPLICATE)
        np.copyto(estimate, blurred.reshape(estimate.shape), where=hole)
    return estimate


def _pyr_down(image: np.ndarray) -> np.ndarray:
    out = cv2.pyrDown(image)
    return out[..., None] if out.ndim == 2 else out


def _pyr_up(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = cv2.pyrUp(image, dstsize=(shape[1], shape[0]))
    return out[..., None] if out.ndim == 2 else out


#: Points sampled (on a grid, outside the hole) to fit the camera's motion for flow completion.
_COMPLETION_SAMPLES = 3000


def complete(flow_field: np.ndarray, hole: np.ndarray, fit_hole: np.ndarray | None = None) -> np.ndarray:
    """Flow completed inside a hole: the motion of what lies behind a removed object.

    The flow around the hole is split into the camera's motion — a homography fitted to it
    with RANSAC (Fischler & Bolles 1981), exact for a camera that rotates or a far scene —
    and a residual (parallax, things moving). Inside the hole the homography's flow is used
    and the residual is continued smoothly from the hole's border (:func:`smooth_fill`), as
    the flow completion step of Gao et al., "Flow-edge Guided Video Completion" (ECCV 2020),
    without its edge guidance. Without enough points for a homography, the flow itself is
    continued smoothly.

    Args:
        flow_field: float32 [H, W, 2] (:func:`flow` convention).
        hole: bool [H, W], True where the flow is not to be trusted (the masked object).
        fit_hole: bool [H, W] or None (= ``hole``): the pixels left out of the homography's
            fit (RANSAC tolerates the odd dragged vector, so this may be tighter than
            ``hole``).

    Returns:
        float32 [H, W, 2]; equal to ``flow_field`` outside ``hole``.
    """
    if not hole.any():
        return flow_field.copy()
    height, width = hole.shape
    step = max(1, int(np.sqrt(height * width / _COMPLETION_SAMPLES)))
    ys, xs = np.mgrid[0:height:step, 0:width:step]
    keep = ~(hole if fit_hole is None else fit_hole)[ys, xs]
    points = np.stack([xs[keep], ys[keep]], axis=1).astype(np.float32)
    if len(points) < 16:
        return smooth_fill(flow_field, ~hole)
    moved = points + flow_field[ys[keep], xs[keep]]
    homography, _ = cv2.findHomography(points, moved, cv2.RANSAC, ransacReprojThreshold=1.0)
    if homography is None:
        return smooth_fill(flow_field, ~hole)
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid = np.stack([grid_x, grid_y], axis=2).reshape(-1, 1, 2)
    camera = (cv2.perspectiveTransform(grid, homography).reshape(height, width, 2) - grid.reshape(height, width, 2))
    residual = _smooth_fill_coarse(flow_field - camera, ~hole)
    return np.where(hole[..., None], camera + residual, flow_field).astype(np.float32)


#: The smooth residual of a completed flow is solved at this fraction of the flow's size
#: (it varies slowly: a membrane); 1 = at full size.
_COMPLETION_SCALE = 0.5


def _smooth_fill_coarse(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """:func:`smooth_fill` solved on a copy scaled by _COMPLETION_SCALE (a coarse pixel is
    known when every fine pixel under it is), scaled back bilinearly."""
    height, width = known.shape
    size = (max(1, round(width * _COMPLETION_SCALE)), max(1, round(height * _COMPLETION_SCALE)))
    if _COMPLETION_SCALE >= 1 or min(size) < 16:
        return smooth_fill(values, known)
    small_known = cv2.resize(known.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.999
    small = cv2.resize(values, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(smooth_fill(small, small_known), (width, height), interpolation=cv2.INTER_LINEAR)


def sample(image: np.ndarray, points: np.ndarray, *, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Values of ``image`` at sub-pixel ``points`` (bilinear by default; borders repeated).

    Args:
        image: [H, W] or [H, W, C] array of a dtype OpenCV remaps.
        points: float32 [N, 2] of ``(x, y)`` pixel positions.

    Returns:
        [N] or [N, C] array of ``image``'s dtype.
    """
    count = len(points)
    if count == 0:
        return np.zeros((0,) + image.shape[2:], image.dtype)
    # cv2.remap takes maps of fewer than 32767 rows and columns: lay the points out in rows.
    columns = min(count, 4096)
    rows = -(-count // columns)
    padded = np.zeros((rows * columns, 2), np.float32)
    padded[:count] = points
    map_x = np.ascontiguousarray(padded[:, 0]).reshape(rows, columns)
    map_y = np.ascontiguousarray(padded[:, 1]).reshape(rows, columns)
    out = cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape((rows * columns,) + image.shape[2:])[:count]


def warping_error(frame: np.ndarray, next_frame: np.ndarray, pair: FlowPair,
                  region: np.ndarray | None = None) -> tuple[float, int]:
    """Temporal warping error of Lai et al., "Learning Blind Video Temporal Consistency",
    ECCV 2018 (eq. 7), for one pair of frames: the mean squared difference, on 0..1 RGB,
    between ``frame`` and ``next_frame`` warped back onto it along ``pair.forward``,
    over the pixels whose flow passes the forward–backward check (non-occluded).

    Args:
        frame, next_frame: uint8 [H, W, 3] RGB (the frames measured).
        pair: :class:`FlowPair` from ``frame``'s grid to ``next_frame``'s (computed on the
            frames measured, or on the original video as Lai et al. do).
        region: optional bool [H, W]; only these pixels of ``frame`` are counted.

    Returns:
        ``(sum of squared differences, pixel count)`` so that a caller can average over a
        clip (Lai et al. average over all non-occluded pixels of all pairs).
    """
    warped = warp(next_frame, pair.forward)
    keep = pair.forward_valid if region is None else pair.forward_valid & region
    difference = (frame.astype(np.float32) - warped.astype(np.float32)) / 255.0
    squared = (difference * difference).sum(axis=2)
    return float(squared[keep].sum()), int(keep.sum())

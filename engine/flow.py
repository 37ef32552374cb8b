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

from dataclasses import dataclass

import cv2
import numpy as np

from engine.errors import ParameterError

#: Forward–backward round trips longer than ``FB_ABSOLUTE_PX + FB_RELATIVE * |motion|`` pixels
#: mark a vector as unreliable (Sundaram et al. 2010 use 0.01·(|w|² + |ŵ|²) + 0.5 on squared
#: lengths; this is the same test on lengths).
FB_ABSOLUTE_PX = 1.0
FB_RELATIVE = 0.05


def _grey(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    raise ParameterError(f"a frame must be [H, W] grey or [H, W, 3] RGB, not shape {frame.shape}")


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
    return _dis().calc(_grey(frame_from), _grey(frame_to), None)


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
    height, width = flow_field.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, grid_x + flow_field[..., 0], grid_y + flow_field[..., 1], interpolation,
                     borderMode=cv2.BORDER_REPLICATE)


def inside(flow_field: np.ndarray) -> np.ndarray:
    """bool [H, W]: True where ``p + flow_field[p]`` lands inside the frame."""
    height, width = flow_field.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    x = grid_x + flow_field[..., 0]
    y = grid_y + flow_field[..., 1]
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def consistent(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Forward–backward consistency of ``forward`` (A → B) against ``backward`` (B → A).

    Returns:
        bool [H, W] on A's grid: True where the vector lands inside B and the round trip
        ``forward[p] + backward[p + forward[p]]`` is shorter than
        ``FB_ABSOLUTE_PX + FB_RELATIVE · (|forward[p]| + |backward[…]|)`` pixels.
    """
    back_at_landing = warp(backward, forward)
    round_trip = np.linalg.norm(forward + back_at_landing, axis=2)
    motion = np.linalg.norm(forward, axis=2) + np.linalg.norm(back_at_landing, axis=2)
    return inside(forward) & (round_trip < FB_ABSOLUTE_PX + FB_RELATIVE * motion)

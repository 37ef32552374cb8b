"""Per-frame flow helpers for the fixes that run once per frame at full rate (rebuilt frames,
background replacement's matte carry): :mod:`engine.flow`'s flow pair, forward–backward check and
warp, with the same contracts and results, computed with fewer passes over the pixels.

- The pixel grid that every warp adds to the flow is built once per frame size (cached).
- The forward–backward check (Sundaram, Brox & Keutzer, ECCV 2010; thresholds
  :data:`engine.flow.FB_ABSOLUTE_PX` and :data:`engine.flow.FB_RELATIVE`) takes its vector
  lengths with ``cv2.magnitude`` instead of a NumPy norm over a trailing axis of two, which
  was a third of the time of a flow pair at 640x360.
- :func:`forward_check` computes only the forward check when the backward one is not needed.

The flow itself is :func:`engine.flow.flow` (DIS, Kroeger et al. 2016), unchanged. These belong
in :mod:`engine.flow` itself once that module is free to change; until then both give the same
answers (up to the last bit of a square root).
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from engine import flow as flow_module
from engine.errors import ParameterError


@functools.lru_cache(maxsize=8)
def pixel_grid(height: int, width: int) -> np.ndarray:
    """float32 [H, W, 2]: every pixel's own ``(x, y)``; shared between calls, read-only."""
    grid = np.empty((height, width, 2), np.float32)
    grid[..., 0] = np.arange(width, dtype=np.float32)
    grid[..., 1] = np.arange(height, dtype=np.float32)[:, None]
    grid.flags.writeable = False
    return grid


def warp(image: np.ndarray, flow_field: np.ndarray, *, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """:func:`engine.flow.warp`: ``image`` ([H, W] or [H, W, C], any dtype ``cv2.remap`` takes)
    sampled at ``p + flow_field[p]`` (float32 [H, W, 2], pixels), border replicated; same shape
    and dtype as ``image``. Raises ParameterError when the shapes disagree."""
    if image.shape[:2] != flow_field.shape[:2] or flow_field.shape[2:] != (2,):
        raise ParameterError(f"cannot warp an image of shape {image.shape} by a flow of shape {flow_field.shape}")
    grid = pixel_grid(*flow_field.shape[:2])
    return cv2.remap(image, cv2.add(grid, flow_field), None, interpolation, borderMode=cv2.BORDER_REPLICATE)


def consistent(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """:func:`engine.flow.consistent`: bool [H, W] on A's grid, True where ``forward`` (A → B,
    float32 [H, W, 2]) lands inside B and the round trip through ``backward`` (B → A) is shorter
    than ``FB_ABSOLUTE_PX + FB_RELATIVE · (|forward[p]| + |backward[p + forward[p]]|)`` pixels."""
    height, width = forward.shape[:2]
    landing = cv2.add(pixel_grid(height, width), forward)
    back = cv2.remap(backward, landing, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    forward_x, forward_y = cv2.split(forward)
    back_x, back_y = cv2.split(back)
    round_trip = cv2.magnitude(forward_x + back_x, forward_y + back_y)
    motion = cv2.magnitude(forward_x, forward_y) + cv2.magnitude(back_x, back_y)
    x, y = cv2.split(landing)
    inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    return inside & (round_trip < flow_module.FB_ABSOLUTE_PX + flow_module.FB_RELATIVE * motion)


def flow_pair(frame_a: np.ndarray, frame_b: np.ndarray) -> flow_module.FlowPair:
    """:func:`engine.flow.flow_pair`: flow A → B and B → A (uint8 [H, W, 3] RGB or [H, W] grey
    frames of one size) with both forward–backward checks. Raises ParameterError as
    :func:`engine.flow.flow`."""
    forward = flow_module.flow(frame_a, frame_b)
    backward = flow_module.flow(frame_b, frame_a)
    return flow_module.FlowPair(forward=forward, backward=backward, forward_valid=consistent(forward, backward),
                                backward_valid=consistent(backward, forward))


def forward_check(frame_a: np.ndarray, frame_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flow A → B (float32 [H, W, 2]) and its forward–backward check (bool [H, W] on A's grid):
    :func:`flow_pair`'s ``forward`` and ``forward_valid`` without the backward check."""
    forward = flow_module.flow(frame_a, frame_b)
    return forward, consistent(forward, flow_module.flow(frame_b, frame_a))

"""Mattes: separating a shot's foreground from its background, per frame and stable over time.

Two keys, each giving a soft alpha (float32 [H, W], 1 = foreground):

- **Chroma key** against a green or blue screen — the colour-difference key of Vlahos' patents as
  described by A. R. Smith and J. F. Blinn, "Blue Screen Matting", SIGGRAPH 1996: the screen's
  excess ``E = G − max(R, B)`` (green; ``B − max(R, G)`` for blue) is large on the screen and small
  or negative on the foreground; alpha falls from 1 to 0 as E rises from ``low`` to ``high``
  fractions of the screen's own excess (its 90th percentile over the frame, so an unevenly lit screen
  and any exposure work). **Spill suppression** limits the screen channel to the larger of the other
  two (the classic despill), so green light bounced onto the foreground goes neutral.
- **Difference key** against a clean plate (the same framing without the foreground, camera locked
  off): alpha rises from 0 to 1 as the CIELAB distance between frame and plate rises from
  ``low`` to ``high`` ΔE*ab.

Both are cleaned (specks below ``MIN_BLOB_FRACTION`` of the frame removed, holes inside the
foreground filled) and **refined by the guided filter** (K. He, J. Sun, X. Tang, "Guided Image
Filtering", ECCV 2010 / TPAMI 2013) with the frame's luma as the guide, which pulls the matte's
edges onto the picture's edges (hair, fur, motion blur) at the cost of a few box filters.

**Temporal stability:** :class:`MatteSequence` carries the previous frame's matte along optical
flow (:mod:`engine.ops.flow`, DIS,) and blends it with the new one where the flow is trusted
(forward–backward check), so the edge does not boil from frame to frame.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from engine.errors import ParameterError
from engine.ops import flow as flow_module

#: Screens a chroma key knows, and the channel each one lights.
SCREENS = {"green": 1, "blue": 2}
#: Foreground blobs (and background holes) smaller than this fraction of the frame are removed.
MIN_BLOB_FRACTION = 0.0005


def _check_frame(frame: np.ndarray, name: str = "frame") -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ParameterError(f"{name} must be uint8 [H, W, 3] RGB, got {frame.dtype} {frame.shape}")


def screen_excess(frame: np.ndarray, screen: str) -> np.ndarray:
    """The screen's excess over the other channels, float32 [H, W] in 0..1 units (can be negative):
    ``G − max(R, B)`` for green, ``B − max(R, G)`` for blue (Smith & Blinn 1996)."""
    return _excess_codes(frame, screen).astype(np.float32) / 255.0


def _excess_codes(frame: np.ndarray, screen: str) -> np.ndarray:
    """:func:`screen_excess` in 8-bit code values, int16 [H, W] in −255..255."""
    if screen not in SCREENS:
        raise ParameterError(f"screen must be one of {', '.join(SCREENS)}, got {screen!r}")
    _check_frame(frame)
    channels = list(cv2.split(frame))
    lit = channels.pop(SCREENS[screen])
    return cv2.subtract(lit, cv2.max(*channels), dtype=cv2.CV_16S)


def _percentile_codes(codes: np.ndarray, percent: float) -> float:
    """``np.percentile(codes, percent)`` (linear interpolation between order statistics) of an
    int16 array of values in −255..255, from its histogram instead of a partial sort."""
    cumulative = np.cumsum(np.bincount((codes.ravel() + 255).astype(np.intp), minlength=511))
    position = percent / 100.0 * (codes.size - 1)
    below = math.floor(position)
    low, high = (int(np.searchsorted(cumulative, k, side="right")) - 255
                 for k in (below, min(below + 1, codes.size - 1)))
    return low + (position - below) * (high - low)


def chroma_key(frame: np.ndarray, screen: str = "green", *, low: float = 0.25, high: float = 0.6) -> np.ndarray:
    """Raw colour-difference key (before cleaning and refinement).

    Args:
        frame: uint8 [H, W, 3] RGB shot in front of the screen.
        screen: ``"green"`` or ``"blue"``.
        low, high: fractions of the screen's excess (its 90th percentile): below ``low`` the
            pixel is foreground (alpha 1), above ``high`` screen (alpha 0), linear between.

    Returns:
        float32 [H, W] alpha in 0..1.

    Raises:
        ParameterError: unknown screen, bad frame, or ``0 <= low < high`` violated; a frame with
            no screen colour at all (nothing to key).
    """
    if not 0.0 <= low < high:
        raise ParameterError(f"chroma key thresholds need 0 <= low < high, got {low}, {high}")
    excess = _excess_codes(frame, screen)
    level = _percentile_codes(excess, 90) / 255.0
    if level <= 0.02:
        raise ParameterError(f"no {screen} screen in the frame: its {screen} excess is {level:.3f}; "
                             f"is it shot against a {screen} screen?")
    # (high − E / level) / (high − low), E = codes / 255, as one multiply-add on the codes.
    alpha = excess.astype(np.float32)
    alpha *= np.float32(-1.0 / (255.0 * level * (high - low)))
    alpha += np.float32(high / (high - low))
    return np.clip(alpha, 0.0, 1.0, out=alpha)


def despill(frame: np.ndarray, screen: str = "green") -> np.ndarray:
    """Spill suppression: the screen channel limited to the larger of the other two ([H, W, 3] RGB,
    uint8 codes or float32 values of any scale; the same type out)."""
    if screen not in SCREENS:
        raise ParameterError(f"screen must be one of {', '.join(SCREENS)}, got {screen!r}")
    if frame.dtype != np.float32:
        _check_frame(frame)
    channel = SCREENS[screen]
    others = [c for c in range(3) if c != channel]
    out = frame.copy()
    out[..., channel] = np.minimum(frame[..., channel], np.maximum(frame[..., others[0]], frame[..., others[1]]))
    return out


def difference_key(frame: np.ndarray, clean_plate: np.ndarray, *, low: float = 8.0, high: float = 12.0) -> np.ndarray:
    """Raw difference key against a clean plate (before cleaning and refinement).

    Args:
        frame, clean_plate: uint8 [H, W, 3] RGB, the same framing.
        low, high: CIELAB ΔE*ab: at or below ``low`` the pixel is background (alpha 0), at or above
            ``high`` foreground (alpha 1), linear between.

    Returns:
        float32 [H, W] alpha in 0..1.

    Raises:
        ParameterError: frames of different sizes, or ``0 <= low < high`` violated.
    """
    _check_frame(frame)
    _check_frame(clean_plate, "clean plate")
    if frame.shape != clean_plate.shape:
        raise ParameterError(f"the clean plate is {clean_plate.shape[1]}x{clean_plate.shape[0]} but the frame "
                             f"{frame.shape[1]}x{frame.shape[0]}; they must have the same framing")
    if not 0.0 <= low < high:
        raise ParameterError(f"difference key thresholds need 0 <= low < high, got {low}, {high}")
    lab = [cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab) for image in (frame, clean_plate)]
    # A light blur of both first, so that sensor noise and compression do not speckle the key.
    lab = [cv2.GaussianBlur(image, (0, 0), 1.0) for image in lab]
    difference = cv2.subtract(lab[0], lab[1])
    distance = cv2.sqrt(cv2.transform(cv2.multiply(difference, difference), np.ones((1, 3), np.float32)))  # ΔE*ab
    distance -= low
    distance /= high - low
    return np.clip(distance, 0.0, 1.0, out=distance)


def clean(alpha: np.ndarray) -> np.ndarray:
    """Remove foreground specks and fill background holes smaller than ``MIN_BLOB_FRACTION`` of the
    frame (float32 [H, W] in, float32 [H, W] out)."""
    min_area = MIN_BLOB_FRACTION * alpha.size
    solid = (alpha > 0.5).view(np.uint8)
    out = alpha.copy()
    for value, mask in ((0.0, solid), (1.0, 1 - solid)):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < min_area) + 1
        if len(small) > 32:  # many specks: one pass over the frame
            chosen = np.zeros(count, bool)
            chosen[small] = True
            out[chosen[labels]] = value
            continue
        for index in small:  # a few: each inside its own bounding box
            x, y, w, h = stats[index, :4]
            out[y:y + h, x:x + w][labels[y:y + h, x:x + w] == index] = value
    return out


def guided_filter(guide: np.ndarray, source: np.ndarray, *, radius: int, eps: float) -> np.ndarray:
    """The guided filter (He, Sun & Tang, ECCV 2010, Algorithm 1) with a grey guide.

    ``q = mean(a)·I + mean(b)`` with ``a = cov(I, p) / (var(I) + eps)``, ``b = mean(p) − a·mean(I)``,
    every mean a box filter of side ``2·radius + 1``.

    Args:
        guide: float32 [H, W] guide image I, 0..1.
        source: float32 [H, W] image p to filter (a matte).
        radius: box radius, pixels (>= 1).
        eps: regularisation (in squared guide units); larger is smoother.

    Returns:
        float32 [H, W].
    """
    if guide.shape != source.shape:
        raise ParameterError(f"guide {guide.shape} and source {source.shape} differ in shape")
    size = (2 * radius + 1, 2 * radius + 1)

    def box(image: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(image, cv2.CV_32F, size, borderType=cv2.BORDER_REFLECT)

    # The same arithmetic, in place where an intermediate is not needed again.
    mean_i, mean_p = box(guide), box(source)
    cov_ip = box(guide * source)
    cov_ip -= mean_i * mean_p
    var_i = cv2.sqrBoxFilter(guide, cv2.CV_32F, size, borderType=cv2.BORDER_REFLECT)  # mean(I²)
    var_i -= mean_i * mean_i
    var_i += eps
    a = cov_ip
    a /= var_i
    b = mean_p
    b -= a * mean_i
    out = box(a)
    out *= guide
    out += box(b)
    return out


def refine(frame: np.ndarray, alpha: np.ndarray, *, radius: int | None = None, eps: float = 1e-3) -> np.ndarray:
    """A matte's edges pulled onto the frame's edges by the guided filter, luma as the guide;
    ``radius`` defaults to 1/480 of the frame's longer side (2 px at 960 wide). Returns float32 [H, W] in 0..1."""
    radius = radius if radius is not None else max(1, round(max(alpha.shape) / 480))
    alpha = alpha.astype(np.float32, copy=False)
    # Farther than 2·radius from any non-zero alpha the filter's output is exactly 0 (every window
    # of p there is all zero, so a = b = 0): only the matte's bounding box, grown by 2·radius + 1
    # (so that the border reflection at the crop's edge sees zeros of p too), is filtered.
    x, y, w, h = cv2.boundingRect((alpha > 0).view(np.uint8))
    margin = 2 * radius + 1
    top, bottom = max(0, y - margin), min(alpha.shape[0], y + h + margin)
    left, right = max(0, x - margin), min(alpha.shape[1], x + w + margin)
    refined = np.zeros_like(alpha)
    if w > 0 and h > 0:
        guide = cv2.cvtColor(frame[top:bottom, left:right], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        refined[top:bottom, left:right] = guided_filter(guide, alpha[top:bottom, left:right], radius=radius, eps=eps)
    # The filter's linear model leaves faint tails across flat areas; within 2 % of 0 or 1 is 0 or 1.
    refined -= 0.02
    refined /= 0.96
    return np.clip(refined, 0.0, 1.0, out=refined)


class MatteSequence:
    """Makes a shot's mattes stable over time: each new matte is blended with the previous frame's
    matte carried along optical flow (DIS, at most ``flow_width`` wide), where the flow is trusted.

    ``out = (1 − carry)·new + carry·warp(previous)``, ``carry`` where the forward–backward check
    passes, 0 elsewhere (newly revealed or occluded pixels take the new matte alone).

    Args:
        carry: 0..1 weight of the carried matte (0 = no temporal smoothing).
        flow_width: flow computed at most this wide, pixels.
    """

    def __init__(self, *, carry: float = 0.5, flow_width: int = 480) -> None:
        if not 0.0 <= carry < 1.0:
            raise ParameterError(f"carry must be in [0, 1), got {carry}")
        self.carry = carry
        self.flow_width = flow_width
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The stabilised matte of ``frame`` (uint8 [H, W, 3]) given its own ``alpha`` (float32 [H, W])."""
        height, width = alpha.shape
        scale = min(1.0, self.flow_width / width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if scale < 1 else frame
        out = alpha
        if self._previous is not None and self.carry > 0:
            previous_small, previous_alpha = self._previous
            to_previous, trusted = flow_module.forward_check(small, previous_small)
            weight = trusted.astype(np.float32)
            if scale < 1:
                to_previous = cv2.resize(to_previous, (width, height), interpolation=cv2.INTER_LINEAR)
                to_previous *= 1.0 / scale
                weight = cv2.resize(weight, (width, height), interpolation=cv2.INTER_LINEAR)
            weight *= self.carry
            # (1 − w)·new + w·carried, as new + w·(carried − new)
            out = flow_module.warp(previous_alpha, to_previous)
            out -= alpha
            out *= weight
            out += alpha
        self._previous = (small, out)
        return out.astype(np.float32)

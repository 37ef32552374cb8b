"""The region a removal or a clean plate works on: per-frame object masks and their margin.

A mask says which pixels show the object to remove (True = remove). It comes either as

- a folder of per-frame mask images (:class:`MaskFolder`: frame N of the shot uses image N
  of the folder, white = object; roto or matte PNGs), or
- one box ``[x, y, w, h]`` or polygon drawn on one frame, tracked through the shot
  (:func:`track_polygon` → :class:`TrackedPolygon`), or
- outlines drawn on several frames — *keyframes*, as in a roto tool — each tracked to its
  neighbouring keyframes, a frame between two taking both (:func:`track_keyframes` →
  :class:`TrackedOutlines`): a moving, turning or deforming object that one outline loses
  within a few dozen frames is caught again at the next keyframe.

Either is read frame by frame in order (``masks(frame_range)``), so a long shot never
has all its masks in memory. The region a fix declares is each frame's mask dilated by a
margin (:func:`dilate`, a disc of ``margin_px`` pixels), which covers the object's soft
edge, motion blur and shadow fringe.

Tracking: the box or polygon is moved from frame to frame by the median optical flow of
the pixels inside it whose flow passes the forward–backward check — only those moving
unlike the camera, when there are enough (the object, not the background the box also
holds) — and scaled by the median ratio of distances between those pixels before and
after — the Median Flow tracker
of Kalal, Mikolajczyk & Matas, "Forward-Backward Error: Automatic Detection of Tracking
Failures", ICPR 2010, on dense DIS flow (:mod:`engine.ops.flow`) instead of Lucas–Kanade points.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, Union

import cv2
import numpy as np

from engine.errors import ParameterError, check_cancel
from engine.media.decode import FrameSource
from engine.ops import flow

#: Tracking runs on frames scaled down to at most this many pixels along the longer side.
TRACK_MAX_SIDE = 480
#: Frames read at once while tracking backwards (from the drawn frame towards the first).
_BACKWARD_CHUNK = 32
#: Inside a tracked box, pixels whose flow departs this far (pixels, at tracking scale) from
#: the camera's motion continued into the box are taken as the object's.
OBJECT_MOTION_PX = 1.0
#: ... when they are at least this share of the box's trusted pixels.
OBJECT_MIN_SHARE = 0.05


class MaskStream(Protocol):
    """Anything that yields per-frame masks in order: ``masks(frame_range)`` →
    ``(frame_number, bool [H, W])`` for every frame of the range."""

    def masks(self, frames: range) -> Iterator[tuple[int, np.ndarray]]: ...


#: What a removal accepts as masks: a :class:`MaskStream`, a folder path of mask images, a
#: callable ``mask(frame_number) -> bool [H, W]``, or one bool [H, W] array for every frame.
MaskInput = Union[MaskStream, str, os.PathLike, Callable[[int], np.ndarray], np.ndarray]


class MaskFolder:
    """Per-frame masks from a folder of numbered images (or a matte video), read in order.

    Frame N of the shot uses image N of the folder (frames counted from 0, as in
    :mod:`engine.media.decode`). A pixel is True (object) where any channel is above 127 — so 0/255
    binary PNGs and 0/128 multi-instance RGB masks both work.

    Raises:
        FrameSourceError: the folder is not readable as numbered images (at construction),
            or it has fewer images than the frames asked for.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._clip = FrameSource(self.path)  # probes now: a bad folder fails early

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the masks."""
        return self._clip.clip_probe.height, self._clip.clip_probe.width

    def masks(self, frames: range) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_number, bool [H, W])`` for every frame of ``frames``."""
        if self._clip.clip_probe.frame_count < frames.stop:
            raise ParameterError(
                f"mask folder {self.path} has {self._clip.clip_probe.frame_count} images but frames up to "
                f"{frames.stop - 1} need a mask (image N masks frame N)"
            )
        for number, image in FrameSource(self.path, first=frames.start, stop=frames.stop).frames():
            yield number, (image > 127).any(axis=2)

    def alphas(self, frames: range) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_number, uint8 [H, W])`` soft mattes (an 8-bit matte's grey, the largest
        channel of each pixel: 0 outside, 255 inside) for every frame of ``frames``.

        Raises:
            ParameterError: the folder has fewer images than the frames asked for.
        """
        if self._clip.clip_probe.frame_count < frames.stop:
            raise ParameterError(
                f"mask folder {self.path} has {self._clip.clip_probe.frame_count} images but frames up to "
                f"{frames.stop - 1} need a mask (image N masks frame N)"
            )
        for number, image in FrameSource(self.path, first=frames.start, stop=frames.stop).frames():
            yield number, image.max(axis=2)


class _CallableMasks:
    def __init__(self, function: Callable[[int], np.ndarray]) -> None:
        self._function = function

    def masks(self, frames: range) -> Iterator[tuple[int, np.ndarray]]:
        for number in frames:
            yield number, np.asarray(self._function(number)) > 0


class _StaticMask:
    def __init__(self, mask: np.ndarray) -> None:
        self._mask = np.asarray(mask) > 0

    def masks(self, frames: range) -> Iterator[tuple[int, np.ndarray]]:
        for number in frames:
            yield number, self._mask


def mask_stream(masks: MaskInput) -> MaskStream:
    """Turn any :data:`MaskInput` into a :class:`MaskStream`.

    Raises:
        ParameterError: ``masks`` is none of the accepted kinds.
        FrameSourceError: a folder path that is not readable as numbered images.
    """
    if hasattr(masks, "masks"):
        return masks  # type: ignore[return-value]
    if isinstance(masks, (str, os.PathLike)):
        return MaskFolder(masks)
    if isinstance(masks, np.ndarray):
        if masks.ndim != 2:
            raise ParameterError(f"a mask array must be [H, W], got shape {list(masks.shape)}")
        return _StaticMask(masks)
    if callable(masks):
        return _CallableMasks(masks)
    raise ParameterError(f"masks must be a folder of mask images, a box or a mask array, got {type(masks).__name__}")


def dilate(mask: np.ndarray, margin_px: int) -> np.ndarray:
    """``mask`` grown by ``margin_px`` pixels in every direction (a disc, Euclidean).

    Args:
        mask: bool [H, W].
        margin_px: integer >= 0.

    Returns:
        bool [H, W]; equal to ``mask`` when ``margin_px`` is 0.
    """
    if margin_px <= 0:
        return mask.copy()
    size = 2 * margin_px + 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.dilate(mask.astype(np.uint8), disc) > 0


def box_polygon(box: Sequence[float]) -> np.ndarray:
    """The four corners, float32 [4, 2] ``(x, y)``, of a box ``[x, y, w, h]`` in pixels.

    Raises:
        ParameterError: not four numbers, or a width/height that is not positive.
    """
    if len(box) != 4:
        raise ParameterError(f"a box is [x, y, w, h] in pixels, got {list(box)!r}")
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        raise ParameterError(f"a box needs a positive width and height, got [x, y, w, h] = {list(box)!r}")
    return np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def rasterise(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool [H, W] of ``size`` = (H, W): True inside the float [K, 2] ``(x, y)`` polygon."""
    image = np.zeros(size, np.uint8)
    cv2.fillPoly(image, [np.round(polygon * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return image > 0


class TrackedPolygon:
    """A polygon per frame (float32 [K, 2] in pixels), as :func:`track_polygon` made it;
    a :class:`MaskStream` of its rasterised masks.

    Attributes:
        polygons: ``{frame_number: float32 [K, 2]}`` for every frame of the tracked range.
        size: ``(height, width)`` of the frames.
    """

    def __init__(self, polygons: dict[int, np.ndarray], size: tuple[int, int]) -> None:
        self.polygons = polygons
        self.size = size

    def masks(self, frames: range) -> Iterator[tuple[int, np.ndarray]]:
        for number in frames:
            if number not in self.polygons:
                raise ParameterError(f"frame {number} is outside the frames the box was tracked through")
            yield number, rasterise(self.polygons[number], self.size)


def _small(frame: np.ndarray, scale: float) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return grey


def _median_flow_step(previous: np.ndarray, current: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Move a polygon (in the small frames' pixels) from ``previous`` to ``current``."""
    pair = flow.flow_pair(previous, current)
    drawn = rasterise(polygon, previous.shape)
    inside = drawn & pair.forward_valid
    # A box holds background too; where the camera follows the object the background moves
    # and the object stays. Pixels moving unlike the camera (the homography the flow outside
    # the box fits) are the object's: follow them when there are enough of them.
    camera = flow.complete(pair.forward, drawn)
    moving = inside & (np.linalg.norm(pair.forward - camera, axis=2) > OBJECT_MOTION_PX)
    if moving.sum() >= max(8, OBJECT_MIN_SHARE * inside.sum()):
        inside = moving
    ys, xs = np.nonzero(inside)
    if len(xs) < 8:
        return polygon  # nothing trustworthy to follow: the polygon stays put
    vectors = pair.forward[ys, xs]
    shift = np.median(vectors, axis=0)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(xs), size=(min(400, len(xs)), 2))
    start = np.stack([xs, ys], axis=1).astype(np.float32)
    end = start + vectors
    before = np.linalg.norm(start[picks[:, 0]] - start[picks[:, 1]], axis=1)
    after = np.linalg.norm(end[picks[:, 0]] - end[picks[:, 1]], axis=1)
    apart = before > 4.0
    scale = float(np.median(after[apart] / before[apart])) if apart.sum() >= 8 else 1.0
    centre = start.mean(axis=0)
    return ((polygon - centre) * scale + centre + shift).astype(np.float32)


def track_polygon(shot: FrameSource, polygon: np.ndarray, frame_number: int, *,
                  should_cancel: Callable[[], bool] | None = None) -> TrackedPolygon:
    """Track a box or polygon drawn on one frame through every frame of ``shot``.

    Median Flow (Kalal et al. 2010) on DIS flow at most :data:`TRACK_MAX_SIDE` pixels wide:
    forwards from ``frame_number`` to the last frame, then backwards to the first (read in
    chunks of frames, so memory does not grow with the shot's length).

    Args:
        shot: the frames.
        polygon: float [K, 2] ``(x, y)`` pixel positions on ``frame_number`` (K >= 3; see
            :func:`box_polygon` for a box).
        frame_number: the frame the polygon was drawn on, inside ``shot``'s range.
        should_cancel: polled between frames; True stops with :class:`Cancelled`.

    Returns:
        :class:`TrackedPolygon` covering ``shot.frame_range``.

    Raises:
        ParameterError: the frame is outside the shot, or the polygon has fewer than 3 points.
        FrameSourceError: the shot cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    polygon = np.asarray(polygon, dtype=np.float32)
    if polygon.ndim != 2 or polygon.shape[1] != 2 or len(polygon) < 3:
        raise ParameterError(f"a polygon needs at least 3 (x, y) points, got {polygon.tolist()!r}")
    frames = shot.frame_range
    if frame_number not in frames:
        raise ParameterError(
            f"the box is drawn on frame {frame_number}, outside the shot's frames {frames.start}–{frames.stop - 1}"
        )
    height, width = shot.clip_probe.height, shot.clip_probe.width
    scale = min(1.0, TRACK_MAX_SIDE / max(height, width))
    polygons = {frame_number: polygon}
    current = polygon * scale
    previous_small = None
    for number, frame in FrameSource(shot.path, first=frame_number, stop=frames.stop).frames():
        check_cancel(should_cancel, f"at frame {number}", fix="box tracking")
        small = _small(frame, scale)
        if previous_small is not None:
            current = _median_flow_step(previous_small, small, current)
            polygons[number] = current / scale
        previous_small = small
    current = polygon * scale
    later_small = None
    stop = frame_number + 1
    while stop > frames.start:
        first = max(frames.start, stop - _BACKWARD_CHUNK)
        chunk = [(n, _small(f, scale)) for n, f in FrameSource(shot.path, first=first, stop=stop).frames()]
        for number, small in reversed(chunk):
            check_cancel(should_cancel, f"at frame {number}", fix="box tracking")
            if later_small is not None:
                current = _median_flow_step(later_small, small, current)
                polygons[number] = current / scale
            later_small = small
        stop = first
    return TrackedPolygon(polygons, (height, width))


class TrackedOutlines:
    """Outlines per frame (float32 [K, 2] polygons in pixels), as :func:`track_keyframes` made
    them; a :class:`MaskStream` of the union of each frame's outlines, rasterised.

    Attributes:
        outlines: ``{frame_number: [float32 [K, 2], ...]}`` for every frame of the tracked range.
        size: ``(height, width)`` of the frames.
    """

    def __init__(self, outlines: dict[int, list[np.ndarray]], size: tuple[int, int]) -> None:
        self.outlines = outlines
        self.size = size

    def masks(self, frames: range) -> Iterator[tuple[int, np.ndarray]]:
        for number in frames:
            if number not in self.outlines:
                raise ParameterError(f"frame {number} is outside the frames the outlines were tracked through")
            mask = np.zeros(self.size, bool)
            for polygon in self.outlines[number]:
                mask |= rasterise(polygon, self.size)
            yield number, mask


def track_keyframes(shot: FrameSource, outlines: dict[int, np.ndarray], *,
                    should_cancel: Callable[[], bool] | None = None) -> TrackedOutlines:
    """Outlines drawn on several frames (keyframes), tracked through the shot: a keyframe keeps
    the outline drawn on it; a frame between two keyframes takes the *union* of both outlines,
    each carried to it from its keyframe by Median Flow (:func:`track_polygon`) — where one
    track loses a turning or fast object the other still covers it, and a removal leaving half
    an object is the failure that matters; frames before the first keyframe follow the first,
    frames after the last follow the last. One keyframe: :func:`track_polygon`'s outline.

    Args:
        shot: the frames.
        outlines: ``{frame_number: float [K, 2] (x, y) polygon}``, at least one, every frame
            inside ``shot``'s range.
        should_cancel: polled between frames; True stops with :class:`Cancelled`.

    Returns:
        :class:`TrackedOutlines` covering ``shot.frame_range``.

    Raises:
        ParameterError: no outline, a keyframe outside the shot, or a polygon of fewer than 3
            points.
        FrameSourceError: the shot cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    if not outlines:
        raise ParameterError("draw the outline on at least one frame")
    frames = shot.frame_range
    keys = sorted(outlines)
    outside = [key for key in keys if key not in frames]
    if outside:
        raise ParameterError(f"outline(s) on frame(s) {', '.join(map(str, outside))}, outside the shot's frames "
                             f"{frames.start}–{frames.stop - 1}")
    tracked: dict[int, list[np.ndarray]] = {number: [] for number in frames}
    for index, key in enumerate(keys):
        # From the previous keyframe to the next one (each end excluded: a keyframe keeps its own).
        first = frames.start if index == 0 else keys[index - 1] + 1
        stop = frames.stop if index == len(keys) - 1 else keys[index + 1]
        part = shot if (first, stop) == (frames.start, frames.stop) else FrameSource(shot.path, first=first, stop=stop)
        for number, polygon in track_polygon(part, outlines[key], key, should_cancel=should_cancel).polygons.items():
            tracked[number].append(polygon)
    return TrackedOutlines(tracked, (shot.clip_probe.height, shot.clip_probe.width))

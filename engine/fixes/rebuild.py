"""Rebuilt frames: missing, damaged or dropped frames of a shot rebuilt from their neighbours
by motion-compensated interpolation, and retiming by a factor.

Method. A frame at time ``t`` (0 < t < 1) between two good frames I0 and I1 is rebuilt from
both, each brought to time ``t`` along optical flow:

1. Bidirectional flow F0→1 and F1→0 (DIS, :mod:`engine.ops.flow`),
   computed on frames scaled to at most ``flow_width`` pixels wide and scaled back up (large
   motion is found more reliably and faster at that size), with the forward–backward check
   marking the pixels of each frame that are occluded in the other (Sundaram et al. 2010).
2. The flow from time ``t`` back to each frame, by forward splatting (Baker et al., "A Database
   and Evaluation Methodology for Optical Flow", IJCV 92(1), 2011, §3 "frame interpolation"):
   every pixel p of I0 lands at ``p + t·F0→1(p)`` and carries ``−t·F0→1(p)`` (to I0) and
   ``(1−t)·F0→1(p)`` (to I1); every pixel of I1 likewise from the other side. Where several land
   on one pixel, a vector that passed the forward–backward check beats one that did not, and among
   equals the one whose colour agrees best between I0 and I1 wins (Baker's photo-consistency rule:
   occluding surfaces match, occluded ones do not). Holes left by the splat take the linear
   approximation of Jiang et al., "Super SloMo", CVPR 2018, eq. 4:
   ``Ft→0 = −(1−t)t·F0→1 + t²·F1→0``, ``Ft→1 = (1−t)²·F0→1 − t(1−t)·F1→0``.
3. Each frame is warped to time t and the two are blended ``(1−t, t)`` (Jiang et al. 2018, eq. 1),
   except where the winning vector failed the forward–backward check: that pixel is seen in one
   frame only (occluded in the other) and is taken from that frame alone (Baker et al. 2011,
   occlusion reasoning).

Precision. Sources deeper than 8 bits (10/12/16-bit, half/float) are rebuilt at source precision:
the flow (step 1) and the photo-consistency of step 2 are computed on 8-bit views of the frames
through the display transform of the clip's colour space (:func:`engine.media.colour.display_codes`,
as a viewer sees them), while the pixels warped and blended in step 3 are the float32 source values
in the clip's own encoding — no 8-bit step. Every frame that is not rebuilt is handed on as decoded,
bit-identical to the source at its depth.

Frames with no good neighbour on one side (missing frames at the start or end of the shot)
repeat the nearest good frame, and the measurements say how many did.
"""
from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.errors import ParameterError, check_cancel
from engine.fixes.result import FixResult
from engine.media.colour import display_codes
from engine.media.decode import FrameSource
from engine.ops import flow as flow_module
from engine.params import check_number
from engine.fixes.params import RebuildParams  # noqa: F401  (moved there: importable without torch or OpenCV)

log = logging.getLogger(__name__)

#: The space this fix works in: None = the clip's own encoding (its input colour space) — the two
#: frames warped to time t are blended (1 − t, t) on their values at source precision (uint8 codes
#: for 8-bit clips, float32 otherwise); the flow of deeper clips is found on their display views.
WORKING_SPACE = None

Sink = Callable[[int, np.ndarray, np.ndarray], None]


@dataclass
class Interpolator:
    """Motion-compensated interpolation between two frames (see the module docstring).

    Build it once per pair of good frames (the flow is computed once) and call
    :meth:`at` for every time between them.

    Args:
        frame_0, frame_1: uint8 [H, W, 3] RGB, or float32 [H, W, 3] at source precision, the same size.
        flow_width: flow is computed at most this wide (pixels).
        view_0, view_1: uint8 [H, W, 3] views of float32 frames the flow is found on (their
            display codes); required for float32 frames, None for uint8 ones (the frames themselves).

    Raises:
        ParameterError: the frames differ in size, or float32 frames come without views.
    """

    frame_0: np.ndarray
    frame_1: np.ndarray
    flow_width: int = 640
    view_0: np.ndarray | None = None
    view_1: np.ndarray | None = None
    _pair: flow_module.FlowPair = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.frame_0.shape != self.frame_1.shape:
            raise ParameterError(f"frames differ in size: {self.frame_0.shape} and {self.frame_1.shape}")
        view_0 = self.frame_0 if self.view_0 is None else self.view_0
        view_1 = self.frame_1 if self.view_1 is None else self.view_1
        if view_0.dtype != np.uint8 or view_1.dtype != np.uint8 or view_0.shape != self.frame_0.shape \
                or view_1.shape != self.frame_0.shape:
            raise ParameterError("float frames are interpolated along flow found on their uint8 views "
                                 "(view_0, view_1) of the frames' size")
        height, width = self.frame_0.shape[:2]
        scale = min(1.0, self.flow_width / width)
        self._size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if scale < 1.0:
            small_0 = cv2.resize(view_0, self._size, interpolation=cv2.INTER_AREA)
            small_1 = cv2.resize(view_1, self._size, interpolation=cv2.INTER_AREA)
        else:
            small_0, small_1 = view_0, view_1
        self._small = (small_0, small_1)
        self._pair = flow_module.flow_pair(small_0, small_1)

    @property
    def trusted_fraction(self) -> float:
        """Fraction of pixels of both frames whose flow passed the forward–backward check."""
        return float((self._pair.forward_valid.mean() + self._pair.backward_valid.mean()) / 2.0)

    def at(self, t: float) -> np.ndarray:
        """The frame at time ``t`` (0 = frame_0, 1 = frame_1): [H, W, 3] RGB of the frames' dtype
        (uint8 rounded; float32 unrounded, at source precision).

        The flows at t and the blend weights are found at flow size and scaled up; the frames
        are warped at full size.

        Raises:
            ParameterError: t outside (0, 1).
        """
        if not 0.0 < t < 1.0:
            raise ParameterError(f"interpolation time must be strictly between 0 and 1, got {t}")
        to_0, to_1, weight_0 = _flows_at(self._pair, *self._small, t)
        height, width = self.frame_0.shape[:2]
        if (width, height) != self._size:
            to_0, to_1 = _upscale_flow(to_0, (width, height)), _upscale_flow(to_1, (width, height))
            weight_0 = cv2.resize(weight_0, (width, height), interpolation=cv2.INTER_LINEAR)
        out = flow_module.warp(self.frame_0, to_0).astype(np.float32)
        warped_1 = flow_module.warp(self.frame_1, to_1).astype(np.float32)
        out -= warped_1
        out *= weight_0[..., None]
        out += warped_1  # between the two warped frames (weights in 0..1), so 0..255 for codes
        if self.frame_0.dtype != np.uint8:
            return out  # float32 at source precision: no rounding
        out += 0.5
        return out.astype(np.uint8)


def _upscale_flow(field_: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float32 [h, w, 2] flow resized to ``size`` (width, height), its vectors scaled to match."""
    big = cv2.resize(field_, size, interpolation=cv2.INTER_LINEAR)
    scale_x, scale_y = size[0] / field_.shape[1], size[1] / field_.shape[0]
    if scale_x == scale_y:
        big *= scale_x
    else:
        big *= np.float32([scale_x, scale_y])
    return big


#: Splat priority penalty of a vector that failed the forward–backward check (grey levels): any
#: trusted vector landing on a pixel wins over an untrusted one.
_UNTRUSTED_PENALTY = 1e4


def _flows_at(pair: flow_module.FlowPair, frame_0: np.ndarray, frame_1: np.ndarray, t: float):
    """Flows from time t to frame 0 and to frame 1 (float32 [H, W, 2] each) and the blend weight
    of warped frame 0 (float32 [H, W]; frame 1 gets 1 minus it).

    Every vector of both frames is splatted to its position at t (Baker et al. 2011); per target
    pixel the trusted vector whose colour agrees best between the frames wins, untrusted vectors
    (occluded in the other frame) only where no trusted one lands. A pixel won by a trusted vector
    blends the frames (1−t, t); one won by an untrusted vector of frame 0 is seen only in frame 0
    (weights 1, 0), and the other way round; holes take Jiang et al.'s linear approximation and
    the plain (1−t, t) blend."""
    height, width = pair.forward.shape[:2]
    count = height * width
    grid = flow_module.pixel_grid(height, width)
    # A vector (dx, dy) is handled as one complex64 dx + i·dy, so that gathering and scattering
    # vectors by pixel index is one-dimensional indexing.
    to_0 = np.zeros(count, np.complex64)
    to_1 = np.zeros(count, np.complex64)
    priority = np.full(count, np.inf, np.float32)
    winner = np.zeros(count, np.int8)  # 0 hole, 1 trusted, 2 only frame 0, 3 only frame 1
    f0 = frame_0.astype(np.float32)
    f1 = frame_1.astype(np.float32)
    # (vectors, trusted, own frame, other frame, fraction of the vector travelled by time t,
    #  (to_0, to_1) factors of a carried vector v, code when untrusted)
    sides = (
        (pair.forward, pair.forward_valid, f0, f1, t, (-t, 1.0 - t), 2),
        (pair.backward, pair.backward_valid, f1, f0, 1.0 - t, (t, -(1.0 - t)), 3),
    )
    for vectors, trusted, own, other, travelled, carried, alone in sides:
        trusted_flat = trusted.ravel()
        # Σ over RGB of |own − other warped onto own|, plus the penalty where the vector is untrusted.
        cost = cv2.transform(cv2.absdiff(own, flow_module.warp(other, vectors)), _SUM_RGB).ravel()
        cost[~trusted_flat] += _UNTRUSTED_PENALTY
        landing = np.rint(grid + travelled * vectors).astype(np.int32)
        tx, ty = landing[..., 0].ravel(), landing[..., 1].ravel()
        keep = np.flatnonzero((tx >= 0) & (tx < width) & (ty >= 0) & (ty < height)).astype(np.int32)
        # Worst first (the best is written last and wins). Costs rounded down to integers below
        # 65001 and stored as 65000 − cost in uint16: NumPy's stable sort is a radix sort there.
        rank = (65000 - np.minimum(cost[keep], 65000).astype(np.int32)).astype(np.uint16)
        keep = keep[np.argsort(rank, kind="stable")]
        target = ty[keep] * width + tx[keep]
        best = np.full(count, -1, np.int32)
        best[target] = keep  # repeated indices keep the last assignment (NumPy's documented rule)
        landed = np.flatnonzero(best >= 0)
        source = best[landed]
        better = cost[source] < priority[landed]
        landed, source = landed[better], source[better]
        priority[landed] = cost[source]
        v = _complex(vectors)[source]
        to_0[landed] = carried[0] * v
        to_1[landed] = carried[1] * v
        winner[landed] = np.where(trusted_flat[source], 1, alone)
    holes = np.flatnonzero(winner == 0)
    if holes.size:
        forward, backward = _complex(pair.forward)[holes], _complex(pair.backward)[holes]
        to_0[holes] = -(1.0 - t) * t * forward + t * t * backward
        to_1[holes] = (1.0 - t) ** 2 * forward - t * (1.0 - t) * backward
    weight_0 = np.full(count, 1.0 - t, np.float32)
    weight_0[winner == 2] = 1.0
    weight_0[winner == 3] = 0.0
    return (to_0.view(np.float32).reshape(height, width, 2), to_1.view(np.float32).reshape(height, width, 2),
            weight_0.reshape(height, width))


def _complex(vectors: np.ndarray) -> np.ndarray:
    """complex64 [H·W] view of a C-contiguous float32 [H, W, 2] flow: ``dx + i·dy`` per pixel."""
    return np.ascontiguousarray(vectors).view(np.complex64).ravel()


#: cv2.transform matrix summing the three channels of a pixel.
_SUM_RGB = np.ones((1, 3), np.float32)


_check_cancel = functools.partial(check_cancel, fix="frame rebuild")


def _interpolator(shot: FrameSource, frame_0: np.ndarray, frame_1: np.ndarray, flow_width: int) -> Interpolator:
    """An :class:`Interpolator` of two frames of ``shot``: uint8 frames as they are; float32 ones
    with their display views (the clip's colour space through the display transform) for the flow."""
    if frame_0.dtype == np.uint8:
        return Interpolator(frame_0, frame_1, flow_width=flow_width)
    return Interpolator(frame_0, frame_1, flow_width=flow_width, view_0=display_codes(frame_0, shot.colorspace),
                        view_1=display_codes(frame_1, shot.colorspace))


def run(
    *,
    shot: FrameSource,
    reference: FrameSource | None = None,
    params: RebuildParams,
    sink: Sink,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> FixResult:
    """Rebuild the frames ``params.missing`` of ``shot`` from the good frames either side of
    each run of missing frames (motion-compensated interpolation, see the module docstring).

    One pass over the shot; memory holds the last good frame plus the run of missing frames
    waiting for the next good one. The missing frames are never used as input (they are only
    handed to ``sink`` as "before").

    Args:
        shot: the frames; every missing frame must lie in its range.
        reference: unused (must be None); present so every fix has the same call shape.
        params: :class:`RebuildParams`.
        sink: ``sink(frame_number, before, after)`` for every frame of the shot, in order;
            uint8 [H, W, 3] RGB for an 8-bit shot, float32 [H, W, 3] at source precision for a
            deeper one; ``after`` is ``before`` itself for a good frame.
        progress: ``progress(done, total)`` after each sink call; total is ``len(shot)``.
        should_cancel: polled between frames; True stops the run with :class:`Cancelled`.

    Returns:
        :class:`engine.fixes.result.FixResult`: ``region`` all True (a rebuilt frame is rebuilt
        whole; the frames outside ``missing`` are handed on untouched), ``frame_count``, and
        ``measurements``: ``frames_rebuilt``, ``frames_interpolated`` (between two good
        frames), ``frames_repeated`` (at the start or end of the shot, copied from the nearest
        good frame), ``flow_trusted_fraction`` (mean share of pixels passing the forward–backward
        check over the interpolated pairs), ``rebuilt_frames_per_second``.

    Raises:
        ParameterError: invalid params, a missing frame outside the shot, every frame
            missing, or a reference given.
        FrameSourceError: the shot cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    if not isinstance(params, RebuildParams):
        raise ParameterError(
            f"params must be RebuildParams (use RebuildParams.from_dict for stored JSON), got {type(params).__name__}"
        )
    if reference is not None:
        raise ParameterError("a frame rebuild takes no reference: it rebuilds frames from the shot's own")
    frames = shot.frame_range
    missing = set(params.missing)
    outside = sorted(n for n in missing if n not in frames)
    if outside:
        raise ParameterError(
            f"missing frame(s) {', '.join(map(str, outside))} lie outside the shot "
            f"({shot.path.name} frames {frames.start}–{frames.stop - 1})"
        )
    if not missing:
        raise ParameterError("no missing frames given: name the frames to rebuild")
    if len(missing) == len(frames):
        raise ParameterError("every frame of the shot is missing: there is nothing to rebuild from")
    total = len(frames)
    done = 0
    counts = {"interpolated": 0, "repeated": 0}
    trusted: list[float] = []
    rebuild_seconds = 0.0
    previous: tuple[int, np.ndarray] | None = None
    waiting: list[tuple[int, np.ndarray]] = []

    def emit(number: int, before: np.ndarray, after: np.ndarray) -> None:
        nonlocal done
        sink(number, before, after)
        done += 1
        if progress is not None:
            progress(done, total)

    def flush(following: tuple[int, np.ndarray] | None) -> None:
        nonlocal rebuild_seconds
        if not waiting:
            return
        started = time.perf_counter()
        if previous is not None and following is not None:
            interpolator = _interpolator(shot, previous[1], following[1], params.flow_width)
            trusted.append(interpolator.trusted_fraction)
            span = following[0] - previous[0]
            rebuilt = [interpolator.at((number - previous[0]) / span) for number, _ in waiting]
            counts["interpolated"] += len(waiting)
        else:
            nearest = previous if previous is not None else following
            rebuilt = [nearest[1]] * len(waiting)
            counts["repeated"] += len(waiting)
        rebuild_seconds += time.perf_counter() - started
        for (number, before), after in zip(waiting, rebuilt):
            emit(number, before, after)
        waiting.clear()

    for number, frame in shot.frames(as_float=not shot.encoding.is_8bit):
        _check_cancel(should_cancel, f"at frame {number}")
        if number in missing:
            waiting.append((number, frame))
            continue
        flush((number, frame))
        emit(number, frame, frame)
        previous = (number, frame)
    flush(None)
    rebuilt_count = counts["interpolated"] + counts["repeated"]
    measurements = {
        "frames_rebuilt": float(rebuilt_count),
        "frames_interpolated": float(counts["interpolated"]),
        "frames_repeated": float(counts["repeated"]),
        "flow_trusted_fraction": float(np.mean(trusted)) if trusted else 0.0,
        "rebuilt_frames_per_second": rebuilt_count / rebuild_seconds if rebuild_seconds > 0 else 0.0,
    }
    log.info("frame rebuild %s: %s", shot.path.name, measurements)
    height, width = shot.clip_probe.height, shot.clip_probe.width
    return FixResult(region=np.ones((height, width), dtype=bool), measurements=measurements, frame_count=done)


def retime(
    *,
    shot: FrameSource,
    factor: float,
    sink: Sink,
    flow_width: int = 640,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> FixResult:
    """Retime a shot by ``factor``: output frame j shows the shot at time ``first + j / factor``
    (in source frames), interpolated along motion between the two source frames around it.

    ``factor`` 2 gives twice as many frames (half speed at the same frame rate); 0.5 keeps
    every other frame (double speed). The output has ``floor((len(shot) − 1)·factor) + 1``
    frames, the first and last on source frames.

    Args:
        shot: the source frames (streamed; two are held at a time).
        factor: output frames per source frame, 0.1..16.
        sink: ``sink(j, before, after)`` for output frame j (from 0), in order; ``before``
            is the source frame nearest in time, ``after`` the retimed frame (uint8 [H, W, 3] RGB;
            float32 at source precision for a shot deeper than 8 bits, as :func:`run`).
        flow_width, progress, should_cancel: as for :func:`run` (progress total = output frames).

    Returns:
        :class:`engine.fixes.result.FixResult` with ``measurements`` ``frames_out``,
        ``frames_interpolated``, ``frames_per_second``.

    Raises:
        ParameterError: a factor out of range. FrameSourceError, Cancelled: as :func:`run`.
    """
    factor = check_number("retime factor", factor, low=0.1, high=16.0)
    first = shot.frame_range.start
    total = math.floor((len(shot) - 1) * factor + 1e-9) + 1
    started = time.perf_counter()
    interpolated = 0
    output = 0
    pair: list[tuple[int, np.ndarray]] = []
    interpolator: Interpolator | None = None
    for number, frame in shot.frames(as_float=not shot.encoding.is_8bit):
        _check_cancel(should_cancel, f"at frame {number}")
        pair = (pair + [(number, frame)])[-2:]
        interpolator = None
        while output < total:
            position = first + output / factor
            if position > number + 1e-9:
                break
            lower = math.floor(position + 1e-9)
            fraction = position - lower
            if fraction < 1e-6 and lower == number:
                after = frame
            elif len(pair) == 2 and lower == pair[0][0]:
                if interpolator is None:
                    interpolator = _interpolator(shot, pair[0][1], pair[1][1], flow_width)
                after = interpolator.at(fraction)
                interpolated += 1
            else:  # pragma: no cover - positions advance monotonically
                after = frame
            before = pair[0][1] if len(pair) == 2 and fraction < 0.5 and lower == pair[0][0] else frame
            sink(output, before, after)
            output += 1
            if progress is not None:
                progress(output, total)
    elapsed = time.perf_counter() - started
    measurements = {"frames_out": float(output), "frames_interpolated": float(interpolated),
                    "frames_per_second": output / elapsed if elapsed > 0 else 0.0}
    height, width = shot.clip_probe.height, shot.clip_probe.width
    return FixResult(region=np.ones((height, width), dtype=bool), measurements=measurements, frame_count=output)

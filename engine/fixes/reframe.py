"""Reframe: the missing cutaway — a punch-in on a wider take, rendered at the delivery size,
upscaled by the production's upscale model and given its lens and grain signature.

The new framing is a box in the take's pixels, fixed or keyframed. Between keyframes the box
moves like an operated camera move between two marks: its centre and size follow a cubic
ease-in/ease-out (smoothstep, 3t² − 2t³: zero velocity at each keyframe, no jerk of a linear
move's corners); before the first keyframe and after the last the box holds.

Each output frame: the box cut from the take at sub-pixel precision (the box's pixels and a
margin, on an integer grid), upscaled — by :class:`engine.models.upscale.TrainedUpscale` when a
model is given, its detail over a Lanczos upscale cored at :data:`CORING_SIGMAS` (the network
sharpens the take's 8-bit steps and compression noise too, which read as grain the plate does not
have), else by Lanczos — and resampled so that the box fills the delivery size
exactly; then the production's signature (:mod:`engine.ops.lens`): sharpness brought to the
take's own MTF50 (the production's, from the model, when the take has no edges to measure): one
unsharp-mask/blur amount found on the first frame *as delivered* (regrain included, since grain
on an edge raises the figure the plate's is measured with), kept for the shot so that it cannot
pump, and cored (:data:`CORING_SIGMAS`) so that compression noise and 8-bit steps are not
multiplied with the edges; the model's vignetting moved from the box's place in the take to the
delivery frame's (only with a model: one shot cannot tell vignetting from its content); and the
take's own grain added back where the delivered frame — its 8-bit rounding included — lacks it
(:func:`engine.ops.grain.regrain` with ``quantised`` for 8-bit takes, the rule of every fix's
regrain: per luma bin and channel, the gain of unit grain found so that Immerkær's estimate of the
frame as written reads the plate's — rounding is not additive, so the deficit read before the
grain is not what to add; the gains are found on the first frame and kept for the shot, as
the sharpening amount is; seeded by the frame number; the frame itself stays float32).

The output is a new picture: its region is the whole delivery frame. Frames are float32 at
source precision (0..1 code values) throughout; 8-bit sources are written back as 8-bit.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ParameterError, check_cancel

#: Method string recorded with a reframe proposal.
METHOD = ("engine.fixes.reframe — punch-in reframe: keyframed box eased like a camera move, learned "
          "super-resolution (engine.models.upscale), MTF50, vignetting and grain of the production (engine.ops.lens)")

Box = tuple[float, float, float, float]


def _box(value: object, what: str) -> Box:
    """A box ``(x, y, w, h)`` of four finite numbers, w and h positive; raises ParameterError."""
    if isinstance(value, str):
        value = value.split(",")
    try:
        numbers = tuple(float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ParameterError(f"{what} must be four numbers X,Y,W,H, got {value!r}") from None
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise ParameterError(f"{what} must be four finite numbers X,Y,W,H, got {value!r}")
    if numbers[2] <= 0 or numbers[3] <= 0:
        raise ParameterError(f"{what} must have a positive width and height, got {value!r}")
    return numbers


def _size(value: object) -> tuple[int, int]:
    if isinstance(value, str):
        value = value.lower().split("x")
    try:
        width, height = (int(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ParameterError(f"size must be WxH in pixels (e.g. 1920x1080), got {value!r}") from None
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise ParameterError(f"size must be between 16 and 16384 pixels each way, got {width}x{height}")
    return width, height


#: Box aspect ratios may differ from the delivery size's by this share (a pixel of rounding).
ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class ReframeParams:
    """Parameters of a reframe (free of heavy imports: checking them needs neither torch nor
    OpenCV).

    Attributes:
        box: ``(x, y, w, h)`` of the new framing in the take's pixels (top-left corner, size);
            also a string ``"X,Y,W,H"``.
        size: delivery size ``(width, height)`` in pixels; also ``"WxH"``. The box's aspect
            ratio must be the size's (within 1 %).
        keyframes: optional list of ``{"frame": N, "box": [x, y, w, h]}`` (frame numbers of the
            clip); when given they replace ``box``, which then only needs to be one of them.
        model: path of a production's upscale model (``.pt``), or None for Lanczos.
        match_sharpness: bring the output's MTF50 to the footage's.
        regrain: add the take's grain where the upscale smoothed it.

    Raises:
        ParameterError: naming the parameter that is malformed.
    """

    box: Box | str = (0.0, 0.0, 0.0, 0.0)
    size: tuple[int, int] | str = (1920, 1080)
    keyframes: Sequence[Mapping[str, object]] = field(default_factory=tuple)
    model: str | None = None
    match_sharpness: bool = True
    regrain: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", _size(self.size))
        if not isinstance(self.keyframes, (list, tuple)):
            raise ParameterError(f"keyframes must be a list of {{'frame': N, 'box': [x, y, w, h]}}, "
                                 f"got {type(self.keyframes).__name__}")
        keys = []
        for index, key in enumerate(self.keyframes):
            if not isinstance(key, Mapping) or set(key) != {"frame", "box"}:
                raise ParameterError(f"keyframe {index} must be {{'frame': N, 'box': [x, y, w, h]}}, got {key!r}")
            frame = key["frame"]
            if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
                raise ParameterError(f"keyframe {index}'s frame must be a frame number ≥ 0, got {frame!r}")
            keys.append((frame, _box(key["box"], f"keyframe {index}'s box")))
        keys.sort()
        if len({frame for frame, _ in keys}) != len(keys):
            raise ParameterError("two keyframes have the same frame number")
        object.__setattr__(self, "keyframes", tuple({"frame": f, "box": list(b)} for f, b in keys))
        box = _box(self.box, "box") if not keys or self.box != (0.0, 0.0, 0.0, 0.0) else keys[0][1]
        object.__setattr__(self, "box", box)
        width, height = self.size
        for frame, candidate in [(None, box), *keys]:
            aspect = candidate[2] / candidate[3]
            if abs(aspect / (width / height) - 1.0) > ASPECT_TOLERANCE:
                where = "box" if frame is None else f"keyframe at frame {frame}"
                raise ParameterError(
                    f"the {where} is {candidate[2]:g}x{candidate[3]:g} (aspect {aspect:.4f}) but the delivery size "
                    f"{width}x{height} has aspect {width / height:.4f}; use a box {candidate[2]:g} wide and "
                    f"{candidate[2] * height / width:.1f} high")
        if self.model is not None and not isinstance(self.model, str):
            raise ParameterError(f"model must be a path, got {self.model!r}")
        for name in ("match_sharpness", "regrain"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{name} must be true or false, got {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> ReframeParams:
        """From a fix request's stored JSON (``box`` and ``size`` as lists or strings); missing
        keys take their defaults. Raises ``ParameterError`` naming unknown keys or bad values."""
        if not isinstance(values, Mapping):
            raise ParameterError(f"reframe parameters must be a mapping, got {type(values).__name__}")
        known = {"box", "size", "keyframes", "model", "match_sharpness", "regrain"}
        unknown = sorted(str(key) for key in values if key not in known)
        if unknown:
            raise ParameterError(f"unknown reframe parameter(s): {', '.join(unknown)}; known parameters are "
                                 f"{', '.join(sorted(known))}")
        if "box" not in values and not values.get("keyframes"):
            raise ParameterError("box: give the new framing as [x, y, w, h] in the take's pixels (or keyframes)")
        return cls(**values)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON values: ``box`` and ``size`` as lists."""
        return {"box": list(self.box), "size": list(self.size), "keyframes": [dict(k) for k in self.keyframes],
                "model": self.model, "match_sharpness": self.match_sharpness, "regrain": self.regrain}

    def box_at(self, frame_number: int) -> Box:
        """The box at a frame: the fixed box, or the keyframes eased like a camera move
        (module docstring)."""
        if not self.keyframes:
            return self.box  # type: ignore[return-value]
        keys = [(k["frame"], k["box"]) for k in self.keyframes]
        if frame_number <= keys[0][0]:
            return tuple(keys[0][1])  # type: ignore[return-value]
        for (f0, b0), (f1, b1) in zip(keys, keys[1:]):
            if frame_number <= f1:
                t = (frame_number - f0) / (f1 - f0)
                ease = t * t * (3.0 - 2.0 * t)
                c0 = (b0[0] + b0[2] / 2, b0[1] + b0[3] / 2)
                c1 = (b1[0] + b1[2] / 2, b1[1] + b1[3] / 2)
                w = b0[2] + ease * (b1[2] - b0[2])
                h = b0[3] + ease * (b1[3] - b0[3])
                cx = c0[0] + ease * (c1[0] - c0[0])
                cy = c0[1] + ease * (c1[1] - c0[1])
                return (cx - w / 2, cy - h / 2, w, h)
        return tuple(keys[-1][1])  # type: ignore[return-value]


def read_keyframes(path: str | Path) -> list[dict[str, object]]:
    """Keyframes from a JSON file: a list of ``{"frame": N, "box": [x, y, w, h]}``.

    Raises:
        ParameterError: the file is missing or not JSON of that shape (checked by ReframeParams).
    """
    path = Path(path)
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError:
        raise ParameterError(f"keyframes file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ParameterError(f"keyframes file {path} is not JSON: {exc}") from None
    if not isinstance(values, list) or not values:
        raise ParameterError(f"keyframes file {path} must hold a non-empty list of {{'frame': N, 'box': [x, y, w, h]}}")
    return values


# ------------------------------------------------------------------------------------------ render

#: Pixels of the take kept around the box for the upscale (its filters see real pixels at the edge).
_MARGIN_PX = 8
#: Frames of the take sampled to measure its grain and, without a model, its sharpness.
_PROFILE_FRAMES = 4
#: The coring threshold of the sharpness match and of the learned upscale's detail over Lanczos,
#: in deviations of the plate's grain and an 8-bit step's rounding together (chosen on
#: bench/upscale.py's TUNING split for the sharpness match; kept for the upscale's detail, where
#: the TUNING split read the same or closer grain with it: blocks 1.026 → 1.001, dog 1.002).
CORING_SIGMAS = 2.0


def _crop(frame, box: Box):
    """The box's pixels and a margin on the integer grid, and the box's offset in that crop."""
    import numpy as np

    height, width = frame.shape[:2]
    x, y, w, h = box
    left, top = max(0, math.floor(x) - _MARGIN_PX), max(0, math.floor(y) - _MARGIN_PX)
    right, bottom = min(width, math.ceil(x + w) + _MARGIN_PX), min(height, math.ceil(y + h) + _MARGIN_PX)
    return np.ascontiguousarray(frame[top:bottom, left:right]), (x - left, y - top)


def render_frame(frame, box: Box, size: tuple[int, int], upscaler=None, *, coring: float = 0.0):
    """The box of ``frame`` (float32 [H, W, 3], 0..1) rendered at ``size`` (width, height):
    upscaled (``upscaler``: a :class:`~engine.models.upscale.TrainedUpscale`, or None for
    Lanczos; area-resampled when the box is larger than ``size``) and resampled by Lanczos-4 at
    the box's sub-pixel position so that the box fills the frame exactly. float32 [h, w, 3].

    ``coring`` (0..1 code values, ≥ 0): the learned upscale's detail over a Lanczos upscale is
    cored (:func:`engine.ops.lens.core`) — what the network adds below the plate's grain and an
    8-bit step (it sharpens the take's quantisation steps and compression noise too) is not
    detail the plate has."""
    import cv2
    import numpy as np

    crop, (ox, oy) = _crop(frame, box)
    scale = size[0] / box[2]
    big_size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    if scale < 1:
        big = cv2.resize(crop, big_size, interpolation=cv2.INTER_AREA)
    elif upscaler is not None and scale > 1.05:
        big = upscaler.upscale(crop, big_size)
        if coring > 0:
            from engine.models.upscale import lanczos
            from engine.ops.lens import core

            plain = lanczos(crop, big_size)
            big = plain + core(big - plain, coring)
    else:
        big, big_size = crop, (crop.shape[1], crop.shape[0])
    sx, sy = big_size[0] / crop.shape[1], big_size[1] / crop.shape[0]
    # Output pixel u (centre u + ½) shows the box at ox + (u + ½)·w/W crop pixels, i.e. big's
    # pixel (ox + (u + ½)·w/W)·sx − ½ (pixel-centre convention); likewise for rows.
    step_x, step_y = box[2] / size[0], box[3] / size[1]
    matrix = np.float32([[step_x * sx, 0, (ox + 0.5 * step_x) * sx - 0.5],
                         [0, step_y * sy, (oy + 0.5 * step_y) * sy - 0.5]])
    return cv2.warpAffine(big, matrix, size, flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def _check_inside(params: ReframeParams, frame_numbers: range, width: int, height: int) -> None:
    keys = [params.box] if not params.keyframes else [tuple(k["box"]) for k in params.keyframes]
    for x, y, w, h in keys:
        if x < 0 or y < 0 or x + w > width + 1e-6 or y + h > height + 1e-6:
            raise ParameterError(f"the box {x:g},{y:g},{w:g},{h:g} reaches outside the take's "
                                 f"{width}x{height} frame")
    if params.keyframes and not any(k["frame"] in frame_numbers for k in params.keyframes):
        raise ParameterError(f"no keyframe falls inside the frames rendered ({frame_numbers.start}–"
                             f"{frame_numbers.stop - 1})")


@dataclass
class ReframeResult:
    """What a reframe did: the :class:`~engine.fixes.result.FixResult` fields (region = the whole
    delivery frame) and the box track rendered, for the proposal's lineage.

    Attributes:
        region: bool [height, width], all True (the picture is new).
        measurements: ``scale`` (delivery ÷ box width, first frame), ``mtf50_target``,
            ``mtf50_output`` (cycles per pixel, first frame), ``sharpen_amount``,
            ``grain_sigma_plate`` (8-bit code values, mean over bins and channels), ``grain_sigma_added``
            (8-bit code values, RMS of the grain added, mean over frames), ``upscaler``
            (1 = learned model, 0 = Lanczos).
        frame_count: frames written.
        box_track: per frame number, the box ``[x, y, w, h]`` rendered.
    """

    region: object
    measurements: dict[str, float]
    frame_count: int
    box_track: dict[int, list[float]]


def run(*, shot, params: ReframeParams, sink: Callable[[int, object, object], None],
        progress: Callable[[int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None) -> ReframeResult:
    """Render a punch-in reframe of a take (module docstring).

    Args:
        shot: :class:`engine.media.decode.FrameSource` of the wider take.
        params: :class:`ReframeParams`.
        sink: called ``sink(frame_number, take_frame, reframed)`` in order: for 8-bit takes both
            uint8 (take_frame [H, W, 3], reframed [h, w, 3]), else both float32 at source
            precision — what :class:`engine.media.encode.FrameWriter` writes for the take's encoding.
        progress: ``(done, total)`` after each frame.
        should_cancel: polled between frames.

    Raises:
        ParameterError: the box reaches outside the take; no keyframe inside the range; a bad model file.
        engine.errors.Cancelled: ``should_cancel`` answered True.
        engine.errors.FrameSourceError: the take cannot be read.
    """
    import numpy as np

    from engine.ops import grain as grain_ops
    from engine.ops import lens

    probe = shot.clip_probe
    _check_inside(params, shot.frame_range, probe.width, probe.height)
    upscaler = None
    if params.model is not None:
        from engine.models import upscale

        upscaler = upscale.load(params.model)
    width, height = params.size
    step = max(1, len(shot) // _PROFILE_FRAMES)
    sampled = [frame for _, frame in shot.frames(step=step, as_float=True)][:_PROFILE_FRAMES]
    consecutive = [frame for _, (_, frame) in zip(range(3), shot.frames(as_float=True))]
    plate_grain = lens.estimate_grain(consecutive)
    # The sharpness to match is the take's own (the shot the cutaway sits beside); the
    # production's, from the model's profile, only when the take has no edges to measure.
    try:
        target_mtf50 = lens.mtf50_of_frames(sampled)
    except lens.NoEdgesError:
        target_mtf50 = upscaler.profile.mtf50_cycles_per_px if upscaler is not None else None
    vignetting = upscaler.profile.vignetting if upscaler is not None else None
    eight_bit = shot.encoding.is_8bit
    # The learned upscale's detail and the sharpness match leave fluctuations below the plate's
    # grain and an 8-bit step alone (lens.core): they are compression noise or quantisation, and
    # grain is regrain's.
    coring = CORING_SIGMAS * math.sqrt(plate_grain.mean_sigma ** 2 + 1.0 / 12.0) / 255.0
    region = np.ones((height, width), bool)
    measurements: dict[str, float] = {"upscaler": 1.0 if upscaler is not None else 0.0}
    sharpen_amount = 0.0
    added: list[float] = []
    track: dict[int, list[float]] = {}
    total = len(shot)
    output_radius = lens.radius_map(height, width)
    calibration: dict = {}  # the regrain's gains, found on the first frame as delivered, used for every frame

    def _regrained(out, number: int, calibration: dict | None = None):
        """The frame (float32) with the plate's grain where, as delivered, it reads less; and
        the RMS deviation added (code values)."""
        codes, deviation_added = grain_ops.regrain(out * np.float32(255.0), region, plate_grain, seed=number,
                                                   quantised=eight_bit, calibration=calibration)
        return codes / np.float32(255.0), deviation_added

    for count, (number, frame) in enumerate(shot.frames(as_float=True), start=1):
        check_cancel(should_cancel, f"before frame {number}", fix="reframe")
        box = params.box_at(number)
        track[number] = [round(v, 3) for v in box]
        out = render_frame(frame, box, (width, height), upscaler, coring=coring)
        if count == 1:
            measurements["scale"] = round(width / box[2], 4)
            if params.match_sharpness and target_mtf50 is not None:
                # measured as delivered, the regrain included: the plate's MTF50 is measured on
                # its grain too, and grain on an edge raises the figure
                def finish(candidate, number=number):
                    return _regrained(candidate, number)[0] if params.regrain else candidate

                try:
                    sharpen_amount = lens.sharpness_amount(np.clip(out, 0, 1), target_mtf50, coring=coring,
                                                           finish=finish)
                except lens.NoEdgesError:
                    sharpen_amount = 0.0
                measurements["mtf50_target"] = round(target_mtf50, 4)
        out = lens.sharpen(out, sharpen_amount, coring=coring)
        if vignetting is not None:
            # The box's pixels carry the take's vignetting at their place in it; the delivery
            # frame should carry it at theirs.
            half = math.hypot(probe.width, probe.height) / 2.0
            x, y, w, h = box
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            source_x = x + (xs + 0.5) * w / width - 0.5
            source_y = y + (ys + 0.5) * h / height - 0.5
            source_radius = np.hypot(source_x - (probe.width - 1) / 2, source_y - (probe.height - 1) / 2) / half
            gain = lens.vignette(output_radius, vignetting) / lens.vignette(source_radius, vignetting)
            out = out * gain[..., None]
        out = np.clip(out, 0.0, None if not eight_bit else 1.0).astype(np.float32)
        if params.regrain:
            out, mean_added = _regrained(out, number, calibration)
            added.append(mean_added)
        if count == 1 and "mtf50_target" in measurements:
            try:
                measurements["mtf50_output"] = round(lens.mtf50(np.clip(out, 0, 1)), 4)
            except lens.NoEdgesError:
                pass
        if eight_bit:  # both sides back as the source's 8-bit codes
            written = np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
            before = np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)
        else:
            written, before = np.ascontiguousarray(out, np.float32), frame
        sink(number, before, written)
        if progress is not None:
            progress(count, total)
    measurements.update({"sharpen_amount": round(sharpen_amount, 4),
                         "grain_sigma_plate": round(plate_grain.mean_sigma, 4),
                         "grain_sigma_added": round(float(np.mean(added)) if added else 0.0, 4)})
    return ReframeResult(region=region, measurements=measurements, frame_count=len(track), box_track=track)

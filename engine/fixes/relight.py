"""Lighting harmonisation: match a shot's exposure, white balance and contrast to a
reference, expressed as an ASC CDL a colourist can read and adjust.

Working space: the CDL is applied to *linear-light* RGB — the footage's 8-bit sRGB /
BT.709 code values decoded with the IEC 61966-2-1 transfer function, Rec.709/sRGB
primaries, D65 — so its numbers read directly: a slope of 0.5 is one stop down.

Estimation (per sampled frame, on a decimated grid, robust to clipped highlights):

- the *white* of a frame is its per-channel median of linear RGB (a robust grey-world
  illuminant estimate; medians survive clipping of up to half the pixels);
- **exposure** (stops) = log2 of the ratio of the luminances (Y, Rec.709 weights) of the
  reference's and the shot's whites;
- **white balance**: chromatic adaptation from the shot's white to the reference's by
  CAT02 (CIE 159:2004, CIECAM02; von Kries scaling in the CAT02 LMS space, complete
  adaptation D = 1). A CDL is per channel, so it carries CAT02's effect on the neutral
  axis exactly (the slope takes the shot's white onto the reference's white), not the
  small off-diagonal terms CAT02 has for saturated colours;
- **contrast** = ratio of the spreads (interquartile range of log2 Y, after white
  balance) of reference and shot, clamped to [0.5, 2], applied as the CDL power about
  the shot's white, so the white lands exactly on the reference's.

The CDL (ASC CDL v1.2, ASC Technology Committee, 2009):
``out = max(in·slope + offset, 0)^power`` per channel, then saturation about the Rec.709
luma ``L = 0.2126 R + 0.7152 G + 0.0722 B``: ``out = L + sat·(out − L)``.

Temporal stability: the shot's per-frame whites and spreads are smoothed over time with
a Gaussian of ``smoothing_frames`` (σ, in frames) before the CDL of each frame is
derived, so the correction can follow a slow change of light in the shot but cannot
flicker; ``smoothing_frames = 0`` gives one CDL for the whole shot.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from engine.device import get_device
from engine.errors import Cancelled, ParameterError
from engine.fixes.result import FixResult
from engine.media.colour import display_transform
from engine.media.decode import FrameSource
from engine.ops.masks import FitMask, resolve_mask
from engine.ops.measure import CorrespondingDeltaE, FlickerMeter, sample_grid
from engine.ops.measure import check_correspondence
from engine.fixes.params import RelightParams  # noqa: F401  (moved there: importable without torch or OpenCV)

log = logging.getLogger(__name__)

#: The space this fix works in: linear-light Rec.709 (OCIO's ``Linear Rec.709 (sRGB)``; the CDL's numbers
#: read as stops), reached from 8-bit codes by the IEC 61966-2-1 curve whatever the clip's input colour
#: space (exact for sRGB-encoded clips); 8-bit sources only so far. ΔE is measured after the display
#: transform of the clip's input colour space.
WORKING_SPACE = "Linear Rec.709 (sRGB)"

#: Rec.709 / sRGB luminance weights (ITU-R BT.709-6), also the ASC CDL saturation weights.
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])
# IEC 61966-2-1 linear sRGB → CIE XYZ (D65), and the CAT02 matrix (CIE 159:2004).
_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_CAT02 = np.array([[0.7328, 0.4296, -0.1624], [-0.7036, 1.6975, 0.0061], [0.0030, 0.0136, 0.9834]])
_STATS_SAMPLES_PER_SIDE = 256
_DECODE = np.where(
    (codes := np.arange(256) / 255.0) <= 0.04045, codes / 12.92, ((codes + 0.055) / 1.055) ** 2.4
).astype(np.float32)


@dataclass(frozen=True)
class Cdl:
    """An ASC CDL v1.2 colour decision: slope, offset, power per channel and saturation.

    Applied to linear-light Rec.709/sRGB RGB in this engine (see the module docstring).
    """

    slope: tuple[float, float, float] = (1.0, 1.0, 1.0)
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    power: tuple[float, float, float] = (1.0, 1.0, 1.0)
    saturation: float = 1.0

    def to_dict(self) -> dict[str, list[float] | float | str]:
        """``{"slope": [r, g, b], "offset": [...], "power": [...], "saturation": s,
        "working_space": "linear Rec.709"}``."""
        return {
            "slope": [float(v) for v in self.slope],
            "offset": [float(v) for v in self.offset],
            "power": [float(v) for v in self.power],
            "saturation": float(self.saturation),
            "working_space": "linear Rec.709",
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> Cdl:
        """Inverse of :meth:`to_dict` (``working_space`` is accepted and ignored).

        Raises:
            ParameterError: missing/unknown keys or values that are not 3 numbers.
        """
        try:
            return cls(
                slope=tuple(float(v) for v in values["slope"]),
                offset=tuple(float(v) for v in values["offset"]),
                power=tuple(float(v) for v in values["power"]),
                saturation=float(values.get("saturation", 1.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(f"a CDL needs slope, offset and power as 3 numbers each: {exc}") from exc

    def to_cc_xml(self, correction_id: str = "loupe_relight") -> str:
        """The CDL as an ASC ``ColorCorrection`` XML element (``.cc`` file content)."""
        triple = lambda values: " ".join(f"{v:.6f}" for v in values)  # noqa: E731
        return (
            f'<ColorCorrection id="{correction_id}">\n'
            f"  <SOPNode>\n    <Description>linear Rec.709 working space</Description>\n"
            f"    <Slope>{triple(self.slope)}</Slope>\n    <Offset>{triple(self.offset)}</Offset>\n"
            f"    <Power>{triple(self.power)}</Power>\n  </SOPNode>\n"
            f"  <SatNode>\n    <Saturation>{self.saturation:.6f}</Saturation>\n  </SatNode>\n"
            f"</ColorCorrection>\n"
        )


def apply_cdl(linear: torch.Tensor, cdl: Cdl) -> torch.Tensor:
    """Apply an ASC CDL v1.2 to linear RGB.

    Args:
        linear: float [..., 3] linear-light RGB.

    Returns:
        float [..., 3], not clamped above (values above 1 are out of the display range).
    """
    like = dict(device=linear.device, dtype=linear.dtype)
    out = (linear * torch.tensor(cdl.slope, **like) + torch.tensor(cdl.offset, **like)).clamp(min=0.0)
    out = out.pow(torch.tensor(cdl.power, **like))
    if cdl.saturation != 1.0:
        luma = (out * torch.tensor(LUMA_WEIGHTS, **like)).sum(dim=-1, keepdim=True)
        out = luma + cdl.saturation * (out - luma)
    return out


@dataclass
class RelightResult(FixResult):
    """:class:`FixResult` plus the shot-wide CDL (``cdl``) that goes with the proposal.

    ``frame_cdls`` maps every frame number to the (time-smoothed) CDL it was rendered
    with; with ``smoothing_frames = 0`` they all equal ``cdl``.
    """

    cdl: Cdl = dataclasses.field(default_factory=Cdl)
    frame_cdls: dict[int, Cdl] = dataclasses.field(default_factory=dict)


def _frame_stats(frame: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """float64 [5]: log2 of the per-channel linear medians, and the 25th/75th percentiles
    of log2 Y after normalising by those medians (white balance and exposure removed)."""
    linear = _DECODE[sample_grid(frame, _STATS_SAMPLES_PER_SIDE)].reshape(-1, 3).astype(np.float64)
    if mask is not None:
        linear = linear[np.ascontiguousarray(sample_grid(mask, _STATS_SAMPLES_PER_SIDE)).reshape(-1)]
    if linear.shape[0] < 16:
        return np.full(5, np.nan)
    white = np.maximum(np.median(linear, axis=0), 1e-5)
    luminance = np.maximum((linear / white) @ LUMA_WEIGHTS, 1e-5)
    q25, q75 = np.percentile(np.log2(luminance), [25.0, 75.0])
    return np.concatenate([np.log2(white), [q25, q75]])


def _collect(source: FrameSource, stride: int, mask: FitMask, should_cancel, what: str):
    numbers, stats = [], []
    for number, frame in source.frames(step=stride):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"relight cancelled while measuring the {what} (frame {number})")
        numbers.append(number)
        stats.append(_frame_stats(frame, resolve_mask(mask, number, frame.shape[:2])))
    stats = np.asarray(stats)
    valid = ~np.isnan(stats).any(axis=1)
    if not valid.any():
        raise ParameterError(f"the {what} fit mask leaves too few pixels in every sampled frame")
    return np.asarray(numbers)[valid], stats[valid]


def _smooth(numbers: np.ndarray, stats: np.ndarray, frames: range, sigma: float) -> np.ndarray:
    """Gaussian-smoothed statistics at every frame of ``frames`` (float64 [len(frames), 5])."""
    targets = np.asarray(frames, dtype=np.float64)
    if sigma <= 0 or len(numbers) == 1:
        return np.repeat(np.median(stats, axis=0)[None], len(targets), axis=0)
    weights = np.exp(-0.5 * ((targets[:, None] - numbers[None, :]) / sigma) ** 2) + 1e-300
    return (weights @ stats) / weights.sum(axis=1, keepdims=True)


def cat02_adaptation(source_white: np.ndarray, target_white: np.ndarray) -> np.ndarray:
    """CAT02 chromatic adaptation (CIE 159:2004) as a linear-RGB 3×3 matrix.

    Args:
        source_white, target_white: float [3] linear Rec.709/sRGB RGB of the two whites.

    Returns:
        float64 [3, 3] M with ``M @ rgb`` the adapted colour (complete adaptation, D = 1;
        von Kries scaling of the CAT02 LMS responses, white luminance preserved).
    """
    to_lms = _CAT02 @ _SRGB_TO_XYZ
    source_lms = to_lms @ (np.asarray(source_white) / (LUMA_WEIGHTS @ source_white))
    target_lms = to_lms @ (np.asarray(target_white) / (LUMA_WEIGHTS @ target_white))
    return np.linalg.inv(to_lms) @ np.diag(target_lms / source_lms) @ to_lms


def cdl_from_stats(shot: np.ndarray, reference: np.ndarray, params: RelightParams) -> tuple[Cdl, float, float]:
    """Derive (CDL, exposure_stops, contrast) taking statistics ``shot`` onto ``reference``.

    Args:
        shot, reference: float [5] as :func:`_frame_stats` (log2 channel whites, log2 Y quartiles).
    """
    shot_white, reference_white = 2.0 ** shot[:3], 2.0 ** reference[:3]
    exposure_stops = math.log2((LUMA_WEIGHTS @ reference_white) / (LUMA_WEIGHTS @ shot_white))
    if not params.match_exposure:
        reference_white = reference_white / 2.0**exposure_stops
    if params.match_white_balance:
        adapted = cat02_adaptation(shot_white, reference_white) @ shot_white  # CAT02 on the neutral axis
        adapted *= (LUMA_WEIGHTS @ reference_white) / (LUMA_WEIGHTS @ adapted)
    else:
        adapted = shot_white * (LUMA_WEIGHTS @ reference_white) / (LUMA_WEIGHTS @ shot_white)
    contrast = 1.0
    if params.match_contrast:
        spread_shot, spread_reference = shot[4] - shot[3], reference[4] - reference[3]
        if spread_shot > 1e-3 and spread_reference > 1e-3:
            contrast = float(np.clip(spread_reference / spread_shot, 1.0 / params.max_contrast, params.max_contrast))
    s = params.strength
    contrast = contrast**s
    # (slope · white)^power = adapted  →  slope = adapted^(1/power) / white, blended in log by strength.
    slope = (adapted ** (1.0 / contrast) / shot_white) ** s
    cdl = Cdl(slope=tuple(slope.tolist()), power=(contrast, contrast, contrast))
    return cdl, exposure_stops * (1.0 if params.match_exposure else 0.0) * s, contrast


def run(
    shot: FrameSource,
    reference: FrameSource,
    *,
    params: RelightParams | None = None,
    sink: Callable[[int, np.ndarray, np.ndarray], None],
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    shot_mask: FitMask = None,
    reference_mask: FitMask = None,
) -> RelightResult:
    """Harmonise the lighting of ``shot`` with ``reference`` (exposure, CAT02 white
    balance, contrast) through a time-smoothed ASC CDL.

    Pass 1 measures every ``sample_stride``-th frame of both; pass 2 renders every shot
    frame with its CDL (computed on :func:`engine.device.get_device`).

    Args:
        shot, reference: :class:`FrameSource`; the reference's statistics are pooled
            (median over its sampled frames) into one target.
        params: :class:`RelightParams`; defaults when None.
        sink: ``sink(frame_number, before, after)``, uint8 [H, W, 3] RGB, in frame order.
        progress: ``progress(done, total)`` after each sink call.
        should_cancel: polled between frames; True stops the run with Cancelled.
        shot_mask, reference_mask: fit masks (:mod:`engine.ops.masks`).

    Returns:
        :class:`RelightResult` (region all True) with ``cdl`` (shot-wide) and
        measurements: ``exposure_stops`` (the exposure change applied, stops; the
        negative of how far the shot was off), ``contrast``, ``cdl_slope_r/g/b``,
        ``cdl_offset_r/g/b``, ``cdl_power_r/g/b``, ``cdl_saturation``,
        ``exposure_stops_min/max`` over the per-frame CDLs, ``flicker_*``
        (:class:`engine.ops.measure.FlickerMeter`), and with ``pixels_correspond``
        ``delta_e2000_mean``/``_p95`` (after) and ``delta_e2000_mean_before``/``_p95_before``.

    Raises:
        ParameterError: invalid params, masks, or a non-corresponding reference.
        FrameSourceError: a clip cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    shot.require_8bit("relight")
    reference.require_8bit("relight")
    params = params if params is not None else RelightParams()
    if not isinstance(params, RelightParams):
        raise ParameterError(f"params must be RelightParams (use RelightParams.from_dict), got {type(params).__name__}")
    if params.pixels_correspond:
        check_correspondence(shot, reference)
    device = get_device()
    shot_numbers, shot_stats = _collect(shot, params.sample_stride, shot_mask, should_cancel, "shot")
    _, reference_stats = _collect(reference, params.sample_stride, reference_mask, should_cancel, "reference")
    target = np.median(reference_stats, axis=0)
    shot_cdl, exposure_stops, contrast = cdl_from_stats(np.median(shot_stats, axis=0), target, params)
    smoothed = _smooth(shot_numbers, shot_stats, shot.frame_range, params.smoothing_frames)
    decode = torch.from_numpy(_DECODE).to(device)

    to_display = display_transform(shot.colorspace)  # measured as a viewer sees it
    flicker = FlickerMeter(to_display)
    after_meter, before_meter = CorrespondingDeltaE(to_display), CorrespondingDeltaE(to_display)
    references = reference.frames() if params.pixels_correspond else None
    frame_cdls: dict[int, Cdl] = {}
    frame_stops: list[float] = []
    total, done, first = len(shot), 0, shot.frame_range.start
    for number, before in shot.frames():
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"relight cancelled after {done} of {total} frames")
        cdl, stops, _ = cdl_from_stats(smoothed[number - first], target, params)
        frame_cdls[number] = cdl
        frame_stops.append(stops)
        after = _render(before, cdl, decode)
        flicker.add(before, after)
        if references is not None:
            _, reference_frame = next(references)
            if (number - first) % params.sample_stride == 0:
                after_meter.add(after, reference_frame)
                before_meter.add(before, reference_frame)
        sink(number, before, after)
        done += 1
        if progress is not None:
            progress(done, total)

    measurements = {"exposure_stops": float(exposure_stops), "contrast": float(contrast)}
    for part in ("slope", "offset", "power"):
        for channel, value in zip("rgb", getattr(shot_cdl, part), strict=True):
            measurements[f"cdl_{part}_{channel}"] = float(value)
    measurements["cdl_saturation"] = float(shot_cdl.saturation)
    measurements["exposure_stops_min"] = float(min(frame_stops))
    measurements["exposure_stops_max"] = float(max(frame_stops))
    measurements.update(flicker.measurements())
    if params.pixels_correspond:
        measurements.update(after_meter.measurements("delta_e2000"))
        before_values = before_meter.measurements("delta_e2000")
        measurements["delta_e2000_mean_before"] = before_values["delta_e2000_mean"]
        measurements["delta_e2000_p95_before"] = before_values["delta_e2000_p95"]
    log.info("relight %s → %s: %s", shot.path.name, reference.path.name, measurements)
    probe = shot.clip_probe
    return RelightResult(
        region=np.ones((probe.height, probe.width), dtype=bool),
        measurements=measurements,
        frame_count=done,
        cdl=shot_cdl,
        frame_cdls=frame_cdls,
    )


def _render(frame: np.ndarray, cdl: Cdl, decode: torch.Tensor) -> np.ndarray:
    """Apply a CDL in linear light to a uint8 [H, W, 3] sRGB frame → uint8 [H, W, 3]."""
    codes = torch.from_numpy(frame).to(decode.device).long()
    linear = apply_cdl(decode[codes], cdl).clamp(0.0, 1.0)
    encoded = torch.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear.clamp(min=0.0031308).pow(1 / 2.4) - 0.055)
    return torch.round(encoded * 255.0).to(torch.uint8).cpu().numpy()

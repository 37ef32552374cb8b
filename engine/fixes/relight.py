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

Sources deeper than 8 bits (10/12/16-bit, half/float: ProRes 4444, DPX, EXR, …) are relit at
source precision in the grading working space ACEScct (:data:`engine.media.colour.GRADING_SPACE`,
as shot match's deep path; the ASC CDL is defined for a log space): the same statistics are taken
on scene-linear ACEScg (the linear form of ACEScct; white balance by CAT02 through the AP1
primaries, luminance with AP1's Y weights), and the linear-light decision ``(slope·x)^power`` is
written as the ACEScct CDL that does the same above ACEScct's toe (linear ≥ 2^-7) —
``slope_cct = power``, ``offset_cct = (power·log2 slope + 9.72·(1 − power)) / 17.52``,
``power_cct = 1`` (S-2016-001: ``cct = (log2 x + 9.72) / 17.52``) — so exposure and white balance
are per-channel offsets (1/17.52 a stop) and contrast is the slope about the shot's white. Each
float32 frame is taken to ACEScct through OCIO, graded, and brought back to the clip's colour
space: no 8-bit step. 8-bit clips (shot and reference) keep the exact 8-bit path above.

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
from engine.fixes.match import _working_space_apply
from engine.fixes.result import FixResult
from engine.media.colour import COMPOSITING_SPACE, GRADING_SPACE, colorspace_transform, display_transform
from engine.media.decode import FrameSource
from engine.ops.masks import FitMask, resolve_mask
from engine.ops.measure import CorrespondingDeltaE, FlickerMeter, sample_grid
from engine.ops.measure import check_correspondence
from engine.fixes.params import RelightParams  # noqa: F401  (moved there: importable without torch or OpenCV)

log = logging.getLogger(__name__)

#: The space this fix works in at source precision (sources deeper than 8 bits): ACEScct, the grading
#: working space (the CDL is fitted on ACEScg statistics and applied in ACEScct through OCIO).
WORKING_SPACE = GRADING_SPACE
#: The space of 8-bit clips (shot and reference both 8-bit): linear-light Rec.709 (OCIO's
#: ``Linear Rec.709 (sRGB)``; the CDL's numbers read as stops), reached from 8-bit codes by the
#: IEC 61966-2-1 curve whatever the clip's input colour space (exact for sRGB-encoded clips).
#: ΔE is measured after the display transform of the clip's input colour space at every depth.
WORKING_SPACE_8BIT = "Linear Rec.709 (sRGB)"

#: Rec.709 / sRGB luminance weights (ITU-R BT.709-6), also the ASC CDL saturation weights.
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])
# IEC 61966-2-1 linear sRGB → CIE XYZ (D65), and the CAT02 matrix (CIE 159:2004).
_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
#: ACES AP1 (ACEScg / ACEScct primaries) → CIE XYZ (ACES white), SMPTE ST 2065-1 / TB-2014-004;
#: its middle row gives AP1's luminance weights.
_AP1_TO_XYZ = np.array([[0.6624541811, 0.1340042065, 0.1561876870], [0.2722287168, 0.6740817658, 0.0536895174],
                        [-0.0055746495, 0.0040607335, 1.0103391003]])
_CAT02 = np.array([[0.7328, 0.4296, -0.1624], [-0.7036, 1.6975, 0.0061], [0.0030, 0.0136, 0.9834]])
_STATS_SAMPLES_PER_SIDE = 256
_DECODE = np.where(
    (codes := np.arange(256) / 255.0) <= 0.04045, codes / 12.92, ((codes + 0.055) / 1.055) ** 2.4
).astype(np.float32)


@dataclass(frozen=True)
class Cdl:
    """An ASC CDL v1.2 colour decision: slope, offset, power per channel and saturation.

    Applied in ``working_space``: linear-light Rec.709/sRGB RGB for 8-bit clips, ACEScct for
    deeper ones (see the module docstring).
    """

    slope: tuple[float, float, float] = (1.0, 1.0, 1.0)
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    power: tuple[float, float, float] = (1.0, 1.0, 1.0)
    saturation: float = 1.0
    working_space: str = "linear Rec.709"

    def to_dict(self) -> dict[str, list[float] | float | str]:
        """``{"slope": [r, g, b], "offset": [...], "power": [...], "saturation": s,
        "working_space": "linear Rec.709" | "ACEScct"}``."""
        return {
            "slope": [float(v) for v in self.slope],
            "offset": [float(v) for v in self.offset],
            "power": [float(v) for v in self.power],
            "saturation": float(self.saturation),
            "working_space": self.working_space,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> Cdl:
        """Inverse of :meth:`to_dict` (``working_space`` defaults to ``"linear Rec.709"``).

        Raises:
            ParameterError: missing/unknown keys or values that are not 3 numbers.
        """
        try:
            return cls(
                slope=tuple(float(v) for v in values["slope"]),
                offset=tuple(float(v) for v in values["offset"]),
                power=tuple(float(v) for v in values["power"]),
                saturation=float(values.get("saturation", 1.0)),
                working_space=str(values.get("working_space", "linear Rec.709")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(f"a CDL needs slope, offset and power as 3 numbers each: {exc}") from exc

    def to_cc_xml(self, correction_id: str = "loupe_relight") -> str:
        """The CDL as an ASC ``ColorCorrection`` XML element (``.cc`` file content)."""
        triple = lambda values: " ".join(f"{v:.6f}" for v in values)  # noqa: E731
        return (
            f'<ColorCorrection id="{correction_id}">\n'
            f"  <SOPNode>\n    <Description>{self.working_space} working space</Description>\n"
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


def _frame_stats(frame: np.ndarray, mask: np.ndarray | None, to_linear: Callable[[np.ndarray], np.ndarray] | None = None,
                 luma: np.ndarray = LUMA_WEIGHTS) -> np.ndarray:
    """float64 [5]: log2 of the per-channel linear medians, and the 25th/75th percentiles
    of log2 Y after normalising by those medians (white balance and exposure removed).

    ``frame`` is uint8 sRGB codes (``to_linear`` None: the IEC 61966-2-1 curve), or float32 with
    ``to_linear`` taking [h, w, 3] samples to linear light whose luminance weights are ``luma``."""
    samples = sample_grid(frame, _STATS_SAMPLES_PER_SIDE)
    if to_linear is None:
        linear = _DECODE[samples].reshape(-1, 3).astype(np.float64)
    else:
        linear = to_linear(np.ascontiguousarray(samples, np.float32)).reshape(-1, 3).astype(np.float64)
    if mask is not None:
        linear = linear[np.ascontiguousarray(sample_grid(mask, _STATS_SAMPLES_PER_SIDE)).reshape(-1)]
    if linear.shape[0] < 16:
        return np.full(5, np.nan)
    white = np.maximum(np.median(linear, axis=0), 1e-5)
    luminance = np.maximum((linear / white) @ luma, 1e-5)
    q25, q75 = np.percentile(np.log2(luminance), [25.0, 75.0])
    return np.concatenate([np.log2(white), [q25, q75]])


def _collect(source: FrameSource, stride: int, mask: FitMask, should_cancel, what: str, deep: bool = False):
    """Statistics of every ``stride``-th frame: of uint8 codes, or (``deep``) of float32 frames
    in scene-linear ACEScg (AP1 luminance weights)."""
    to_linear = colorspace_transform(source.colorspace, COMPOSITING_SPACE) if deep else None
    luma = _AP1_TO_XYZ[1] if deep else LUMA_WEIGHTS
    numbers, stats = [], []
    for number, frame in source.frames(step=stride, as_float=deep):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"relight cancelled while measuring the {what} (frame {number})")
        numbers.append(number)
        stats.append(_frame_stats(frame, resolve_mask(mask, number, frame.shape[:2]), to_linear, luma))
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


def cat02_adaptation(source_white: np.ndarray, target_white: np.ndarray, to_xyz: np.ndarray = _SRGB_TO_XYZ
                     ) -> np.ndarray:
    """CAT02 chromatic adaptation (CIE 159:2004) as a linear-RGB 3×3 matrix.

    Args:
        source_white, target_white: float [3] linear RGB of the two whites (Rec.709/sRGB
            primaries by default).
        to_xyz: float [3, 3] the RGB → CIE XYZ matrix of the primaries (its middle row the
            luminance weights); ``_AP1_TO_XYZ`` for ACEScg.

    Returns:
        float64 [3, 3] M with ``M @ rgb`` the adapted colour (complete adaptation, D = 1;
        von Kries scaling of the CAT02 LMS responses, white luminance preserved).
    """
    to_lms = _CAT02 @ to_xyz
    source_lms = to_lms @ (np.asarray(source_white) / (to_xyz[1] @ source_white))
    target_lms = to_lms @ (np.asarray(target_white) / (to_xyz[1] @ target_white))
    return np.linalg.inv(to_lms) @ np.diag(target_lms / source_lms) @ to_lms


def cdl_from_stats(shot: np.ndarray, reference: np.ndarray, params: RelightParams, to_xyz: np.ndarray = _SRGB_TO_XYZ
                   ) -> tuple[Cdl, float, float]:
    """Derive (CDL, exposure_stops, contrast) taking statistics ``shot`` onto ``reference``.

    Args:
        shot, reference: float [5] as :func:`_frame_stats` (log2 channel whites, log2 Y quartiles).
        to_xyz: the RGB → XYZ matrix of the statistics' primaries (:func:`cat02_adaptation`).

    Returns:
        The linear-light CDL (slope and power; see :func:`acescct_cdl` for its ACEScct form).
    """
    luma = to_xyz[1]  # the primaries' luminance weights
    shot_white, reference_white = 2.0 ** shot[:3], 2.0 ** reference[:3]
    exposure_stops = math.log2((luma @ reference_white) / (luma @ shot_white))
    if not params.match_exposure:
        reference_white = reference_white / 2.0**exposure_stops
    if params.match_white_balance:
        adapted = cat02_adaptation(shot_white, reference_white, to_xyz) @ shot_white  # CAT02 on the neutral axis
        adapted *= (luma @ reference_white) / (luma @ adapted)
    else:
        adapted = shot_white * (luma @ reference_white) / (luma @ shot_white)
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


def acescct_cdl(linear: Cdl) -> Cdl:
    """The ACEScct form of a linear-light CDL ``(slope·x)^power`` (offset 0, saturation 1).

    ACEScct above its toe is ``cct = (log2 x + 9.72) / 17.52`` (S-2016-001), so
    ``cct_out = power·cct + (power·log2 slope + 9.72·(1 − power)) / 17.52``: slope ``power``,
    that offset, power 1 — exact for linear values ≥ 2^-7, the standard log grade below it.

    Returns:
        :class:`Cdl` with ``working_space`` ``"ACEScct"``.
    """
    power, slope = np.asarray(linear.power, np.float64), np.asarray(linear.slope, np.float64)
    offset = (power * np.log2(slope) + 9.72 * (1.0 - power)) / 17.52
    return Cdl(slope=tuple(power.tolist()), offset=tuple(offset.tolist()), power=(1.0, 1.0, 1.0),
               saturation=linear.saturation, working_space=GRADING_SPACE)


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
        sink: ``sink(frame_number, before, after)``, in frame order: uint8 [H, W, 3] RGB when shot
            and reference are 8-bit, else float32 [H, W, 3] in the shot's colour space at source
            precision (the CDL applied in ACEScct).
        progress: ``progress(done, total)`` after each sink call.
        should_cancel: polled between frames; True stops the run with Cancelled.
        shot_mask, reference_mask: fit masks (:mod:`engine.ops.masks`).

    Returns:
        :class:`RelightResult` (region all True) with ``cdl`` (shot-wide; linear Rec.709 for 8-bit
        clips, ACEScct for deeper ones — ``cdl.working_space``) and
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
    params = params if params is not None else RelightParams()
    if not isinstance(params, RelightParams):
        raise ParameterError(f"params must be RelightParams (use RelightParams.from_dict), got {type(params).__name__}")
    if params.pixels_correspond:
        check_correspondence(shot, reference)
    device = get_device()
    deep = not (shot.encoding.is_8bit and reference.encoding.is_8bit)
    to_xyz = _AP1_TO_XYZ if deep else _SRGB_TO_XYZ
    shot_numbers, shot_stats = _collect(shot, params.sample_stride, shot_mask, should_cancel, "shot", deep)
    _, reference_stats = _collect(reference, params.sample_stride, reference_mask, should_cancel, "reference", deep)
    target = np.median(reference_stats, axis=0)
    shot_cdl, exposure_stops, contrast = cdl_from_stats(np.median(shot_stats, axis=0), target, params, to_xyz)
    smoothed = _smooth(shot_numbers, shot_stats, shot.frame_range, params.smoothing_frames)
    if deep:
        shot_cdl = acescct_cdl(shot_cdl)
        render = _deep_render(shot.colorspace)
    else:
        decode = torch.from_numpy(_DECODE).to(device)
        render = lambda frame, cdl: _render(frame, cdl, decode)  # noqa: E731

    to_display = display_transform(shot.colorspace)  # measured as a viewer sees it
    flicker = FlickerMeter(to_display)
    after_meter, before_meter = CorrespondingDeltaE(to_display), CorrespondingDeltaE(to_display)
    references = reference.frames(as_float=deep) if params.pixels_correspond else None
    frame_cdls: dict[int, Cdl] = {}
    frame_stops: list[float] = []
    total, done, first = len(shot), 0, shot.frame_range.start
    for number, before in shot.frames(as_float=deep):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"relight cancelled after {done} of {total} frames")
        cdl, stops, _ = cdl_from_stats(smoothed[number - first], target, params, to_xyz)
        if deep:
            cdl = acescct_cdl(cdl)
        frame_cdls[number] = cdl
        frame_stops.append(stops)
        after = render(before, cdl)
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
    log.info("relight %s → %s in %s: %s", shot.path.name, reference.path.name,
             f"{WORKING_SPACE} at source precision" if deep else WORKING_SPACE_8BIT, measurements)
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


def _deep_render(colorspace: str) -> Callable[[np.ndarray, Cdl], np.ndarray]:
    """``render(frame, cdl)``: a float32 [H, W, 3] frame in ``colorspace`` taken to ACEScct
    through OCIO, the (ACEScct) CDL applied, and brought back → float32 [H, W, 3] (shot match's
    working-space round trip, :func:`engine.fixes.match._working_space_apply`)."""

    def render(frame: np.ndarray, cdl: Cdl) -> np.ndarray:
        def grade(values: np.ndarray) -> np.ndarray:
            return apply_cdl(torch.from_numpy(np.ascontiguousarray(values, np.float32)), cdl).numpy()

        return _working_space_apply(colorspace, grade)(frame)

    return render

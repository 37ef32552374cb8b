"""Shot match: make a shot's colour continuous with a reference shot.

Two methods, both in CIELAB (CIE 15:2004, D65, from sRGB — see :mod:`engine.ops.cielab`):

``mkl`` (the default): F. Pitié, A. Kokaram, "The linear Monge-Kantorovitch linear colour
mapping for example-based colour transfer", IET CVMP 2007. The shot's colour distribution,
modelled as a Gaussian N(μs, Σs), is mapped onto the reference's N(μr, Σr) by the linear map
that minimises the mean squared displacement of colours (the Monge–Kantorovich solution
between Gaussians)::

    out = T (x − μs) + μr,   T = Σs^-½ (Σs^½ Σr Σs^½)^½ Σs^-½

T is symmetric positive definite; unlike Reinhard it matches the full 3×3 covariance (the
correlation of lightness and chroma, e.g. warm highlights with cool shadows) and does not
depend on the choice of axes. Its eigenvalues are clamped to
``[1 / max_std_ratio, max_std_ratio]`` so a flat shot is not blown up.

``reinhard`` (the baseline): E. Reinhard, M. Ashikhmin, B. Gooch, P. Shirley, "Color Transfer between
Images", IEEE Computer Graphics and Applications 21(5), 2001 — each channel is
shifted and scaled so that its mean and standard deviation match the reference's:

    out = (x − μ_shot) · (σ_reference / σ_shot) + μ_reference

Reinhard et al. work in Ruderman's lαβ space; here the channels are CIELAB L*, a*, b*
(CIE 15:2004, D65, from sRGB — see :mod:`engine.ops.cielab`), which is likewise
opponent and roughly decorrelated for natural images, and is the space ΔE2000 is
measured in. The ratio σ_reference / σ_shot is clamped to
``[1 / max_std_ratio, max_std_ratio]`` so a flat shot is not blown up, and
``strength`` blends between the shot (0) and the full transfer (1).

The statistics are taken over the whole shot and the whole reference (every
``sample_stride``-th frame, on a regular grid of at most 320 pixels per side), so the
shot gets one transform for all its frames and the match does not flicker from frame
to frame. The transform depends only on a pixel's colour, so each distinct 8-bit colour
is transformed once and then looked up (:class:`engine.ops.rgb_lut.RgbLut8`).

Fit masks (:mod:`engine.ops.masks`) leave pixels out of the statistics of the shot and/or the
reference (e.g. a performer's skin, a sky); the transform is still applied to every pixel.

When two shots share content (another take or angle of the setup), ``align`` first warps
the reference onto the shot by a feature homography (:mod:`engine.ops.align`) and fits on the
pixels both show; with ``pixels_correspond`` the frames are taken as aligned already.

Sources deeper than 8 bits (10/12-bit ProRes, DNxHR, DPX, 16-bit TIFF/PNG, EXR) are matched at
source precision in the grading working space :data:`WORKING_SPACE` (ACEScct, through OCIO —
:mod:`engine.media.colour`): the same MKL/Reinhard statistics, fitted on ACEScct RGB (a log
space, opponent enough for the transfer and the one colourists grade in), applied per pixel
as float32 and brought back to the clip's colour space — no 8-bit step. 8-bit sources keep the
CIELAB path above (fitted on their codes read as sRGB) and its exact 8-bit table. At every
depth the ΔE2000 and L* measurements are taken after the display transform of each clip's
input colour space (:func:`engine.media.colour.display_transform`: display ``sRGB - Display``,
the colorimetric video view for Rec.709/sRGB video), as a viewer sees the frames.

``balance`` (Loupe's match, issue #18): exposure and white balance are separated from the
rest and everything is computed in ACEScct (:data:`WORKING_SPACE`) at every bit depth.
In ACEScct (above its toe) one stop is a constant offset of 1/17.52 and a white-balance gain
is a per-channel offset, so exposure and white balance together are the per-channel offset
``d = μ_reference_region − μ_shot_region`` — measured on a chosen region when one is given
(a box around a grey card, skin, a white shirt: ``reference_box`` / ``shot_box``), else on
the whole frames — and reported in stops and gains. The rest (contrast, saturation, the
correlation of the channels) is the MKL map of the shot's ACEScct distribution around its
mean onto the reference's::

    out = T (x − μs) + μs + d,    T = MKL(Σs, Σr)  (eigenvalues clamped as for ``mkl``)

Without a region this is MKL in ACEScct; with one, the balance comes from the region and T
from the whole frames. 8-bit sources are transformed through the exact 8-bit table.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from engine.device import get_device
from engine.errors import ParameterError, check_cancel
from engine.fixes.result import FixResult
from engine.media.colour import GRADING_SPACE, colorspace_transform, display_transform
from engine.media.decode import FrameSource
from engine.ops.cielab import delta_e2000, lab_to_srgb, srgb_to_lab
from engine.ops.masks import FitMask, resolve_mask
from engine.ops.measure import CorrespondingDeltaE, FlickerMeter, check_correspondence, frame_lab
from engine.ops.rgb_lut import RgbLut8
from engine.fixes.params import METHODS, MatchParams  # noqa: F401  (moved there: importable without torch or OpenCV)

log = logging.getLogger(__name__)

#: Frames are sampled for statistics on a regular pixel grid of at most this many
#: pixels along the longer side (decimation, not filtering, so the sample keeps the
#: full-resolution distribution of colours, texture included).
STATS_MAX_SAMPLES_PER_SIDE = 320
#: The space the match is fitted and applied in for sources deeper than 8 bits.
WORKING_SPACE = GRADING_SPACE
#: One stop of exposure in ACEScct (log2 code scale 1/17.52, S-2016-001).
ACESCCT_STOP = 1.0 / 17.52


def box_mask(box: tuple[float, float, float, float], shape: tuple[int, int]) -> np.ndarray:
    """bool [H, W]: True inside ``box`` ((left, top, right, bottom) fractions of the frame)."""
    height, width = shape
    left, top, right, bottom = box
    mask = np.zeros(shape, dtype=bool)
    mask[int(top * height):max(int(top * height) + 1, math.ceil(bottom * height)),
         int(left * width):max(int(left * width) + 1, math.ceil(right * width))] = True
    return mask


#: Quantile levels of the per-channel tone curves of the ``balance`` match (0.5 % … 99.5 %).
CURVE_QUANTILES = np.linspace(0.005, 0.995, 41)


@dataclass(frozen=True)
class BalanceTransfer:
    """Loupe's shot match in the working space: ``out = curve_c((x @ matrix.T + offset)_c)``.

    Attributes:
        matrix: float64 [3, 3]; offset: float64 [3] — exposure, white balance and MKL.
        curve_in, curve_out: float64 [3, K] — per-channel monotone tone curves (quantiles of
            the shot after the affine stage → quantiles of the reference), linear with slope 1
            beyond their ends.
        measurements: ``exposure_stops``, ``white_balance_gain_r`` / ``_b``.
    """

    matrix: np.ndarray
    offset: np.ndarray
    curve_in: np.ndarray
    curve_out: np.ndarray
    measurements: dict[str, float]

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """float [..., 3] working-space values → float32 [..., 3]."""
        affine = np.asarray(values, np.float64) @ self.matrix.T + self.offset
        out = np.empty_like(affine)
        for c in range(3):
            x, y = self.curve_in[c], self.curve_out[c]
            inside = np.interp(affine[..., c], x, y)
            below, above = affine[..., c] < x[0], affine[..., c] > x[-1]
            out[..., c] = np.where(below, y[0] + affine[..., c] - x[0],
                                   np.where(above, y[-1] + affine[..., c] - x[-1], inside))
        return out.astype(np.float32)


def balance_transfer(
    shot: np.ndarray, reference: np.ndarray, *, shot_region: np.ndarray | None = None,
    reference_region: np.ndarray | None = None, max_scale: float = 4.0, strength: float = 1.0,
) -> BalanceTransfer:
    """Loupe's shot match on working-space samples: exposure and white balance, then the rest
    (MKL, Pitié & Kokaram 2007, and per-channel tone curves by quantile matching — the 1D
    optimal transport of each channel, as in Pitié et al. 2007's iterative distribution
    transfer, applied once on the working-space axes).

    Args:
        shot, reference: float [P, 3] and [Q, 3] ACEScct samples (any P, Q; not corresponding).
        shot_region, reference_region: bool [P] / [Q]: the samples exposure and white balance
            are measured on (None: all). Each must keep at least 16 samples.
        max_scale: eigenvalues of the MKL map T clamped to ``[1/max_scale, max_scale]``.
        strength: 0..1 blend between the identity and the full transfer.

    Returns:
        :class:`BalanceTransfer`.

    Raises:
        ParameterError: a region that keeps fewer than 16 samples.
    """
    shot, reference = np.asarray(shot, np.float64), np.asarray(reference, np.float64)
    regions = []
    for label, values, region in (("shot", shot, shot_region), ("reference", reference, reference_region)):
        kept = values if region is None else values[np.asarray(region, bool)]
        if kept.shape[0] < 16:
            raise ParameterError(f"the {label} region keeps {kept.shape[0]} sampled pixels; too few to balance on")
        regions.append(kept.mean(axis=0))
    balance = regions[1] - regions[0]
    transform = mkl_transform(torch.from_numpy(np.cov(shot.T, bias=True)),
                              torch.from_numpy(np.cov(reference.T, bias=True)), max_scale=max_scale).numpy()
    mean = shot.mean(axis=0)
    matrix = (1.0 - strength) * np.eye(3) + strength * transform
    offset = strength * (mean + balance - transform @ mean)
    affine = shot @ matrix.T + offset
    curve_in = np.quantile(affine, CURVE_QUANTILES, axis=0).T
    curve_out = np.quantile(reference, CURVE_QUANTILES, axis=0).T
    curve_in = np.maximum.accumulate(curve_in + np.arange(curve_in.shape[1]) * 1e-9, axis=1)
    if any(region is not None and not np.all(region) for region in (shot_region, reference_region)):
        curve_out = curve_in  # the region sets exposure and white balance: quantile curves would override them
    curve_out = curve_in + strength * (np.maximum.accumulate(curve_out, axis=1) - curve_in)
    measurements = {"exposure_stops": float(balance.mean() / ACESCCT_STOP),
                    "white_balance_gain_r": float(2.0 ** ((balance[0] - balance[1]) / ACESCCT_STOP)),
                    "white_balance_gain_b": float(2.0 ** ((balance[2] - balance[1]) / ACESCCT_STOP))}
    return BalanceTransfer(matrix, offset, curve_in, curve_out, measurements)


class _LabMoments:
    """Running mean, per-channel deviation and 3×3 covariance of CIELAB over sampled pixels."""

    def __init__(self, device: torch.device) -> None:
        self._device = device
        self._sum = torch.zeros(3, dtype=torch.float64, device=device)
        self._sum_sq = torch.zeros(3, dtype=torch.float64, device=device)
        self._sum_outer = torch.zeros(3, 3, dtype=torch.float64, device=device)
        self._count = 0

    def add(self, frame: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Add the sampled pixels of one uint8 [H, W, 3] RGB frame (only True ones of a bool [H, W] mask)."""
        lab = _frame_sample_lab(frame, self._device).to(torch.float64)
        if mask is not None:
            keep = np.ascontiguousarray(_sample_grid(mask)).reshape(-1)
            lab = lab[torch.from_numpy(keep).to(self._device)]
        self.add_lab(lab)

    def add_float(self, frame: np.ndarray, transform: Callable[[np.ndarray], np.ndarray],
                  mask: np.ndarray | None = None) -> None:
        """Add the sampled pixels of one float32 [H, W, 3] frame, taken through ``transform``
        (float32 [..., 3] → float32 [..., 3], e.g. into the working space)."""
        sample = np.ascontiguousarray(_sample_grid(frame)).reshape(-1, 1, 3)
        values = transform(sample).reshape(-1, 3).astype(np.float64)
        if mask is not None:
            values = values[np.ascontiguousarray(_sample_grid(mask)).reshape(-1)]
        self.add_lab(torch.from_numpy(values).to(self._device))

    def add_displayed(self, frame: np.ndarray, to_display: Callable[[np.ndarray], np.ndarray] | None) -> None:
        """Add the CIELAB of one frame as displayed: through ``to_display`` (uint8 codes as
        code / 255, see :func:`engine.ops.measure.frame_lab`); uint8 codes as sRGB when None."""
        if frame.dtype == np.uint8 and to_display is None:
            self.add(frame)
        else:
            self.add_lab(frame_lab(frame, self._device, to_display).to(torch.float64))

    def add_lab(self, lab: torch.Tensor) -> None:
        """Add float64 [N, 3] CIELAB samples."""
        self._sum += lab.sum(dim=0)
        self._sum_sq += (lab * lab).sum(dim=0)
        self._sum_outer += lab.T @ lab
        self._count += lab.shape[0]

    def covariance(self) -> torch.Tensor:
        """float64 [3, 3] population covariance of L*, a*, b* (on CPU)."""
        mean = self._sum / self._count
        return (self._sum_outer / self._count - torch.outer(mean, mean)).cpu()

    @property
    def count(self) -> int:
        return self._count

    def mean(self) -> torch.Tensor:
        """float64 [3] mean L*, a*, b* (on CPU)."""
        return (self._sum / self._count).cpu()

    def std(self) -> torch.Tensor:
        """float64 [3] population standard deviation of L*, a*, b* (on CPU)."""
        mean = self._sum / self._count
        variance = (self._sum_sq / self._count - mean * mean).clamp(min=0.0)
        return variance.sqrt().cpu()


def _sample_grid(frame: np.ndarray) -> np.ndarray:
    step = max(1, math.ceil(max(frame.shape[:2]) / STATS_MAX_SAMPLES_PER_SIDE))
    return frame[::step, ::step]


def _frame_sample_lab(frame: np.ndarray, device: torch.device) -> torch.Tensor:
    """float32 [N, 3] CIELAB of a regular pixel grid of a uint8 [H, W, 3] RGB frame."""
    sample = np.ascontiguousarray(_sample_grid(frame)).reshape(-1, 3)
    rgb = torch.from_numpy(sample).to(device=device, dtype=torch.float32) / 255.0
    return srgb_to_lab(rgb)


_check_cancel = functools.partial(check_cancel, fix="shot match")


def run(
    shot: FrameSource,
    reference: FrameSource,
    *,
    params: MatchParams | None = None,
    sink: Callable[[int, np.ndarray, np.ndarray], None],
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    shot_mask: FitMask = None,
    reference_mask: FitMask = None,
) -> FixResult:
    """Match the colour of ``shot`` to ``reference`` in CIELAB (MKL, Pitié & Kokaram 2007,
    or Reinhard et al. 2001 — ``params.method``).

    Pass 1 reads the sampled frames of the shot and the reference and computes their
    CIELAB means and covariances (over the pixels the fit masks keep); pass 2 decodes
    the shot again, transforms every frame with the one shot-wide transform, and hands
    each frame to ``sink``. Memory is bounded whatever the shot's length: a few frames
    plus a 64 MiB colour table. Computation runs on :func:`engine.device.get_device`.

    Args:
        shot: the frames to change.
        reference: the frames whose colour the shot should take on (any size, unless
            ``params.pixels_correspond``).
        params: :class:`MatchParams`; defaults when None.
        sink: called as ``sink(frame_number, before, after)`` for every frame of the
            shot, in order; before/after are uint8 [H, W, 3] RGB, frame_number counted
            from 0 at the start of the shot's clip.
        progress: called as ``progress(done, total)`` after each sink call; total is
            ``len(shot)``.
        should_cancel: polled between frames (in both passes); when it returns True
            the run stops by raising :class:`engine.errors.Cancelled`.
        shot_mask, reference_mask: fit masks (:mod:`engine.ops.masks`): None, bool [H, W],
            or ``mask(frame_number) -> bool [H, W]``; True pixels take part in the fit.

    Returns:
        :class:`FixResult` with ``region`` all True (bool [H, W] of the shot) and
        ``measurements`` (floats):

        - ``delta_e2000_before`` / ``delta_e2000_after``: CIEDE2000 between the mean
          CIELAB colour of the shot (before / after — the after value measured on the
          output frames, with the same frame and pixel sampling) and the mean CIELAB
          colour of the reference.
        - ``mean_l_reference``, ``mean_a_reference``, ``mean_b_reference``,
          ``mean_l_before``, …, ``mean_b_after``: those mean colours (L*, a*, b*).
        - ``flicker_source_l``, ``flicker_after_l``, ``flicker_added_l``: see
          :class:`engine.ops.measure.FlickerMeter` (every frame).
        - with ``params.pixels_correspond``: ``delta_e2000_mean``, ``delta_e2000_p95``
          (per-pixel, output vs corresponding reference frame) and
          ``delta_e2000_mean_before``, ``delta_e2000_p95_before`` (shot vs reference).

    Raises:
        ParameterError: invalid ``params``; a mask of the wrong size or one that leaves
            no pixel to fit; ``pixels_correspond`` with a reference of another size or
            fewer frames than the shot.
        FrameSourceError: a source cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
        Anything ``sink`` or ``progress`` raise propagates unchanged.
    """
    params = params if params is not None else MatchParams()
    if not isinstance(params, MatchParams):
        raise ParameterError(
            f"params must be MatchParams (use MatchParams.from_dict for stored JSON), got {type(params).__name__}"
        )
    device = get_device()
    stride = params.sample_stride
    total = len(shot)
    height, width = shot.clip_probe.height, shot.clip_probe.width
    if params.pixels_correspond:
        check_correspondence(shot, reference)
    deep = not (shot.encoding.is_8bit and reference.encoding.is_8bit)
    if deep and params.align:
        raise ParameterError("align works on 8-bit sources only so far; this shot or reference is deeper — "
                             "match without align")
    # Measured as a viewer sees it, at every depth: after the display transform of each clip's colour space.
    to_display = display_transform(shot.colorspace)

    # Pass 1: shot-wide and reference-wide statistics.
    shot_before = _LabMoments(device)
    shot_fit = _LabMoments(device)
    balance = params.method == "balance"
    shot_samples: list[tuple[np.ndarray, np.ndarray]] = []
    reference_samples: list[tuple[np.ndarray, np.ndarray]] = []
    for number, frame in shot.frames(step=stride, as_float=deep):
        _check_cancel(should_cancel, f"while measuring the shot (frame {number})")
        mask = resolve_mask(shot_mask, number, frame.shape[:2])
        _add_sample(shot_before, shot_fit, frame, mask, shot.colorspace if deep else None, to_display)
        if balance:
            shot_samples.append(_working_sample(frame, shot.colorspace, mask, params.shot_box or params.reference_box))
    reference_stats = _LabMoments(device)
    reference_fit = _LabMoments(device)
    reference_display = display_transform(reference.colorspace)
    for number, frame in reference.frames(step=stride, as_float=deep):
        _check_cancel(should_cancel, f"while measuring the reference (frame {number})")
        mask = resolve_mask(reference_mask, number, frame.shape[:2])
        _add_sample(reference_stats, reference_fit, frame, mask, reference.colorspace if deep else None,
                    reference_display)
        if balance:
            reference_samples.append(_working_sample(frame, reference.colorspace, mask, params.reference_box))
    if params.align:
        shot_fit, reference_fit = _aligned_moments(shot, reference, stride, device, shot_mask, should_cancel)
    for name, moments in (("shot", shot_fit), ("reference", reference_fit)):
        if moments.count < 16:
            raise ParameterError(f"the {name} fit mask leaves {moments.count} sampled pixels; too few to fit on")

    balance_measurements: dict[str, float] = {}
    if balance:
        transfer = balance_transfer(
            np.concatenate([v for v, _ in shot_samples]), np.concatenate([v for v, _ in reference_samples]),
            shot_region=np.concatenate([r for _, r in shot_samples]),
            reference_region=np.concatenate([r for _, r in reference_samples]),
            max_scale=params.max_std_ratio, strength=params.strength)
        matrix, offset = torch.from_numpy(transfer.matrix), torch.from_numpy(transfer.offset)
        balance_measurements = transfer.measurements
    elif params.method == "mkl":
        matrix, offset = _mkl_coefficients(shot_fit, reference_fit, params)
    else:
        scale, offset = _transfer_coefficients(shot_fit, reference_fit, params)
        matrix = torch.diag(scale)
    log.info(
        "shot match %s → %s (%s): Lab matrix %s, offset %s, device %s",
        shot.path.name, reference.path.name, params.method, matrix.tolist(), offset.tolist(), device,
    )
    _check_cancel(should_cancel, "before rendering")
    matrix_t = matrix.T.to(device=device, dtype=torch.float32)
    offset_d = offset.to(device=device, dtype=torch.float32)
    if balance:
        working_transfer = transfer
    else:
        matrix_cpu, offset_cpu = matrix_t.cpu(), offset_d.cpu()

        def working_transfer(values: np.ndarray) -> np.ndarray:
            flat = torch.from_numpy(np.ascontiguousarray(values, np.float32).reshape(-1, 3))
            return (flat @ matrix_cpu + offset_cpu).numpy().reshape(values.shape)
    if deep:
        apply = _working_space_apply(shot.colorspace, working_transfer)
    elif balance:
        working = _working_space_apply(shot.colorspace, working_transfer)
        lut = RgbLut8(lambda rgb: torch.from_numpy(working(rgb.cpu().numpy().reshape(-1, 1, 3)).reshape(-1, 3)),
                      torch.device("cpu"))
        apply = lut.apply
    else:
        lut = RgbLut8(lambda rgb: lab_to_srgb(srgb_to_lab(rgb) @ matrix_t + offset_d), device)
        apply = lut.apply

    # Pass 2: render every frame, measuring the output on the same sample.
    shot_after = _LabMoments(device)
    flicker = FlickerMeter(to_display)
    per_pixel_after = CorrespondingDeltaE(to_display)
    per_pixel_before = CorrespondingDeltaE(to_display)
    references = reference.frames(as_float=deep) if params.pixels_correspond else None
    done = 0
    first = shot.frame_range.start
    for number, before in shot.frames(as_float=deep):
        _check_cancel(should_cancel, f"after {done} of {total} frames")
        after = apply(before)
        if (number - first) % stride == 0:
            shot_after.add_displayed(after, to_display)
        flicker.add(before, after)
        if references is not None:
            _, reference_frame = next(references)
            if (number - first) % stride == 0:
                per_pixel_after.add(after, reference_frame)
                per_pixel_before.add(before, reference_frame)
        sink(number, before, after)
        done += 1
        if progress is not None:
            progress(done, total)

    mean_reference = reference_stats.mean()
    mean_before = shot_before.mean()
    mean_after = shot_after.mean()
    measurements = {
        "delta_e2000_before": float(delta_e2000(mean_before, mean_reference)),
        "delta_e2000_after": float(delta_e2000(mean_after, mean_reference)),
    }
    for label, mean in (("reference", mean_reference), ("before", mean_before), ("after", mean_after)):
        for channel, value in zip("lab", mean.tolist(), strict=True):
            measurements[f"mean_{channel}_{label}"] = float(value)
    measurements.update(balance_measurements)
    measurements.update(flicker.measurements())
    if params.pixels_correspond:
        measurements.update(per_pixel_after.measurements("delta_e2000"))
        before_values = per_pixel_before.measurements("delta_e2000")
        measurements["delta_e2000_mean_before"] = before_values["delta_e2000_mean"]
        measurements["delta_e2000_p95_before"] = before_values["delta_e2000_p95"]
    log.info("shot match %s: %s (%s)", shot.path.name, measurements,
             f"in {WORKING_SPACE} at source precision" if deep else f"{lut.colours_evaluated} distinct colours transformed")
    return FixResult(region=np.ones((height, width), dtype=bool), measurements=measurements, frame_count=done)


def _add_sample(displayed: _LabMoments, fit: _LabMoments, frame: np.ndarray, mask: np.ndarray | None,
                colorspace: str | None, to_display: Callable[[np.ndarray], np.ndarray] | None) -> None:
    """Add a sampled frame to the measurement moments (CIELAB as displayed) and to the fit
    moments (CIELAB of 8-bit codes; for float frames, the working space of ``colorspace``)."""
    if frame.dtype == np.uint8:
        displayed.add_displayed(frame, to_display)
        fit.add(frame, mask)
        return
    displayed.add_displayed(frame, to_display)
    fit.add_float(frame, colorspace_transform(colorspace, WORKING_SPACE), mask)


def _working_sample(frame: np.ndarray, colorspace: str, mask: np.ndarray | None,
                    box: tuple[float, float, float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """The sampled pixels of a frame (uint8 codes or float32) in :data:`WORKING_SPACE`, float64
    [N, 3] (those the fit mask keeps), and bool [N]: inside ``box`` (all True without one)."""
    codes = _sample_grid(frame)
    values = np.ascontiguousarray(codes, dtype=np.float32)
    if frame.dtype == np.uint8:
        values /= np.float32(255)
    values = colorspace_transform(colorspace, WORKING_SPACE)(values.reshape(-1, 1, 3)).reshape(-1, 3)
    region = (np.ascontiguousarray(_sample_grid(box_mask(box, frame.shape[:2]))).reshape(-1) if box is not None
              else np.ones(values.shape[0], dtype=bool))
    if mask is not None:
        keep = np.ascontiguousarray(_sample_grid(mask)).reshape(-1)
        values, region = values[keep], region[keep]
    return values.astype(np.float64), region


def _working_space_apply(colorspace: str, transfer: Callable[[np.ndarray], np.ndarray]
                         ) -> Callable[[np.ndarray], np.ndarray]:
    """``transfer`` (float [..., 3] → float32 [..., 3]) in :data:`WORKING_SPACE`, on float32
    [H, W, 3] frames in ``colorspace`` (and back to it)."""
    to_working = colorspace_transform(colorspace, WORKING_SPACE)
    from_working = colorspace_transform(WORKING_SPACE, colorspace)

    def apply(frame: np.ndarray) -> np.ndarray:
        return from_working(transfer(to_working(frame)))

    return apply


def _aligned_moments(shot: FrameSource, reference: FrameSource, stride: int, device: torch.device,
                     shot_mask: FitMask, should_cancel: Callable[[], bool] | None) -> tuple[_LabMoments, _LabMoments]:
    """Moments of the shot and of the reference over the pixels where the reference, aligned onto
    the shot (:func:`engine.ops.align.align_to_shot`), shows the same scene points. The i-th sampled
    frame of the shot is paired with the i-th sampled frame of the reference (cycling the
    shorter)."""
    from engine.ops.align import align_to_shot

    references = [frame for _, frame in reference.frames(step=stride)]
    shot_fit, reference_fit = _LabMoments(device), _LabMoments(device)
    aligned = 0
    for index, (number, frame) in enumerate(shot.frames(step=stride)):
        _check_cancel(should_cancel, f"while aligning the reference to the shot (frame {number})")
        alignment = align_to_shot(frame, references[index % len(references)])
        if alignment is None:
            continue
        aligned += 1
        keep = alignment.valid
        mask = resolve_mask(shot_mask, number, frame.shape[:2])
        if mask is not None:
            keep = keep & mask
        shot_fit.add(frame, keep)
        reference_fit.add(alignment.warped, keep)
    if not aligned:
        raise ParameterError(
            f"could not align {reference.path.name} to {shot.path.name}: too few matching features — "
            "are they the same setup? Match without align."
        )
    log.info("shot match: aligned %d sampled frame pairs of %s and %s", aligned, shot.path.name, reference.path.name)
    return shot_fit, reference_fit


def mkl_transform(
    shot_covariance: torch.Tensor, reference_covariance: torch.Tensor, *, max_scale: float = float("inf")
) -> torch.Tensor:
    """The linear Monge–Kantorovich map between two Gaussians (Pitié & Kokaram 2007, eq. 9).

    ``T = Σs^-½ (Σs^½ Σr Σs^½)^½ Σs^-½``: the symmetric positive-definite T with
    ``T Σs Tᵀ = Σr`` that moves colours least in the mean-square sense.

    Args:
        shot_covariance, reference_covariance: float64 [3, 3] symmetric positive
            semi-definite covariances (any colour space; here CIELAB).
        max_scale: the eigenvalues of T are clamped to ``[1 / max_scale, max_scale]``.

    Returns:
        float64 [3, 3] T.
    """
    eye = torch.eye(3, dtype=torch.float64)
    shot_covariance = shot_covariance.to(torch.float64) + 1e-6 * eye
    reference_covariance = reference_covariance.to(torch.float64) + 1e-6 * eye
    root = _sym_sqrt(shot_covariance)
    inverse_root = torch.linalg.inv(root)
    middle = _sym_sqrt(root @ reference_covariance @ root)
    transform = inverse_root @ middle @ inverse_root
    transform = (transform + transform.T) / 2.0
    values, vectors = torch.linalg.eigh(transform)
    values = values.clamp(1.0 / max_scale, max_scale)
    return vectors @ torch.diag(values) @ vectors.T


def _sym_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2.0)
    return vectors @ torch.diag(values.clamp(min=0.0).sqrt()) @ vectors.T


def _mkl_coefficients(
    shot: _LabMoments, reference: _LabMoments, params: MatchParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """``matrix`` float64 [3, 3] and ``offset`` float64 [3] with ``out = matrix @ lab + offset``.

    The full transfer ``T(x − μs) + μr`` blended with ``x`` by strength s is
    ``((1 − s)I + sT) x + s(μr − T μs)``.
    """
    transform = mkl_transform(shot.covariance(), reference.covariance(), max_scale=params.max_std_ratio)
    s = params.strength
    matrix = (1.0 - s) * torch.eye(3, dtype=torch.float64) + s * transform
    offset = s * (reference.mean() - transform @ shot.mean())
    return matrix, offset


def _transfer_coefficients(
    shot: _LabMoments, reference: _LabMoments, params: MatchParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``scale`` and ``offset`` (float64 [3]) with ``out = lab·scale + offset``.

    The full Reinhard transfer ``(x − μs)·r + μr`` blended with ``x`` by strength s is
    ``x·(1 + s(r − 1)) + s(μr − μs·r)``.
    """
    ratio = reference.std() / shot.std().clamp(min=1e-6)
    ratio = ratio.clamp(1.0 / params.max_std_ratio, params.max_std_ratio)
    s = params.strength
    scale = 1.0 + s * (ratio - 1.0)
    offset = s * (reference.mean() - shot.mean() * ratio)
    return scale, offset


def fit_colour_transfer(
    source_rgb: np.ndarray, target_rgb: np.ndarray, *, method: str = "mkl", max_std_ratio: float = 4.0
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Fit a shot-match transfer from pixel samples (no clip reading), for comparisons.

    Args:
        source_rgb, target_rgb: [P, 3] RGB samples of the two distributions (any P each;
            they need not correspond): uint8 codes, or float code values 0..1.
        method: ``"mkl"`` or ``"reinhard"`` (see the module docstring).
        max_std_ratio: as :attr:`MatchParams.max_std_ratio`.

    Returns:
        ``transform(rgb)``: float32 [N, 3] sRGB 0..1 → float32 [N, 3] sRGB 0..1 (CPU).

    Raises:
        ParameterError: unknown method or invalid ratio.
    """
    params = MatchParams(method=method, max_std_ratio=max_std_ratio)
    device = torch.device("cpu")
    moments = []
    for rgb in (source_rgb, target_rgb):
        m = _LabMoments(device)
        rgb = np.ascontiguousarray(rgb).reshape(-1, 3)
        scale = 255.0 if rgb.dtype == np.uint8 else 1.0
        m.add_lab(srgb_to_lab(torch.from_numpy(rgb).to(torch.float64) / scale))
        moments.append(m)
    if method == "mkl":
        matrix, offset = _mkl_coefficients(moments[0], moments[1], params)
    else:
        scale, offset = _transfer_coefficients(moments[0], moments[1], params)
        matrix = torch.diag(scale)
    matrix_t = matrix.T.to(torch.float32)
    offset_f = offset.to(torch.float32)
    return lambda rgb: lab_to_srgb(srgb_to_lab(rgb) @ matrix_t + offset_f)

"""Regrain: measure the plate's grain and add matching grain inside a filled region.

A filled region (propagated along flow with bilinear sampling, averaged over frames, or
copied by patches) is smoother than the plate around it; without grain it reads as a soft
patch that does not "live" with the picture. The grain is modelled as additive, zero-mean
Gaussian noise whose standard deviation depends on the pixel's brightness (film grain and
sensor noise both do) and whose spatial correlation is that of white noise blurred by a
Gaussian — the usual parametric model of grain synthesis (cf. the film grain model of
SMPTE RDD 5-2006 and AV1's film grain synthesis, Norkin & Birkbeck, DCC 2018, which also
scale Gaussian noise by a piecewise function of intensity).

Estimation (:func:`estimate_grain`): over *flat* pixels of the plate (lowest local
gradient), outside the region, per brightness bin and channel, the noise deviation of
J. Immerkær, "Fast Noise Variance Estimation", CVIU 64(2), 1996: the image convolved with
the difference of two Laplacians (which cancels locally linear image structure), σ =
sqrt(π/2) / 6 · mean |I ∗ N|; the grain size from the lag-1 autocorrelation ρ of the
high-pass residual ``frame − GaussianBlur(frame)`` (for white noise blurred by a Gaussian
of σ_g, ρ = exp(−1/(4σ_g²))). Immerkær's estimate counts fine texture that stays put
(foliage, gravel, fabric) as grain too; given pairs of consecutive frames, the deviation of
the difference between the two frames of a pair along their optical flow (over the first
one's flat pixels where the flow passes the forward–backward check; robust: 1.4826 · MAD /
√2) measures only what changes from frame to frame — the classical motion-compensated noise
estimate of film restoration (Kokaram, "Motion Picture Restoration", 1998) — and the share
of Immerkær's deviation that changes (:attr:`Grain.changing`, the median over the pairs, at
most 1; flow errors raise it, the interpolation of a sub-pixel warp lowers it a little)
scales the grain synthesised.

Synthesis (:func:`regrain`, every fix's regrain — removal, background replacement, reframe):
Gaussian white noise (seeded by the frame number, so a render is reproducible), blurred to the
plate's grain size and normalised so that Immerkær's estimate reads 1 on it
(:func:`unit_grain`: the estimate under-reads correlated grain, about 0.42 of its deviation at
``size_px`` 0.6), scaled per luma bin and channel by the gain (:func:`regrain_gain`) that
brings the fill, *as it is written* (rounded to 8-bit codes for 8-bit sources) and measured as
the plate was measured, to ``sqrt(σ_fill² + c² · max(σ_plate² − σ_fill², 0))`` — the deviation
still missing, times the share ``c`` of it that changes from frame to frame; nothing where the
fill already reads as much — and added only inside the region. The gain is found by bisection
on the delivered frame because 8-bit rounding is not additive (measured on the nearly grainless
sam2_02_cups, plate 0.07 code values: a Lanczos 2× punch-in read 0.03 in float, 0.12 once
rounded, and grain sized from the deficit read before the rounding it spreads overshot the
plate by 40 %). Fresh grain every frame where the plate's fine detail is mostly fixed
texture would make the fill boil (measured on schoolgirls, a locked-off shot of foliage:
Immerkær 7.2 code values, of which 2.1 changes from frame to frame; the warping error inside
a removal was 1.66× the plate's with the full deviation, 0.90× with the share).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops import flow

#: Brightness bins (of 0..255 luma) over which the grain deviation is estimated.
BINS = 8
#: σ of the Gaussian whose residual is taken as grain (pixels).
_HIGH_PASS_SIGMA = 1.5
#: Fraction of the pixels, the flattest, on which grain is measured.
_FLAT_FRACTION = 0.3
#: Fewer pixels than this in a bin, and the bin borrows the overall deviation.
_MIN_BIN_PIXELS = 200


@dataclass(frozen=True)
class Grain:
    """Grain of a plate.

    Attributes:
        sigma: float32 [BINS, 3]: standard deviation of the grain (0..255 code values) of
            each RGB channel, per luma bin (bin i covers luma ``[32 i, 32 i + 32)``).
        size_px: σ in pixels of the Gaussian that gives white noise the grain's spatial
            correlation (0 for white grain).
        changing: float32 [3]: per RGB channel, the share (0..1) of ``sigma`` that changes
            from frame to frame, the rest being fixed fine texture; 1 when measured on one
            frame.
    """

    sigma: np.ndarray
    size_px: float
    changing: np.ndarray = dataclasses.field(default_factory=lambda: np.ones(3, np.float32))

    @property
    def mean_sigma(self) -> float:
        """The deviation averaged over bins and channels (code values)."""
        return float(self.sigma.mean())


def _high_pass(frame: np.ndarray) -> np.ndarray:
    image = frame.astype(np.float32)
    return image - cv2.GaussianBlur(image, (0, 0), _HIGH_PASS_SIGMA)


def _flat(frame: np.ndarray, keep: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    blurred = cv2.GaussianBlur(grey, (0, 0), 2.0)
    gradient = cv2.GaussianBlur(np.abs(cv2.Sobel(blurred, cv2.CV_32F, 1, 0)) +
                                np.abs(cv2.Sobel(blurred, cv2.CV_32F, 0, 1)), (0, 0), 2.0)
    if not keep.any():
        return keep
    threshold = np.quantile(gradient[keep], _FLAT_FRACTION)
    return keep & (gradient <= threshold)


def _luma_bins(frame: np.ndarray) -> np.ndarray:
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if luma.dtype != np.uint8:  # float32 in 8-bit code units (deep sources)
        luma = np.clip(luma, 0, 255)
    return np.minimum(luma.astype(np.int32) * BINS // 256, BINS - 1)


#: Immerkær's mask: the difference of two 3×3 Laplacians, blind to locally linear images.
_IMMERKAER = np.float32([[1, -2, 1], [-2, 4, -2], [1, -2, 1]])


def _deviation(frame: np.ndarray, bins: np.ndarray, where: np.ndarray) -> np.ndarray:
    """float32 [BINS, 3]: Immerkær's noise deviation per luma bin and channel over ``where``."""
    sigma = np.zeros((BINS, 3), np.float32)
    response = np.abs(cv2.filter2D(frame.astype(np.float32), -1, _IMMERKAER, borderType=cv2.BORDER_REFLECT))
    values = response[where]
    if len(values) == 0:
        return sigma
    factor = np.sqrt(np.pi / 2.0) / 6.0
    overall = factor * values.mean(axis=0)
    which = bins[where]
    for b in range(BINS):
        chosen = values[which == b]
        sigma[b] = factor * chosen.mean(axis=0) if len(chosen) >= _MIN_BIN_PIXELS else overall
    return sigma


#: A frame pair whose frame-to-frame deviation is below this (code values) repeats a frame
#: (a freeze, a pulldown repeat): nothing about the grain can be learnt from it.
_REPEATED_FRAME_SIGMA = 0.05

#: One pair of consecutive frames of a shot: ``(frame, exclude, next_frame, next_exclude)``,
#: uint8 [H, W, 3] RGB frames and optional bool [H, W] pixels not to measure.
FramePair = tuple[np.ndarray, "np.ndarray | None", np.ndarray, "np.ndarray | None"]


def _changing_deviation(pair: FramePair) -> np.ndarray | None:
    """float32 [3]: the deviation per channel of what changes between a frame and the next
    along their flow, over the first frame's flat pixels whose flow passes the forward–backward
    check and lands outside the next frame's excluded pixels; None with fewer than
    _MIN_BIN_PIXELS such pixels, or for a repeated frame."""
    frame, exclude, next_frame, next_exclude = pair
    flows = flow.flow_pair(frame, next_frame)  # raises ParameterError for frames of different sizes
    where = _flat(frame, np.ones(frame.shape[:2], bool) if exclude is None else ~exclude)
    where &= flows.forward_valid & flow.inside(flows.forward)
    if next_exclude is not None:
        where &= ~flow.warp(next_exclude.astype(np.uint8), flows.forward, interpolation=cv2.INTER_NEAREST).astype(bool)
    if where.sum() < _MIN_BIN_PIXELS:
        return None
    difference = (flow.warp(next_frame, flows.forward).astype(np.float32) - frame)[where]
    spread = np.median(np.abs(difference - np.median(difference, axis=0)), axis=0)
    deviation = (1.4826 * spread / np.sqrt(2.0)).astype(np.float32)
    return None if deviation.max() < _REPEATED_FRAME_SIGMA else deviation


def estimate_grain(frame: np.ndarray, exclude: np.ndarray | None = None, *,
                   pairs: Sequence[FramePair] = ()) -> Grain:
    """Estimate the grain of a plate frame.

    Args:
        frame: uint8 [H, W, 3] RGB.
        exclude: optional bool [H, W]: pixels not to measure (the region being fixed).
        pairs: pairs of consecutive frames of the same shot (:data:`FramePair`): with them,
            the share of the deviation that changes from frame to frame is measured too
            (:attr:`Grain.changing`, the median over the pairs; repeated frames are passed
            over; one optical flow per pair).

    Returns:
        :class:`Grain` (deviations in 0..255 code values).

    Raises:
        engine.errors.ParameterError: the two frames of a pair differ in size (from :func:`engine.ops.flow.flow`).
    """
    keep = np.ones(frame.shape[:2], bool) if exclude is None else ~exclude
    flat = _flat(frame, keep)
    sigma = _deviation(frame, _luma_bins(frame), flat)
    changing = np.ones(3, np.float32)
    deviations = [d for d in map(_changing_deviation, pairs) if d is not None]
    if deviations:
        changing = np.clip(np.median(deviations, axis=0) / np.maximum(sigma.mean(axis=0), 1e-6), 0.0, 1.0)
        changing = changing.astype(np.float32)
    grey = _high_pass(frame).mean(axis=2)
    both = flat[:, :-1] & flat[:, 1:]
    left, right = grey[:, :-1][both], grey[:, 1:][both]
    size_px = 0.0
    if len(left) > 100 and left.std() > 0 and right.std() > 0:
        rho = float(np.corrcoef(left, right)[0, 1])
        if 0.05 < rho < 0.95:
            size_px = float(np.sqrt(-1.0 / (4.0 * np.log(rho))))
    return Grain(sigma=sigma, size_px=size_px, changing=changing)


def fill_deviation(frame: np.ndarray, region: np.ndarray) -> np.ndarray:
    """float32 [BINS, 3]: the grain deviation already present inside ``region`` of a filled
    frame (as :func:`estimate_grain` measures it; bins without pixels get the overall value)."""
    flat = _flat(frame, region)
    return _deviation(frame, _luma_bins(frame), flat)


def deviation_map(sigma: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """float32 [H, W, 3]: per pixel of ``frame`` (uint8 [H, W, 3] RGB), the row of ``sigma``
    (float32 [BINS, 3], per luma bin and channel, as :attr:`Grain.sigma`) of its luma bin."""
    return sigma[_luma_bins(frame)]


def grain_noise(shape: tuple[int, ...], size_px: float, *, seed: int, fast: bool = False) -> np.ndarray:
    """Unit-deviation grain: float32 ``shape`` ([H, W, 3]) Gaussian white noise seeded by
    ``seed``, blurred by a Gaussian of ``size_px`` pixels when that is above 0 and renormalised
    to deviation 1 (the grain model of the module docstring).

    The deviates come from NumPy's generator (what :func:`regrain` has always drawn), or with
    ``fast`` from OpenCV's (``cv2.randn`` after ``cv2.setRNGSeed(seed)``, which reseeds the
    calling thread's OpenCV generator): other numbers of the same distribution, drawn about three
    times faster, for whole frames."""
    if fast:
        noise = np.empty(shape, np.float32)
        cv2.setRNGSeed(seed)
        cv2.randn(noise.reshape(shape[0], -1), 0.0, 1.0)  # one channel: mean and deviation apply to all
    else:
        noise = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if size_px > 0:
        noise = cv2.GaussianBlur(noise, (0, 0), size_px)
        noise /= max(float(noise.std()), 1e-6)
    return noise


def bin_pixels(frame: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """int64 [BINS]: per luma bin, the flat pixels :func:`estimate_grain` measures a frame
    (uint8, or float32 in 8-bit code units, [H, W, 3] RGB) on; a bin with fewer than 200 borrows
    the frame's overall deviation. Comparing two frames' grain like with like means comparing
    the bins both populate."""
    keep = np.ones(frame.shape[:2], bool) if exclude is None else ~exclude
    flat = _flat(frame, keep)
    return np.bincount(_luma_bins(frame)[flat], minlength=BINS)[:BINS]


def apparent_deviation(noise: np.ndarray) -> np.ndarray:
    """float32 [3]: what Immerkær's estimate (:func:`estimate_grain`'s) reads as the deviation of
    a noise field (float32 [H, W, 3]) — its true deviation for white noise, less for grain with a
    spatial correlation (about 0.42 of it at ``size_px`` 0.6, 0.25 at 0.7: the estimate's mask
    is a high-pass)."""
    response = np.abs(cv2.filter2D(noise.astype(np.float32), -1, _IMMERKAER, borderType=cv2.BORDER_REFLECT))
    return (np.sqrt(np.pi / 2.0) / 6.0 * response.reshape(-1, noise.shape[-1]).mean(axis=0)).astype(np.float32)


#: Bisection steps of the regrain's calibration (each halves a bin's bracket: 2⁻⁸ of it at the end).
_CALIBRATION_STEPS = 8
#: The bracket of a bin's gain, in multiples of its deficit as read before any grain was added:
#: rounding to 8 bits swallows grain much finer than a code value, so reaching a reading can take
#: more than the deficit itself.
_MAX_GAIN = 4.0


def _delivered(frame: np.ndarray, quantised: bool) -> np.ndarray:
    """float32 frame as it will be written: rounded to 8-bit code values when ``quantised``."""
    return np.rint(frame) if quantised else frame


def unit_grain(shape: tuple[int, ...], size_px: float, *, seed: int, fast: bool = False) -> np.ndarray:
    """float32 ``shape`` ([H, W, 3]): :func:`grain_noise` divided per channel by what the
    estimate reads on it (:func:`apparent_deviation`), so that :func:`estimate_grain` reads 1 —
    the unit in which ``Grain.sigma`` (the estimate of the plate) is a deviation to add."""
    noise = grain_noise(shape, size_px, seed=seed, fast=fast)
    noise /= np.maximum(apparent_deviation(noise), 1e-3)
    return noise


def regrain_gain(frame: np.ndarray, region: np.ndarray, grain: Grain, noise: np.ndarray, *,
                 quantised: bool) -> np.ndarray:
    """float32 [BINS, 3]: per luma bin and RGB channel, the gain of ``noise`` (:func:`unit_grain`,
    the shape of ``frame``) that brings ``region`` of ``frame`` to the plate's grain as delivered
    — the regrain's rule, in one place.

    The estimate of the frame as delivered — the estimator :func:`estimate_grain` measured the
    plate with (Immerkær per luma bin and channel over the region's flattest pixels, those of the
    frame before grain), on the 8-bit codes the frame is written in when ``quantised`` — must read
    ``sqrt(σ_fill² + c² · max(σ_plate² − σ_fill², 0))``: ``σ_fill`` its reading before any grain,
    ``c`` :attr:`Grain.changing`. Only the deficit is added; nothing is removed where the fill
    already reads as much as the plate. The gain is found by bisection on the delivered frame
    (:data:`_CALIBRATION_STEPS` steps in [0, :data:`_MAX_GAIN` × the deficit]) because rounding to
    8 bits is not additive: a flat area that rounds to one code reads 0, the same area with grain
    reads the grain *and* the rounding error the grain spreads. A bin the region does not populate
    with 200 flat pixels cannot be read back; its gain is the deficit.

    Args:
        frame: uint8 or float32 [H, W, 3] RGB in 8-bit code units (value × 255).
        region: bool [H, W], where the grain goes.
        grain: the plate's :class:`Grain` (``sigma`` as :func:`estimate_grain` read it).
        noise: float32 [H, W, 3], the unit grain that will be added.
        quantised: the frame is written as 8-bit codes (rounded after the grain is added).
    """
    crop = frame.astype(np.float32)
    delivered = _delivered(crop, quantised)
    flat = _flat(delivered, region)  # the pixels read: the flattest of the region before any grain
    before = _deviation(delivered, _luma_bins(delivered), flat)
    deficit = (grain.changing * np.sqrt(np.maximum(grain.sigma ** 2 - before ** 2, 0.0))).astype(np.float32)
    target = np.sqrt(before ** 2 + deficit ** 2)
    bins = _luma_bins(crop)
    readable = np.bincount(bins[flat], minlength=BINS)[:BINS, None] >= _MIN_BIN_PIXELS
    calibrate = readable & (deficit > 0)
    if not calibrate.any():
        return deficit
    low, high = np.zeros_like(deficit), deficit * np.float32(_MAX_GAIN)
    for _ in range(_CALIBRATION_STEPS):
        middle = (low + high) / 2
        trial = np.where(calibrate, middle, deficit)
        grained = _delivered(crop + noise * trial[bins], quantised)
        under = _deviation(grained, _luma_bins(grained), flat) < target
        low, high = np.where(under, middle, low), np.where(under, high, middle)
    return np.where(calibrate, (low + high) / 2, deficit).astype(np.float32)


def regrain(frame: np.ndarray, region: np.ndarray, grain: Grain, *, seed: int,
            quantised: bool | None = None, calibration: dict | None = None) -> tuple[np.ndarray, float]:
    """Add grain inside ``region`` of a filled frame so that, measured as the plate was, it reads
    the plate's grain: :func:`unit_grain` of the plate's size (seeded), scaled per luma bin and
    channel by :func:`regrain_gain` (the rule: the deficit as the estimate reads the frame as
    delivered), added inside the region's bounding box.

    Args:
        frame: uint8 [H, W, 3] RGB, the filled frame (or float32 in 8-bit code units, value ×
            255: grain is then added without rounding).
        region: bool [H, W], the filled pixels; nothing outside it changes.
        grain: the plate's :class:`Grain`.
        seed: seeds the noise (use the frame number: reproducible, different every frame).
        quantised: the frame is written as 8-bit codes. Default: True for uint8, False for
            float32; a float32 frame of an 8-bit source passes True — it is returned float32 and
            unrounded, only :func:`regrain_gain` reads it rounded, as it will be written.
        calibration: a dict the caller keeps across the frames of one fill whose character does
            not change from frame to frame (a shot's upscale): the gains found on the first frame
            (and the unit grain's normalisation) are stored in it and used for the next, which
            skips the calibration (its bisection reads the whole region eight times: ~1.7 s a
            1080p frame on one core).

    Returns:
        ``(frame with grain, RMS deviation of the grain added inside the region in code values)``;
        a new array of the frame's type.
    """
    if not region.any():
        return frame.copy(), 0.0
    quantised = frame.dtype == np.uint8 if quantised is None else quantised
    ys, xs = np.nonzero(region)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = frame[top:bottom, left:right].astype(np.float32)
    inside = region[top:bottom, left:right]
    pad = int(np.ceil(3 * grain.size_px)) + 1
    h, w = bottom - top + 2 * pad, right - left + 2 * pad
    noise = grain_noise((h, w, 3), grain.size_px, seed=seed)
    # What the estimate reads on grain of this size (the same for every seed): :func:`unit_grain`'s.
    unit = calibration.get("unit") if calibration is not None else None
    if unit is None:
        unit = np.maximum(apparent_deviation(noise), 1e-3)
        if calibration is not None:
            calibration["unit"] = unit
    noise = np.ascontiguousarray(noise[pad:pad + bottom - top, pad:pad + right - left] / unit)
    gain = calibration.get("gain") if calibration is not None else None
    if gain is None:
        gain = regrain_gain(crop, inside, grain, noise, quantised=quantised)
        if calibration is not None:
            calibration["gain"] = gain
    added = noise * gain[_luma_bins(crop)]
    grained = crop + added
    if frame.dtype == np.uint8:
        grained = np.clip(grained + 0.5, 0, 255).astype(np.uint8)
    out = frame.copy()
    out[top:bottom, left:right][inside] = grained[inside]
    return out, float(np.sqrt(np.mean(added[inside] ** 2)))

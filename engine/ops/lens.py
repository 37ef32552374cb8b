"""A production's lens and grain signature: sharpness (MTF50 from edges), vignetting and grain,
estimated from its dailies and given to pixels the engine makes (a reframe's punch-in).

Sharpness — MTF50 from natural edges, after the edge method of ISO 12233:2017 (edge spread
function → line spread function → |FFT|, the frequency where the modulation falls to 50 %),
on the straight, isolated, high-contrast edges a frame happens to hold instead of a slanted-edge
chart: edge pixels (Canny) where the structure tensor is coherent (one orientation), the
profile sampled across the edge every ¼ pixel (bicubic) and averaged over a few pixels along it;
profiles whose ends are not flat (lines, texture) are dropped; the rest are aligned at their
50 % crossing and their median taken. The bicubic sampling and natural edges make the figure a
*relative* measure — compare it between frames measured the same way (a reframe against the
plate), not with a lab's chart figure. Units: cycles per pixel (Nyquist = 0.5).

Vignetting — the radial fall-off of the mean log-luma over many frames of the production
(scene content averages out over many shots), fitted as ``log v(r) = a r² + b r⁴`` with ``r``
the distance from the frame centre over the half-diagonal (the even-polynomial model of
Goldman & Chen, "Vignette and Exposure Calibration and Compensation", ICCV 2005).

Grain — per RGB channel and luma bin, :func:`engine.ops.grain.estimate_grain` (Immerkær 1996,
the share changing frame to frame along flow). Adding it is :func:`engine.ops.grain.regrain`.

Frames here are float32 [H, W, 3] RGB at source precision (0..1 code values for integer
sources), the engine's working frames; grain deviations are in 8-bit code values (0..255), as
:mod:`engine.ops.grain` keeps them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from engine.errors import ParameterError
from engine.ops import grain as grain_ops

#: Edge profile: ±HALF_WIDTH pixels across the edge, sampled every STEP pixel.
_HALF_WIDTH_PX = 6.0
_STEP_PX = 0.25
#: Pixels along the edge over which each profile is averaged.
_ALONG_PX = (-2.0, -1.0, 0.0, 1.0, 2.0)
#: Structure-tensor coherence above which an edge counts as straight (0..1).
_COHERENCE = 0.85
#: A profile's two ends (outer quarter each side) must vary less than this share of its step.
_FLAT_ENDS = 0.12
#: Profiles below this step (in 0..1 code values) are too faint to measure.
_MIN_CONTRAST = 0.08
#: At most this many edge points are sampled per frame.
_MAX_EDGES = 600
#: Fewer usable profiles than this, and a frame has no sharpness to measure.
MIN_EDGES = 12


class NoEdgesError(ParameterError):
    """A frame holds too few straight, isolated edges to measure its MTF50 on."""


@dataclass(frozen=True)
class EdgeSamples:
    """Where a frame's edges were sampled, so that versions of the same frame (sharpened by
    different amounts) are measured on the same edges.

    Attributes:
        points: float32 [N, 2] (x, y) pixel positions of edge points.
        normals: float32 [N, 2] unit vectors across the edge, dark → bright.
    """

    points: np.ndarray
    normals: np.ndarray


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame, np.float32), cv2.COLOR_RGB2GRAY)


def find_edges(frame: np.ndarray, *, seed: int = 0) -> EdgeSamples:
    """Straight edge points of a frame (float32 [H, W, 3] RGB, 0..1): Canny edges where the
    7×7 structure tensor's coherence exceeds 0.85, away from the border, at most 600 of the
    strongest (randomly thinned with ``seed``)."""
    grey = _grey(frame)
    height, width = grey.shape
    grey8 = np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8)
    edges = cv2.Canny(grey8, 40, 100) > 0
    smooth = cv2.GaussianBlur(grey, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    jxx = cv2.GaussianBlur(gx * gx, (0, 0), 2.0)
    jyy = cv2.GaussianBlur(gy * gy, (0, 0), 2.0)
    jxy = cv2.GaussianBlur(gx * gy, (0, 0), 2.0)
    root = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2)
    coherence = root / np.maximum(jxx + jyy, 1e-12)
    margin = int(_HALF_WIDTH_PX + 4)
    inside = np.zeros_like(edges)
    inside[margin:height - margin, margin:width - margin] = True
    keep = edges & inside & (coherence > _COHERENCE)
    ys, xs = np.nonzero(keep)
    magnitude = np.hypot(gx[ys, xs], gy[ys, xs])
    if len(ys) > 4 * _MAX_EDGES:
        strongest = np.argsort(magnitude)[-4 * _MAX_EDGES:]
        ys, xs, magnitude = ys[strongest], xs[strongest], magnitude[strongest]
    if len(ys) > _MAX_EDGES:
        chosen = np.random.default_rng(seed).choice(len(ys), _MAX_EDGES, replace=False)
        ys, xs, magnitude = ys[chosen], xs[chosen], magnitude[chosen]
    normals = np.stack([gx[ys, xs], gy[ys, xs]], axis=1) / np.maximum(magnitude, 1e-12)[:, None]
    return EdgeSamples(points=np.stack([xs, ys], axis=1).astype(np.float32), normals=normals.astype(np.float32))


def _profiles(grey: np.ndarray, samples: EdgeSamples) -> np.ndarray:
    """float32 [N, K]: each edge's profile across it (dark → bright), averaged along it."""
    offsets = np.arange(-_HALF_WIDTH_PX, _HALF_WIDTH_PX + _STEP_PX / 2, _STEP_PX, dtype=np.float32)
    normal, point = samples.normals, samples.points
    tangent = np.stack([-normal[:, 1], normal[:, 0]], axis=1)
    total = np.zeros((len(point), len(offsets)), np.float32)
    for along in _ALONG_PX:
        where = point[:, None, :] + offsets[None, :, None] * normal[:, None, :] + along * tangent[:, None, :]
        map_x = np.ascontiguousarray(where[..., 0], np.float32)
        map_y = np.ascontiguousarray(where[..., 1], np.float32)
        total += cv2.remap(grey, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return total / len(_ALONG_PX)


def mtf50(frame: np.ndarray, samples: EdgeSamples | None = None) -> float:
    """MTF50 of a frame from its natural edges (module docstring), cycles per pixel.

    Args:
        frame: float32 [H, W, 3] RGB, 0..1 code values.
        samples: edges to measure on (:func:`find_edges`); by default the frame's own.

    Raises:
        NoEdgesError: fewer than ``MIN_EDGES`` usable edge profiles.
    """
    samples = find_edges(frame) if samples is None else samples
    if len(samples.points) < MIN_EDGES:
        raise NoEdgesError(f"the frame holds {len(samples.points)} straight edges; MTF50 needs {MIN_EDGES}")
    esf = _profiles(_grey(frame), samples)
    quarter = esf.shape[1] // 4
    low, high = esf[:, :quarter], esf[:, -quarter:]
    step = high.mean(axis=1) - low.mean(axis=1)
    flat = np.maximum(low.std(axis=1), high.std(axis=1)) < _FLAT_ENDS * np.abs(step)
    good = flat & (step > _MIN_CONTRAST)
    if good.sum() < MIN_EDGES:
        raise NoEdgesError(f"the frame holds {int(good.sum())} isolated straight edges; MTF50 needs {MIN_EDGES}")
    esf = (esf[good] - low[good].mean(axis=1, keepdims=True)) / step[good, None]
    count = esf.shape[1]
    positions = np.arange(count, dtype=np.float32)
    centre = (count - 1) / 2.0
    aligned = []
    for profile in esf:
        above = np.nonzero(profile >= 0.5)[0]
        if len(above) == 0 or above[0] == 0:
            continue
        i = above[0]
        crossing = i - 1 + (0.5 - profile[i - 1]) / max(profile[i] - profile[i - 1], 1e-6)
        aligned.append(np.interp(positions + (crossing - centre), positions, profile))
    if len(aligned) < MIN_EDGES:
        raise NoEdgesError(f"the frame holds {len(aligned)} usable edge profiles; MTF50 needs {MIN_EDGES}")
    spread = np.median(np.stack(aligned), axis=0)
    lsf = np.diff(spread) * np.hanning(count - 1)
    size = 1024
    modulation = np.abs(np.fft.rfft(lsf, size))
    modulation /= max(modulation[0], 1e-12)
    frequency = np.fft.rfftfreq(size, d=_STEP_PX)  # cycles per pixel
    below = np.nonzero(modulation < 0.5)[0]
    if len(below) == 0:
        return float(frequency[-1])
    k = below[0]
    fraction = (modulation[k - 1] - 0.5) / max(modulation[k - 1] - modulation[k], 1e-12)
    return float(frequency[k - 1] + fraction * (frequency[k] - frequency[k - 1]))


def mtf50_of_frames(frames: Sequence[np.ndarray]) -> float:
    """The median MTF50 (cycles per pixel) of the frames that hold enough edges.

    Raises:
        NoEdgesError: none of them does.
    """
    values = []
    for frame in frames:
        try:
            values.append(mtf50(frame))
        except NoEdgesError:
            continue
    if not values:
        raise NoEdgesError(f"none of the {len(frames)} frames holds enough straight edges to measure MTF50 on")
    return float(np.median(values))


#: Vignetting is fitted on frames decimated to this many pixels across.
_VIGNETTE_WIDTH = 64


def radius_map(height: int, width: int, *, centre: tuple[float, float] | None = None,
               half_diagonal: float | None = None) -> np.ndarray:
    """float32 [height, width]: each pixel's distance from ``centre`` (x, y; default the frame's)
    over ``half_diagonal`` (default the frame's own)."""
    cx, cy = ((width - 1) / 2.0, (height - 1) / 2.0) if centre is None else centre
    scale = np.hypot(width, height) / 2.0 if half_diagonal is None else half_diagonal
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return (np.hypot(xs - cx, ys - cy) / scale).astype(np.float32)


def estimate_vignetting(frames: Sequence[np.ndarray]) -> tuple[float, float]:
    """``(a, b)`` of ``log v(r) = a r² + b r⁴`` (Goldman & Chen 2005) fitted by least squares to
    the mean log-luma of ``frames`` (float32 [H, W, 3] RGB, 0..1, all the same size) over the
    frame, normalised at the centre. ``v(1)`` is the corner's brightness relative to the centre.

    Raises:
        ParameterError: no frames.
    """
    if not frames:
        raise ParameterError("vignetting needs at least one frame")
    height, width = frames[0].shape[:2]
    small_h = max(4, round(_VIGNETTE_WIDTH * height / width))
    total = np.zeros((small_h, _VIGNETTE_WIDTH), np.float64)
    for frame in frames:
        grey = cv2.resize(_grey(frame), (_VIGNETTE_WIDTH, small_h), interpolation=cv2.INTER_AREA)
        total += np.log(np.maximum(grey, 1e-3))
    mean_log = total / len(frames)
    r = radius_map(small_h, _VIGNETTE_WIDTH).ravel().astype(np.float64)
    design = np.stack([np.ones_like(r), r ** 2, r ** 4], axis=1)
    (_, a, b), *_ = np.linalg.lstsq(design, mean_log.ravel(), rcond=None)
    return float(a), float(b)


def vignette(radius: np.ndarray, coefficients: tuple[float, float]) -> np.ndarray:
    """float32: the relative brightness ``v(r) = exp(a r² + b r⁴)`` at normalised radii."""
    a, b = coefficients
    return np.exp(a * radius ** 2 + b * radius ** 4).astype(np.float32)


@dataclass(frozen=True)
class LensProfile:
    """A production's lens and grain signature (module docstring).

    Attributes:
        mtf50_cycles_per_px: median MTF50 of its frames, cycles per pixel.
        vignetting: ``(a, b)`` of ``log v(r) = a r² + b r⁴``.
        grain: :class:`engine.ops.grain.Grain` (per luma bin and RGB channel, 8-bit code values).
    """

    mtf50_cycles_per_px: float
    vignetting: tuple[float, float]
    grain: grain_ops.Grain

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able values (stored in a model file, shown in lineage)."""
        return {"mtf50_cycles_per_px": round(self.mtf50_cycles_per_px, 5),
                "vignetting": [round(v, 5) for v in self.vignetting],
                "grain_sigma": np.round(self.grain.sigma, 4).tolist(),
                "grain_size_px": round(self.grain.size_px, 4),
                "grain_changing": np.round(self.grain.changing, 4).tolist()}

    @classmethod
    def from_dict(cls, values: dict) -> LensProfile:
        """The inverse of :meth:`to_dict`. Raises ``ParameterError`` on a malformed mapping."""
        try:
            grain = grain_ops.Grain(sigma=np.asarray(values["grain_sigma"], np.float32).reshape(grain_ops.BINS, 3),
                                    size_px=float(values["grain_size_px"]),
                                    changing=np.asarray(values["grain_changing"], np.float32).reshape(3))
            a, b = values["vignetting"]
            return cls(mtf50_cycles_per_px=float(values["mtf50_cycles_per_px"]), vignetting=(float(a), float(b)),
                       grain=grain)
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(f"malformed lens profile: {exc}") from None


def estimate_grain(frames: Sequence[np.ndarray]) -> grain_ops.Grain:
    """The grain of a shot from its frames (float32 [H, W, 3] RGB, 0..1, in time order):
    :func:`engine.ops.grain.estimate_grain` on the first frame, the share changing from frame to
    frame measured on the consecutive pairs among them."""
    if not frames:
        raise ParameterError("grain needs at least one frame")
    codes = [np.ascontiguousarray(frame * np.float32(255.0)) for frame in frames]
    pairs = [(a, None, b, None) for a, b in zip(codes[:-1], codes[1:])]
    return grain_ops.estimate_grain(codes[0], pairs=pairs[:3])


def estimate_lens_profile(frames: Sequence[np.ndarray], *, grain_frames: Sequence[np.ndarray] = ()) -> LensProfile:
    """A :class:`LensProfile` from a production's frames (float32 [H, W, 3] RGB, 0..1, one size).

    Args:
        frames: sampled frames of its dailies (MTF50, vignetting).
        grain_frames: a few consecutive frames of one shot for the grain (default: the first
            two of ``frames``).

    Raises:
        NoEdgesError: no frame holds enough edges for MTF50.
    """
    grain_frames = list(grain_frames) or list(frames[:2])
    return LensProfile(mtf50_cycles_per_px=mtf50_of_frames(frames), vignetting=estimate_vignetting(frames),
                       grain=estimate_grain(grain_frames))


# ------------------------------------------------------------------------------ giving it to pixels

#: σ (pixels) of the Gaussian of the unsharp mask and the search ranges of the sharpness match.
_UNSHARP_SIGMA_PX = 1.0
_MAX_UNSHARP = 6.0
_MAX_BLUR_SIGMA_PX = 2.5


def core(detail: np.ndarray, threshold: float) -> np.ndarray:
    """Soft-thresholded detail, ``sign(d) · max(|d| − threshold, 0)`` (float32, the shape of
    ``detail``; ``threshold`` in its code values, ≥ 0; 0 returns ``detail`` itself): the coring of
    a darkroom or Photoshop unsharp mask — fluctuations below the threshold (compression noise,
    quantisation steps, grain finer than the plate's) are not detail to add. Used by
    :func:`sharpen` and by the reframe on its learned upscale's detail over Lanczos."""
    if threshold <= 0:
        return detail
    return np.sign(detail) * np.maximum(np.abs(detail) - np.float32(threshold), np.float32(0.0))


def sharpen(frame: np.ndarray, amount: float, *, coring: float = 0.0) -> np.ndarray:
    """``amount`` > 0: unsharp mask ``x + amount · c(x − G₁ x)``; < 0: Gaussian blur of σ =
    −amount pixels; 0: the frame itself. float32 [H, W, 3] in and out (not clipped).

    ``coring`` (code values of the frame, ≥ 0): the detail ``d = x − G₁ x`` is soft-thresholded,
    ``c(d) = sign(d) · max(|d| − coring, 0)``, before it is amplified — the threshold of a
    darkroom or Photoshop unsharp mask: fluctuations smaller than it (compression noise,
    quantisation steps, grain finer than the plate's) are left as they are instead of being
    multiplied with the edges. 0 is a plain unsharp mask."""
    if amount > 0:
        detail = core(frame - cv2.GaussianBlur(frame, (0, 0), _UNSHARP_SIGMA_PX), coring)
        return frame + np.float32(amount) * detail
    if amount < 0:
        return cv2.GaussianBlur(frame, (0, 0), -amount)
    return frame


def sharpness_amount(frame: np.ndarray, target_mtf50: float, *, iterations: int = 12,
                     coring: float = 0.0, finish: Callable[[np.ndarray], np.ndarray] | None = None) -> float:
    """The :func:`sharpen` amount (with that ``coring``) that brings the frame's MTF50 to
    ``target_mtf50`` (cycles per pixel), by bisection on the frame's own edges; clamped to
    [−2.5, 6]. ``finish``: what is done to the sharpened frame before it is delivered (e.g. a
    regrain), applied before each measurement — the frame is matched as delivered.

    Raises:
        NoEdgesError: the frame holds too few edges to measure.
    """
    finish = finish or (lambda candidate: candidate)
    samples = find_edges(frame)
    current = mtf50(finish(frame), samples)
    if abs(current - target_mtf50) < 0.005:
        return 0.0
    low, high = (0.0, _MAX_UNSHARP) if current < target_mtf50 else (-_MAX_BLUR_SIGMA_PX, 0.0)
    for _ in range(iterations):
        middle = (low + high) / 2.0
        try:
            value = mtf50(finish(sharpen(frame, middle, coring=coring)), samples)
        except NoEdgesError:
            value = current
        if value < target_mtf50:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0

"""Look model: a production's look learned from its own dailies, as a smooth 3D LUT (training).

Training data are pairs of clips of the production — camera original → graded (frames a
colourist graded, or the production's LUT/CDL applied to hero frames) — with frame
``source.first + i`` corresponding to ``graded.first + i``. A few frames of each pair are
sampled; the look is a 33³ lattice (:class:`engine.ops.lut3d.Lut3D`, applied by trilinear
interpolation) initialised to the identity and fitted with Adam in PyTorch to minimise

    E = mean_pixels ‖Lab(LUT(x)) − Lab(y)‖²                    colour error (CIELAB, CIE 15:2004)
      + λ_smooth · mean ‖∇² LUT‖²                               smoothness: second differences
      + λ_mono   · mean relu(−∂LUT_c/∂x_c)²                     monotonicity of each channel

— the formulation of regularised 3D-LUT fitting used in learned-LUT work (e.g. Zeng et
al., "Learning Image-adaptive 3D Lookup Tables", TPAMI 2020: smoothness and monotonicity
terms). The second-difference term makes lattice points that no training colour reaches
continue the fitted look smoothly (near-linearly), which is what lets a handful of
frames generalise to other shots; the monotonicity term keeps gradients from inverting.

The trained look is exported as an Adobe Cube LUT (.cube, :meth:`Lut3D.write_cube`) that
any grading system reads; looks from other systems (.cube, .3dl, .clf, .cdl, .ccc) are
read through OpenColorIO (:func:`engine.ops.lut3d.load_look`). Applying a look to a shot is the
fix :mod:`engine.fixes.look`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.device import get_device
from engine.errors import Cancelled, ParameterError
from engine.media.decode import FrameSource
from engine.ops.cielab import delta_e2000, srgb_to_lab
from engine.ops.lut3d import Lut3D
from engine.ops.measure import CorrespondingDeltaE
from engine.params import check_number, params_from_dict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LookTrainParams:
    """Parameters of look-model training.

    Attributes:
        lattice_size: N of the N³ LUT (2..65; 33 is the industry's usual size).
        frames_per_pair: frames sampled from each pair, evenly spaced over its range
            (1..1000).
        samples_per_side: training frames are decimated to at most this many pixels
            along the longer side (16..4096).
        iterations: Adam steps (1..100000).
        learning_rate: Adam step size, in RGB code units 0..1 (0 < lr <= 1).
        smoothness_weight: λ_smooth (>= 0), on lattice second differences.
        monotonicity_weight: λ_mono (>= 0).

    Raises:
        ParameterError: a value has the wrong type or is out of range.
    """

    lattice_size: int = 33
    frames_per_pair: int = 10
    samples_per_side: int = 256
    iterations: int = 400
    learning_rate: float = 0.01
    smoothness_weight: float = 200.0
    monotonicity_weight: float = 1000.0

    def __post_init__(self) -> None:
        limits = {
            "lattice_size": (2, 65, True),
            "frames_per_pair": (1, 1000, True),
            "samples_per_side": (16, 4096, True),
            "iterations": (1, 100_000, True),
            "learning_rate": (1e-6, 1.0, False),
            "smoothness_weight": (0.0, math.inf, False),
            "monotonicity_weight": (0.0, math.inf, False),
        }
        for name, (low, high, integer) in limits.items():
            object.__setattr__(self, name, check_number(name, getattr(self, name), low=low, high=high, integer=integer))

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> LookTrainParams:
        """Build from a mapping (missing keys take defaults).

        Raises:
            ParameterError: not a mapping, unknown keys (named), or invalid values.
        """
        return params_from_dict(cls, values, "look training")

    def to_dict(self) -> dict[str, int | float]:
        """JSON-serialisable dict, the inverse of :meth:`from_dict`."""
        return dataclasses.asdict(self)


@dataclass
class TrainedLook:
    """A trained look model.

    Attributes:
        lut: the learned :class:`Lut3D`.
        lineage: one dict per pair — ``source`` and ``graded`` paths (str) and the
            ``frames`` (list of source frame numbers) that trained it.
        measurements: ``train_delta_e2000_mean``/``_p95`` (per pixel, on the training
            samples), ``train_seconds``, ``train_pixels``, ``train_colours``.
        params: the :class:`LookTrainParams` used.
    """

    lut: Lut3D
    lineage: list[dict]
    measurements: dict[str, float]
    params: LookTrainParams = field(default_factory=LookTrainParams)

    def write_cube(self, path: str | os.PathLike) -> Path:
        """Export as an Adobe Cube LUT 1.0 file (see :meth:`Lut3D.write_cube`)."""
        return self.lut.write_cube(path)


def _sample_frames(source: FrameSource, count: int) -> list[int]:
    frames = source.frame_range
    if count >= len(frames):
        return list(frames)
    positions = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[int(p)] for p in np.unique(positions)]


def _decimate(frame: np.ndarray, samples_per_side: int) -> np.ndarray:
    step = max(1, math.ceil(max(frame.shape[:2]) / samples_per_side))
    return np.ascontiguousarray(frame[::step, ::step]).reshape(-1, 3)


def collect_pairs(
    pairs: Sequence[tuple[FrameSource, FrameSource]],
    params: LookTrainParams,
    should_cancel: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Sample corresponding pixels of (source, graded) pairs.

    Returns:
        ``(source_rgb, graded_rgb, lineage)``: uint8 [P, 3] each, and the lineage
        (see :class:`TrainedLook`).

    Raises:
        ParameterError: no pairs, or a pair whose clips differ in size or length.
        FrameSourceError: a clip cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    if not pairs:
        raise ParameterError("look training needs at least one (source, graded) pair")
    sources, targets, lineage = [], [], []
    for source, graded in pairs:
        s, g = source.clip_probe, graded.clip_probe
        if (s.width, s.height) != (g.width, g.height) or len(source) != len(graded):
            raise ParameterError(
                f"pair {source.path.name} → {graded.path.name} does not correspond: "
                f"{s.width}x{s.height}, {len(source)} frames against {g.width}x{g.height}, {len(graded)} frames"
            )
        numbers = _sample_frames(source, params.frames_per_pair)
        offset = graded.first - source.first
        for number in numbers:
            if should_cancel is not None and should_cancel():
                raise Cancelled(f"look training cancelled while reading {source.path.name} frame {number}")
            source_frame = _read(source, number)
            graded_frame = _read(graded, number + offset)
            sources.append(_decimate(source_frame, params.samples_per_side))
            targets.append(_decimate(graded_frame, params.samples_per_side))
        lineage.append({"source": str(source.path), "graded": str(graded.path), "frames": numbers})
    return np.concatenate(sources), np.concatenate(targets), lineage


def _read(source: FrameSource, number: int) -> np.ndarray:
    for _, frame in FrameSource(source.path, first=number, stop=number + 1).frames():
        return frame
    raise AssertionError("unreachable: a one-frame source yields one frame")


def _regularisers(lattice: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(smoothness, monotonicity) penalties of a [3, N(b), N(g), N(r)] lattice, in lattice-step units."""
    n = lattice.shape[-1]
    smooth = lattice.new_zeros(())
    for dim in (1, 2, 3):
        second = lattice.narrow(dim, 2, n - 2) - 2.0 * lattice.narrow(dim, 1, n - 2) + lattice.narrow(dim, 0, n - 2)
        smooth = smooth + (second * (n - 1)).pow(2).mean()
    # Output channel c should not decrease along its own input axis: R along r (dim 3), G along g (2), B along b (1).
    mono = lattice.new_zeros(())
    for channel, dim in ((0, 3), (1, 2), (2, 1)):
        values = lattice[channel]
        step = values.narrow(dim - 1, 1, n - 1) - values.narrow(dim - 1, 0, n - 1)
        mono = mono + torch.relu(-step * (n - 1)).pow(2).mean()
    return smooth, mono


#: Width (in 8-bit codes per channel) of the colour bins training samples are merged into.
FIT_BIN_CODES = 4


def _binned_samples(source_rgb: np.ndarray, graded_rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge uint8 [P, 3] pairs into colour bins → (source RGB 0..1 [B, 3], graded Lab [B, 3], weight [B]) float32."""
    bins = 256 // FIT_BIN_CODES
    cells = (source_rgb // FIT_BIN_CODES).astype(np.int64) @ np.array([bins * bins, bins, 1])
    unique, inverse, counts = np.unique(cells, return_inverse=True, return_counts=True)
    index = torch.from_numpy(inverse.reshape(-1))
    count = torch.from_numpy(counts).to(torch.float64)[:, None]
    rgb = torch.from_numpy(source_rgb).to(torch.float64) / 255.0
    lab = srgb_to_lab(torch.from_numpy(graded_rgb).to(torch.float64) / 255.0)
    mean_rgb = torch.zeros(unique.size, 3, dtype=torch.float64).index_add_(0, index, rgb) / count
    mean_lab = torch.zeros(unique.size, 3, dtype=torch.float64).index_add_(0, index, lab) / count
    weight = count[:, 0] / count.sum()
    return mean_rgb.to(torch.float32), mean_lab.to(torch.float32), weight.to(torch.float32)


def _trilinear_corners(rgb: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat lattice indices (int64 [P, 8], layout ``b·N² + g·N + r``) and trilinear weights
    (float [P, 8]) of the 8 lattice points around each float [P, 3] RGB in 0..1."""
    position = rgb.clamp(0.0, 1.0) * (size - 1)
    low = position.floor().clamp(max=size - 2).long()
    frac = position - low
    corners, weights = [], []
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                r, g, b = low[:, 0] + dr, low[:, 1] + dg, low[:, 2] + db
                corners.append(b * size * size + g * size + r)
                w = (frac[:, 0] if dr else 1 - frac[:, 0]) * (frac[:, 1] if dg else 1 - frac[:, 1])
                weights.append(w * (frac[:, 2] if db else 1 - frac[:, 2]))
    return torch.stack(corners, dim=1), torch.stack(weights, dim=1)


def fit_lut(
    source_rgb: np.ndarray,
    graded_rgb: np.ndarray,
    params: LookTrainParams,
    *,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Lut3D:
    """Fit a smooth, monotone 3D LUT mapping ``source_rgb`` to ``graded_rgb``.

    Source colours are merged first into bins of :data:`FIT_BIN_CODES` 8-bit codes per
    channel (source RGB and graded CIELAB averaged per bin, weighted by pixel count;
    a 4-code bin is an eighth of a 33³ lattice cell), so cost grows with the number of
    occupied bins (≤ 64³), not with pixels.

    Args:
        source_rgb, graded_rgb: uint8 [P, 3] corresponding pixels.

    Returns:
        the fitted :class:`Lut3D` (``params.lattice_size``³).

    Raises:
        Cancelled: ``should_cancel()`` returned True (polled every 25 steps).
    """
    device = get_device()
    x, y, weight = _binned_samples(source_rgb, graded_rgb)
    x, y, weight = x.to(device), y.to(device), weight.to(device)

    lattice = Lut3D.identity(params.lattice_size).lattice_tensor(device).requires_grad_(True)
    # The inputs never change, so the trilinear corners and weights are computed once:
    # prediction = Σ_k weight_k · lattice[corner_k] (the same interpolation as trilinear()).
    corners, corner_weights = _trilinear_corners(x, params.lattice_size)
    optimiser = torch.optim.Adam([lattice], lr=params.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=params.iterations)
    for step in range(params.iterations):
        if should_cancel is not None and step % 25 == 0 and should_cancel():
            raise Cancelled(f"look training cancelled at step {step} of {params.iterations}")
        optimiser.zero_grad(set_to_none=True)
        flat = lattice.reshape(3, -1).T
        predicted = srgb_to_lab((flat[corners] * corner_weights[..., None]).sum(dim=1))
        colour = (weight * (predicted - y).pow(2).sum(dim=1)).sum()
        smooth, mono = _regularisers(lattice)
        loss = colour + params.smoothness_weight * 1e-3 * smooth + params.monotonicity_weight * mono
        loss.backward()
        optimiser.step()
        schedule.step()
        if progress is not None and (step + 1) % 25 == 0:
            progress(step + 1, params.iterations)
    log.info("look fit: %d colour bins, final colour loss %.4f (ΔE76² mean), smooth %.4f, mono %.6f",
             x.shape[0], float(colour.detach()), float(smooth.detach()), float(mono.detach()))
    return Lut3D.from_lattice_tensor(lattice)


def train_look(
    pairs: Sequence[tuple[FrameSource, FrameSource]],
    *,
    params: LookTrainParams | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    title: str = "Loupe look",
) -> TrainedLook:
    """Train a look model on (camera original, graded) clip pairs of one production.

    Args:
        pairs: ``(source, graded)`` :class:`FrameSource` pairs of equal size and length;
            frame ``source.first + i`` corresponds to ``graded.first + i``.
        params: :class:`LookTrainParams`; defaults when None.
        progress: ``progress(step, iterations)`` every 25 optimisation steps.
        should_cancel: polled between frames and every 25 steps.
        title: the LUT's title (written into the .cube).

    Returns:
        :class:`TrainedLook` with its lineage and training measurements.

    Raises:
        ParameterError: invalid params or pairs that do not correspond.
        FrameSourceError: a clip cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    params = params if params is not None else LookTrainParams()
    if not isinstance(params, LookTrainParams):
        raise ParameterError(f"params must be LookTrainParams, got {type(params).__name__}")
    started = time.perf_counter()
    source_rgb, graded_rgb, lineage = collect_pairs(pairs, params, should_cancel)
    lut = fit_lut(source_rgb, graded_rgb, params, progress=progress, should_cancel=should_cancel)
    lut.title = title
    seconds = time.perf_counter() - started
    with torch.no_grad():
        predicted = lut.apply_float(torch.from_numpy(source_rgb).to(torch.float32) / 255.0).clamp(0.0, 1.0)
        predicted = torch.round(predicted * 255.0) / 255.0
        error = delta_e2000(srgb_to_lab(predicted), srgb_to_lab(torch.from_numpy(graded_rgb).to(torch.float32) / 255.0))
    meter = CorrespondingDeltaE()
    meter.add_values(error.numpy())
    measurements = {
        "train_delta_e2000_mean": meter.mean(),
        "train_delta_e2000_p95": meter.percentile(95.0),
        "train_seconds": float(seconds),
        "train_pixels": float(source_rgb.shape[0]),
        "train_frames": float(sum(len(item["frames"]) for item in lineage)),
    }
    return TrainedLook(lut=lut, lineage=lineage, measurements=measurements, params=params)

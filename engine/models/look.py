"""Look model: a production's look learned from its own dailies, baked into one 3D LUT (training).

Training data are pairs of clips of the production — camera original → graded (frames a
colourist graded, or the production's LUT/CDL applied to hero frames) — with frame
``source.first + i`` corresponding to ``graded.first + i``. Values are the code values of the
clips' own encoding (float32 0..1, at source precision: a look applies to what the camera
wrote), and the loss is taken in CIELAB of the graded codes shown as sRGB/BT.709 display codes.

A look must extrapolate: it trains on a handful of graded frames and applies to every other
shot, whose colours it has partly never seen. So the model has two stages (issue #18):

1. **Global stage** (:class:`GlobalGrade`), fitted first in ACEScct (the grading working
   space of issue #21, through OpenColorIO — :func:`global_stage_apply`): per-channel input
   curves, a 3×3 matrix with offset, per-channel output curves —

       G(x) = curve_out( M · curve_in(x) + b )     on ACEScct values

   the structure of a colourist's primary grade and of a camera log-to-display transform (a
   1D shaper, a gamut matrix, a tone curve). Curves are piecewise linear on
   :data:`CURVE_KNOTS` knots, kept smooth (second differences) and monotone; outside the
   trained range they continue linearly. 1D curves and a matrix generalise to any colour.
2. **Residual lattice**: an N³ lattice ``R`` added to the global stage baked at the lattice
   points, ``LUT = G(lattice) + R``, fitted through trilinear interpolation (what the exported
   .cube does) with a smoothness term on R (second differences) and a decay term ``λ·mean R²``
   — together they make R fall off to zero, i.e. the LUT to the **global stage** (not to the
   identity), within a few lattice cells of the training colours. This is the regularised
   3D-LUT fit of learned-LUT work (Zeng et al., "Learning Image-adaptive 3D Lookup Tables",
   TPAMI 2020: smoothness and monotonicity terms) applied to a residual over a global
   correction, as in root-polynomial / polynomial colour correction pipelines (Finlayson,
   Mackiewicz, Hurlbert, "Color Correction Using Root-Polynomial Regression", IEEE TIP 2015)
   where a global fit carries the colours a lattice has no data for.

Training frames are chosen for colour coverage (:func:`select_frames`, greedy k-centre in
CIELAB, Gonzalez 1985), not the first N; candidates not chosen give the held-out figures
stored with the model. The colours training saw are kept as a :class:`Coverage` grid,
written into the .cube as a comment line, so that each application can state the share of a
shot's pixels in colours training never saw (:func:`engine.fixes.look.apply_look`).

The trained look is exported as an Adobe Cube LUT (.cube, :meth:`Lut3D.write_cube`) that
any grading system reads; looks from other systems (.cube, .3dl, .clf, .cdl, .ccc) are
read through OpenColorIO (:func:`engine.ops.lut3d.load_look`).
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

from engine.device import get_device, single_thread
from engine.errors import Cancelled, ParameterError
from engine.media.colour import DEFAULT_INPUT, GRADING_SPACE, colorspace_transform
from engine.media.decode import FrameSource
from engine.ops.cielab import delta_e2000, srgb_to_lab
from engine.ops.lut3d import Lut3D
from engine.ops.measure import CorrespondingDeltaE
from engine.params import check_number, params_from_dict

log = logging.getLogger(__name__)

#: Knots of each per-channel curve of the global stage (input curves on 0..1, output curves
#: on :data:`INPUT_CURVE_DOMAIN`, output curves on :data:`OUTPUT_CURVE_DOMAIN`, in ACEScct).
CURVE_KNOTS = 25
#: Domain of the input curves in ACEScct (Rec.709 video spans about 0.07–0.55, camera log
#: encodings up to about 1.0).
INPUT_CURVE_DOMAIN = (-0.1, 1.1)
#: Domain of the output curves (the matrix may leave 0..1); beyond it they continue linearly.
OUTPUT_CURVE_DOMAIN = (-0.3, 1.4)
#: ACEScct error that counts as 1 in the global stage's loss (about a tenth of a stop).
GLOBAL_ERROR_SCALE = 0.005
#: Cells per axis of the coverage grid over the input cube (16³ cells of 1/16 code range).
COVERAGE_CELLS = 16
#: The .cube comment line that carries the coverage grid.
COVERAGE_TAG = "LOUPE_COVERAGE"


@dataclass(frozen=True)
class LookTrainParams:
    """Parameters of look-model training.

    Attributes:
        lattice_size: N of the N³ LUT (2..65; 33 is the industry's usual size).
        frames_per_pair: frames chosen from each pair for training, for colour coverage
            (1..1000).
        samples_per_side: training frames are decimated to at most this many pixels
            along the longer side (16..4096).
        iterations: Adam steps of the residual lattice (1..100000).
        learning_rate: Adam step size of the residual lattice, in code units 0..1 (0 < lr <= 1).
        smoothness_weight: λ_smooth (>= 0), on the residual lattice's second differences.
        monotonicity_weight: λ_mono (>= 0), on decreasing output along its own input axis.
        global_iterations: Adam steps of the global stage (0 skips it: residual over identity).
        decay_weight: λ_decay (>= 0) on the residual's mean square: how fast the look falls
            back to the global stage away from training colours.

    Raises:
        ParameterError: a value has the wrong type or is out of range.
    """

    lattice_size: int = 33
    frames_per_pair: int = 10
    samples_per_side: int = 256
    iterations: int = 200
    learning_rate: float = 0.01
    smoothness_weight: float = 200.0
    monotonicity_weight: float = 1000.0
    global_iterations: int = 300
    decay_weight: float = 1.0

    def __post_init__(self) -> None:
        limits = {
            "lattice_size": (2, 65, True),
            "frames_per_pair": (1, 1000, True),
            "samples_per_side": (16, 4096, True),
            "iterations": (1, 100_000, True),
            "learning_rate": (1e-6, 1.0, False),
            "smoothness_weight": (0.0, math.inf, False),
            "monotonicity_weight": (0.0, math.inf, False),
            "global_iterations": (0, 100_000, True),
            "decay_weight": (0.0, math.inf, False),
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


@dataclass(frozen=True)
class Coverage:
    """Which colours training saw: a bool [C, C, C] grid over the input cube (``cells[r, g, b]``,
    C = :data:`COVERAGE_CELLS`, cell ``floor(value · C)`` per channel, values clamped to 0..1)."""

    cells: np.ndarray

    @classmethod
    def of(cls, rgb: np.ndarray, size: int = COVERAGE_CELLS) -> Coverage:
        """The cells that float [P, 3] code values 0..1 fall in."""
        grid = np.zeros(size ** 3, dtype=bool)
        grid[_cell_index(rgb, size)] = True
        return cls(grid.reshape(size, size, size))

    def unseen_mask(self, rgb: np.ndarray) -> np.ndarray:
        """bool [...] — True where float [..., 3] code values fall in a cell training never saw."""
        size = self.cells.shape[0]
        return ~self.cells.reshape(-1)[_cell_index(rgb.reshape(-1, 3), size)].reshape(rgb.shape[:-1])

    def unseen_fraction(self, rgb: np.ndarray) -> float:
        """Share (0..1) of float [..., 3] pixels in colours training never saw."""
        return float(self.unseen_mask(rgb).mean()) if rgb.size else 0.0

    def to_comment(self) -> str:
        """One .cube comment body: ``LOUPE_COVERAGE <C> <hex of the packed bits>``."""
        return f"{COVERAGE_TAG} {self.cells.shape[0]} {np.packbits(self.cells.reshape(-1)).tobytes().hex()}"

    @classmethod
    def from_cube(cls, path: str | os.PathLike) -> Coverage | None:
        """The coverage a Loupe look model wrote into its .cube; None for any other LUT file."""
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                for line in handle:
                    if not line.startswith("#"):
                        if line.strip() and not line.split()[0].isupper():
                            return None  # past the header: no coverage line
                        continue
                    words = line[1:].split()
                    if len(words) == 3 and words[0] == COVERAGE_TAG:
                        size = int(words[1])
                        bits = np.unpackbits(np.frombuffer(bytes.fromhex(words[2]), dtype=np.uint8))[: size ** 3]
                        return cls(bits.astype(bool).reshape(size, size, size))
        except (OSError, ValueError):
            return None
        return None


def _cell_index(rgb: np.ndarray, size: int) -> np.ndarray:
    cell = np.clip((np.asarray(rgb, dtype=np.float32) * size).astype(np.int64), 0, size - 1)
    return (cell[..., 0] * size + cell[..., 1]) * size + cell[..., 2]


@dataclass
class TrainedLook:
    """A trained look model.

    Attributes:
        lut: the baked :class:`Lut3D` (global stage + residual lattice).
        lineage: one dict per pair — ``source`` and ``graded`` paths (str), the ``frames``
            (source frame numbers) that trained it, and ``heldout_frames`` (candidates not
            chosen, measured as held-out figures).
        measurements: ``train_delta_e2000_mean``/``_p95`` (per pixel, on the training
            samples), ``heldout_delta_e2000_mean``/``_p95`` (on the held-out frames, when the
            pairs have any), ``train_seconds``, ``train_pixels``, ``train_frames``,
            ``train_coverage_fraction`` (share of the coverage grid's cells training saw).
        params: the :class:`LookTrainParams` used.
        coverage: the :class:`Coverage` of the training colours.
        global_stage: the fitted :class:`GlobalGrade` parameters (:meth:`GlobalGrade.to_dict`).
    """

    lut: Lut3D
    lineage: list[dict]
    measurements: dict[str, float]
    params: LookTrainParams = field(default_factory=LookTrainParams)
    coverage: Coverage | None = None
    global_stage: dict | None = None

    def write_cube(self, path: str | os.PathLike) -> Path:
        """Export as an Adobe Cube LUT 1.0 file (see :meth:`Lut3D.write_cube`), with the
        coverage grid as a comment line (ignored by other readers)."""
        comments = [self.coverage.to_comment()] if self.coverage is not None else []
        return self.lut.write_cube(path, comments=comments)


# ---------------------------------------------------------------------------------------------
# Training frames: chosen for colour coverage


#: CIELAB cell (ΔE76 units) frames' colours are reduced to for frame selection.
SELECT_LAB_CELL = 6.0


@single_thread()
def select_frames(samples: Sequence[np.ndarray], count: int) -> list[int]:
    """Choose ``count`` frames whose colours cover the most of CIELAB: greedy k-centre
    (T. Gonzalez, "Clustering to minimize the maximum intercluster distance", TCS 1985) over
    frames — first the frame with the most distinct colours, then each time the frame whose
    colours lie, on average, farthest from every colour already chosen.

    Args:
        samples: per candidate frame, float32 [P, 3] source code values 0..1 (shown as sRGB
            for CIELAB).
        count: frames wanted (>= 1).

    Returns:
        indices into ``samples``, in the order chosen (all of them when ``count`` >= len).
    """
    if count >= len(samples):
        return list(range(len(samples)))
    reps = []
    for rgb in samples:
        lab = srgb_to_lab(torch.from_numpy(np.clip(rgb, 0.0, 1.0).astype(np.float32)))
        reps.append(torch.unique(torch.round(lab / SELECT_LAB_CELL), dim=0) * SELECT_LAB_CELL)
    chosen = [int(np.argmax([len(r) for r in reps]))]
    nearest = [torch.full((len(r),), math.inf) for r in reps]
    while len(chosen) < count:
        added = reps[chosen[-1]]
        scores = []
        for index, rep in enumerate(reps):
            nearest[index] = torch.minimum(nearest[index], torch.cdist(rep, added).min(dim=1).values)
            scores.append(-1.0 if index in chosen else float(nearest[index].mean()))
        chosen.append(int(np.argmax(scores)))
    return chosen


# ---------------------------------------------------------------------------------------------
# Samples


def _decimate(frame: np.ndarray, samples_per_side: int) -> np.ndarray:
    step = max(1, math.ceil(max(frame.shape[:2]) / samples_per_side))
    return np.ascontiguousarray(frame[::step, ::step]).reshape(-1, 3).astype(np.float32)


def collect_pairs(
    pairs: Sequence[tuple[FrameSource, FrameSource]],
    params: LookTrainParams,
    should_cancel: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[dict], list[tuple[np.ndarray, np.ndarray]]]:
    """Sample corresponding pixels of (source, graded) pairs, frames chosen for coverage.

    Each pair is read once (float32 at source precision); up to ``3 · frames_per_pair``
    evenly spaced candidate frames are decimated, :func:`select_frames` chooses
    ``frames_per_pair`` of them, and up to 3 of the others are kept as held-out frames.

    Returns:
        ``(source_rgb, graded_rgb, lineage, heldout)``: float32 [P, 3] each (code values),
        the lineage (see :class:`TrainedLook`) and held-out (source, graded) float32 [Q, 3]
        sample pairs.

    Raises:
        ParameterError: no pairs, or a pair whose clips differ in size or length.
        FrameSourceError: a clip cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    if not pairs:
        raise ParameterError("look training needs at least one (source, graded) pair")
    sources, targets, lineage, heldout = [], [], [], []
    for source, graded in pairs:
        s, g = source.clip_probe, graded.clip_probe
        if (s.width, s.height) != (g.width, g.height) or len(source) != len(graded):
            raise ParameterError(
                f"pair {source.path.name} → {graded.path.name} does not correspond: "
                f"{s.width}x{s.height}, {len(source)} frames against {g.width}x{g.height}, {len(graded)} frames"
            )
        step = max(1, len(source) // (3 * params.frames_per_pair))
        candidates = []
        for (number, source_frame), (_, graded_frame) in zip(source.frames(step=step, as_float=True),
                                                            graded.frames(step=step, as_float=True), strict=True):
            if should_cancel is not None and should_cancel():
                raise Cancelled(f"look training cancelled while reading {source.path.name} frame {number}")
            candidates.append((number, _decimate(source_frame, params.samples_per_side),
                               _decimate(graded_frame, params.samples_per_side)))
        chosen = select_frames([c[1] for c in candidates], params.frames_per_pair)
        others = [i for i in range(len(candidates)) if i not in chosen]
        kept = [others[int(p)] for p in np.unique(np.linspace(0, len(others) - 1, min(3, len(others))).round())] \
            if others else []
        for index in sorted(chosen):
            sources.append(candidates[index][1])
            targets.append(candidates[index][2])
        heldout.extend((candidates[i][1], candidates[i][2]) for i in kept)
        lineage.append({"source": str(source.path), "graded": str(graded.path),
                        "frames": sorted(candidates[i][0] for i in chosen),
                        "heldout_frames": [candidates[i][0] for i in kept]})
    return np.concatenate(sources), np.concatenate(targets), lineage, heldout


#: Width (in 1/256 code units per channel) of the colour bins training samples are merged into.
FIT_BIN_CODES = 4


#: Coarser bins for the global stage (a few thousand colours fit 1D curves and a matrix).
GLOBAL_BIN_CODES = 16


def _binned_samples(source_rgb: np.ndarray, graded_rgb: np.ndarray, bin_codes: int = FIT_BIN_CODES
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge float [P, 3] pairs (code values 0..1) into colour bins of ``bin_codes``/256 per
    channel → (source RGB [B, 3], graded CIELAB [B, 3], weight [B], graded RGB [B, 3]) float32,
    averaged per bin, weights summing to 1."""
    bins = 256 // bin_codes
    cell = np.clip((np.asarray(source_rgb, np.float32) * bins).astype(np.int64), 0, bins - 1)
    cells = cell @ np.array([bins * bins, bins, 1])
    unique, inverse, counts = np.unique(cells, return_inverse=True, return_counts=True)
    index = torch.from_numpy(inverse.reshape(-1))
    count = torch.from_numpy(counts).to(torch.float64)[:, None]
    rgb = torch.from_numpy(np.asarray(source_rgb)).to(torch.float64)
    lab = srgb_to_lab(torch.from_numpy(np.clip(graded_rgb, 0.0, 1.0)).to(torch.float64))
    mean_rgb = torch.zeros(unique.size, 3, dtype=torch.float64).index_add_(0, index, rgb) / count
    mean_lab = torch.zeros(unique.size, 3, dtype=torch.float64).index_add_(0, index, lab) / count
    weight = count[:, 0] / count.sum()
    graded = torch.from_numpy(np.asarray(graded_rgb)).to(torch.float64)
    mean_graded = torch.zeros(unique.size, 3, dtype=torch.float64).index_add_(0, index, graded) / count
    return mean_rgb.to(torch.float32), mean_lab.to(torch.float32), weight.to(torch.float32), mean_graded.to(torch.float32)


# ---------------------------------------------------------------------------------------------
# Stage 1: the global grade


def _curve(knots: torch.Tensor, x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Per-channel piecewise-linear curves: knots float [3, K] at K evenly spaced inputs on
    [low, high], applied to float [P, 3]; continued linearly beyond the ends."""
    k = knots.shape[1]
    position = (x - low) / (high - low) * (k - 1)
    segment = position.detach().floor().clamp(0, k - 2).long()
    frac = position - segment
    left = torch.gather(knots, 1, segment.T).T
    right = torch.gather(knots, 1, (segment + 1).T).T
    return left + (right - left) * frac


class GlobalGrade:
    """The global stage ``G(x) = curve_out(M · curve_in(x) + b)`` (see the module docstring).

    Attributes (float32 tensors):
        curve_in: [3, K] knot values on 0..1; curve_out: [3, K] on :data:`OUTPUT_CURVE_DOMAIN`;
        matrix: [3, 3]; offset: [3]. Starts as the identity.
    """

    def __init__(self, knots: int = CURVE_KNOTS, device: torch.device | None = None) -> None:
        low, high = OUTPUT_CURVE_DOMAIN
        self.curve_in = torch.linspace(*INPUT_CURVE_DOMAIN, knots, device=device).repeat(3, 1)
        self.curve_out = torch.linspace(low, high, knots, device=device).repeat(3, 1)
        self.matrix = torch.eye(3, device=device)
        self.offset = torch.zeros(3, device=device)

    def parameters(self) -> list[torch.Tensor]:
        return [self.curve_in, self.matrix, self.offset, self.curve_out]

    def __call__(self, rgb: torch.Tensor) -> torch.Tensor:
        """float [P, 3] code values → float [P, 3] graded code values (not clamped)."""
        shaped = _curve(self.curve_in, rgb, *INPUT_CURVE_DOMAIN)
        return _curve(self.curve_out, shaped @ self.matrix.T + self.offset, *OUTPUT_CURVE_DOMAIN)

    def penalty(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(smoothness, monotonicity) of the curves: squared second differences and squared
        decreases, in knot-step units."""
        smooth, mono = self.curve_in.new_zeros(()), self.curve_in.new_zeros(())
        for knots, (low, high) in ((self.curve_in, INPUT_CURVE_DOMAIN), (self.curve_out, OUTPUT_CURVE_DOMAIN)):
            span = high - low
            scale = (knots.shape[1] - 1) / span
            smooth = smooth + ((knots[:, 2:] - 2 * knots[:, 1:-1] + knots[:, :-2]) * scale).pow(2).mean()
            mono = mono + torch.relu(-(knots[:, 1:] - knots[:, :-1]) * scale).pow(2).mean()
        return smooth, mono

    @classmethod
    def from_dict(cls, values: Mapping[str, list]) -> GlobalGrade:
        """Inverse of :meth:`to_dict`."""
        grade = cls(knots=len(values["curve_in"][0]))
        for name in ("curve_in", "matrix", "offset", "curve_out"):
            setattr(grade, name, torch.tensor(values[name], dtype=torch.float32))
        return grade

    def to_dict(self) -> dict[str, list]:
        """The fitted parameters as JSON lists (for the model's lineage)."""
        return {name: getattr(self, name).detach().cpu().round(decimals=6).tolist()
                for name in ("curve_in", "matrix", "offset", "curve_out")}


#: Weight of the global stage's curve smoothness (second differences) against the colour loss.
GLOBAL_SMOOTHNESS = 0.05


def fit_global(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, params: LookTrainParams,
               should_cancel: Callable[[], bool] | None = None) -> GlobalGrade:
    """Fit :class:`GlobalGrade` to binned samples in ACEScct (source float [B, 3], graded
    float [B, 3], weights float [B]) with Adam, minimising the weighted squared error (in units
    of :data:`GLOBAL_ERROR_SCALE`) plus curve smoothness and monotonicity.

    Raises:
        Cancelled: ``should_cancel()`` returned True (polled every 25 steps).
    """
    grade = GlobalGrade(device=x.device)
    if params.global_iterations == 0:
        return grade
    for tensor in grade.parameters():
        tensor.requires_grad_(True)
    optimiser = torch.optim.Adam(grade.parameters(), lr=0.01)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=params.global_iterations)
    for step in range(params.global_iterations):
        if should_cancel is not None and step % 25 == 0 and should_cancel():
            raise Cancelled(f"look training cancelled at global step {step} of {params.global_iterations}")
        optimiser.zero_grad(set_to_none=True)
        colour = (weight * ((grade(x) - y) / GLOBAL_ERROR_SCALE).pow(2).sum(dim=1)).sum()
        smooth, mono = grade.penalty()
        loss = colour + GLOBAL_SMOOTHNESS * smooth + params.monotonicity_weight * mono
        loss.backward()
        optimiser.step()
        schedule.step()
    for tensor in grade.parameters():
        tensor.requires_grad_(False)
    log.info("look global stage: loss %.4f (ACEScct error² in units of %s)", float(colour.detach()), GLOBAL_ERROR_SCALE)
    return grade


# ---------------------------------------------------------------------------------------------
# Stage 2: the residual lattice


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


@single_thread()
def fit_lut(
    source_rgb: np.ndarray,
    graded_rgb: np.ndarray,
    params: LookTrainParams,
    *,
    source_space: str = DEFAULT_INPUT,
    graded_space: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> tuple[Lut3D, GlobalGrade]:
    """Fit the look: the global stage first, then the residual lattice over it, baked into one LUT.

    Source colours are merged first into bins of :data:`FIT_BIN_CODES`/256 per channel
    (source code values and graded CIELAB averaged per bin, weighted by pixel count), so
    cost grows with the number of occupied bins (≤ 64³), not with pixels.

    Args:
        source_rgb, graded_rgb: float [P, 3] corresponding code values 0..1 (uint8 is read as
            codes / 255).
        source_space, graded_space: their OCIO colour spaces (graded None: the source's); the
            global stage works in ACEScct between them (:func:`global_stage_apply`).

    Returns:
        ``(lut, global_stage)``: the baked :class:`Lut3D` (``params.lattice_size``³) and the
        fitted :class:`GlobalGrade`.

    Raises:
        Cancelled: ``should_cancel()`` returned True (polled every 25 steps).
    """
    source_rgb, graded_rgb = _as_codes(source_rgb), _as_codes(graded_rgb)
    device = get_device()
    graded_space = graded_space or source_space
    x, y, weight, _ = _binned_samples(source_rgb, graded_rgb)
    x, y, weight = x.to(device), y.to(device), weight.to(device)
    coarse_x, _, coarse_weight, coarse_y = _binned_samples(source_rgb, graded_rgb, GLOBAL_BIN_CODES)
    to_working = colorspace_transform(source_space, GRADING_SPACE)
    graded_to_working = colorspace_transform(graded_space, GRADING_SPACE)
    working_x = torch.from_numpy(to_working(coarse_x.numpy()[:, None]).reshape(-1, 3))
    working_y = torch.from_numpy(graded_to_working(coarse_y.numpy()[:, None]).reshape(-1, 3))
    grade = fit_global(working_x.to(device), working_y.to(device), coarse_weight.to(device), params, should_cancel)

    n = params.lattice_size
    points = Lut3D.identity(n).lattice_tensor(torch.device("cpu")).reshape(3, -1).T  # [N³, 3], flat b·N² + g·N + r
    base = torch.from_numpy(global_stage_apply(grade, points.numpy(), source_space, graded_space))
    base = base.T.reshape(3, n, n, n).contiguous().to(device)
    residual = torch.zeros_like(base, requires_grad=True)
    corners, corner_weights = _trilinear_corners(x, n)
    optimiser = torch.optim.Adam([residual], lr=params.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=params.iterations)
    for step in range(params.iterations):
        if should_cancel is not None and step % 25 == 0 and should_cancel():
            raise Cancelled(f"look training cancelled at step {step} of {params.iterations}")
        optimiser.zero_grad(set_to_none=True)
        lattice = base + residual
        flat = lattice.reshape(3, -1).T
        predicted = srgb_to_lab((flat[corners] * corner_weights[..., None]).sum(dim=1).clamp(0.0, 1.0))
        colour = (weight * (predicted - y).pow(2).sum(dim=1)).sum()
        smooth, _ = _regularisers(residual)
        _, mono = _regularisers(lattice)
        loss = (colour + params.smoothness_weight * 1e-3 * smooth + params.monotonicity_weight * mono
                + params.decay_weight * residual.pow(2).mean() * 1e3)
        loss.backward()
        optimiser.step()
        schedule.step()
        if progress is not None and (step + 1) % 25 == 0:
            progress(step + 1, params.iterations)
    log.info("look fit: %d colour bins, final colour loss %.4f (ΔE76² mean), smooth %.4f, mono %.6f",
             x.shape[0], float(colour.detach()), float(smooth.detach()), float(mono.detach()))
    return Lut3D.from_lattice_tensor((base + residual).detach()), grade


def global_stage_apply(grade: GlobalGrade, rgb: np.ndarray, source_space: str = DEFAULT_INPUT,
                       graded_space: str | None = None) -> np.ndarray:
    """The global stage on code values: float [P, 3] in ``source_space`` → ACEScct (OCIO) →
    :class:`GlobalGrade` → ``graded_space`` (default the source's) → float32 [P, 3]."""
    working = colorspace_transform(source_space, GRADING_SPACE)(np.asarray(rgb, np.float32).reshape(-1, 1, 3))
    with torch.no_grad():
        graded = grade(torch.from_numpy(working.reshape(-1, 3)).to(grade.matrix.device)).cpu().numpy()
    back = colorspace_transform(GRADING_SPACE, graded_space or source_space)
    return back(graded.reshape(-1, 1, 3).astype(np.float32)).reshape(-1, 3)


def _as_codes(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    return rgb.astype(np.float32) / np.float32(255) if rgb.dtype == np.uint8 else rgb.astype(np.float32)


def look_delta_e(lut: Lut3D, source_rgb: np.ndarray, graded_rgb: np.ndarray) -> np.ndarray:
    """Per-pixel ΔE2000 (float32 [P]) between ``lut`` applied to float [P, 3] source code values
    (trilinear, float32, output clamped to 0..1) and the graded code values, both as sRGB display
    codes in CIELAB."""
    with torch.no_grad():
        predicted = lut.apply_float(torch.from_numpy(_as_codes(source_rgb))).clamp(0.0, 1.0)
        truth = torch.from_numpy(np.clip(_as_codes(graded_rgb), 0.0, 1.0))
        return delta_e2000(srgb_to_lab(predicted), srgb_to_lab(truth)).numpy()


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
        progress: ``progress(step, iterations)`` every 25 residual optimisation steps.
        should_cancel: polled between frames and every 25 steps.
        title: the LUT's title (written into the .cube).

    Returns:
        :class:`TrainedLook` with its lineage, coverage and training / held-out measurements.

    Raises:
        ParameterError: invalid params or pairs that do not correspond.
        FrameSourceError: a clip cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    params = params if params is not None else LookTrainParams()
    if not isinstance(params, LookTrainParams):
        raise ParameterError(f"params must be LookTrainParams, got {type(params).__name__}")
    started = time.perf_counter()
    source_rgb, graded_rgb, lineage, heldout = collect_pairs(pairs, params, should_cancel)
    spaces = {(source.colorspace, graded.colorspace) for source, graded in pairs}
    if len(spaces) > 1:
        raise ParameterError(f"every pair must be in the same colour spaces (source, graded); got {sorted(spaces)}")
    (source_space, graded_space), = spaces
    lut, grade = fit_lut(source_rgb, graded_rgb, params, source_space=source_space, graded_space=graded_space,
                         progress=progress, should_cancel=should_cancel)
    lut.title = title
    seconds = time.perf_counter() - started
    coverage = Coverage.of(source_rgb)
    meter = CorrespondingDeltaE()
    meter.add_values(look_delta_e(lut, source_rgb, graded_rgb))
    measurements = {
        "train_delta_e2000_mean": meter.mean(),
        "train_delta_e2000_p95": meter.percentile(95.0),
        "train_seconds": float(seconds),
        "train_pixels": float(source_rgb.shape[0]),
        "train_frames": float(sum(len(item["frames"]) for item in lineage)),
        "train_coverage_fraction": float(coverage.cells.mean()),
    }
    if heldout:
        held = CorrespondingDeltaE()
        held.add_values(np.concatenate([look_delta_e(lut, s, g) for s, g in heldout]))
        measurements["heldout_delta_e2000_mean"] = held.mean()
        measurements["heldout_delta_e2000_p95"] = held.percentile(95.0)
    return TrainedLook(lut=lut, lineage=lineage, measurements=measurements, params=params, coverage=coverage,
                       global_stage={**grade.to_dict(), "source_space": source_space, "graded_space": graded_space,
                                     "working_space": GRADING_SPACE})

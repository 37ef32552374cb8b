"""Shot match: make a shot's colour continuous with a reference shot.

Method: E. Reinhard, M. Ashikhmin, B. Gooch, P. Shirley, "Color Transfer between
Images", IEEE Computer Graphics and Applications 21(5), 2001 — each channel is
shifted and scaled so that its mean and standard deviation match the reference's:

    out = (x − μ_shot) · (σ_reference / σ_shot) + μ_reference

Reinhard et al. work in Ruderman's lαβ space; here the channels are CIELAB L*, a*, b*
(CIE 15:2004, D65, from sRGB — see :mod:`engine.colorspace`), which is likewise
opponent and roughly decorrelated for natural images, and is the space ΔE2000 is
measured in. The ratio σ_reference / σ_shot is clamped to
``[1 / max_std_ratio, max_std_ratio]`` so a flat shot is not blown up, and
``strength`` blends between the shot (0) and the full transfer (1).

The statistics are taken over the whole shot and the whole reference (every
``sample_stride``-th frame, on a regular grid of at most 320 pixels per side), so the
shot gets one transform for all its frames and the match does not flicker from frame
to frame. The transform depends only on a pixel's colour, so each distinct 8-bit colour
is transformed once and then looked up (:class:`engine.rgb_lut.RgbLut8`).

Not implemented here: F. Pitié, A. Kokaram, "The linear Monge-Kantorovitch linear
colour mapping for example-based colour transfer" (CVMP 2007), which matches the full
3×3 covariance instead of per-channel deviations — a later improvement on Reinhard.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from engine.colorspace import delta_e2000, lab_to_srgb, srgb_to_lab
from engine.device import get_device
from engine.errors import Cancelled, ParameterError
from engine.io import FrameSource
from engine.rgb_lut import RgbLut8

log = logging.getLogger(__name__)

#: Frames are sampled for statistics on a regular pixel grid of at most this many
#: pixels along the longer side (decimation, not filtering, so the sample keeps the
#: full-resolution distribution of colours, texture included).
STATS_MAX_SAMPLES_PER_SIDE = 320


@dataclass(frozen=True)
class MatchParams:
    """Parameters of a shot match.

    Attributes:
        sample_stride: statistics use every ``sample_stride``-th frame of the shot and
            of the reference (frames first, first+stride, …); integer >= 1.
        strength: 0..1 blend from the shot as it is (0) to the full transfer (1).
        max_std_ratio: bound on the per-channel scale σ_reference / σ_shot, which is
            clamped to ``[1 / max_std_ratio, max_std_ratio]``; finite, >= 1.

    Raises:
        ParameterError: a value has the wrong type or is out of range.
    """

    sample_stride: int = 4
    strength: float = 1.0
    max_std_ratio: float = 4.0

    def __post_init__(self) -> None:
        stride = self.sample_stride
        if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
            raise ParameterError(f"sample_stride must be an integer >= 1 (frames), got {stride!r}")
        object.__setattr__(self, "sample_stride", int(stride))
        for name in ("strength", "max_std_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise ParameterError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ParameterError(f"{name} must be finite, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not 0.0 <= self.strength <= 1.0:
            raise ParameterError(f"strength must be between 0 and 1, got {self.strength}")
        if self.max_std_ratio < 1.0:
            raise ParameterError(f"max_std_ratio must be >= 1, got {self.max_std_ratio}")

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> MatchParams:
        """Build parameters from a mapping (e.g. a fix request's stored JSON).

        Missing keys take their defaults.

        Raises:
            ParameterError: ``values`` is not a mapping, has unknown keys (named in the
                message), or a value is invalid.
        """
        if not isinstance(values, Mapping):
            raise ParameterError(f"shot match parameters must be a mapping, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(key) for key in values if key not in known)
        if unknown:
            raise ParameterError(
                f"unknown shot match parameter(s): {', '.join(unknown)}; "
                f"known parameters are {', '.join(sorted(known))}"
            )
        return cls(**values)

    def to_dict(self) -> dict[str, int | float]:
        """The parameters as a JSON-serialisable dict (the inverse of :meth:`from_dict`)."""
        return dataclasses.asdict(self)


@dataclass
class FixResult:
    """What a fix did.

    Attributes:
        region: bool [H, W]; True where the fix may change pixels (the whole frame for
            a shot match). Pixels outside it are left bit-for-bit as they were.
        measurements: flat dict of named floats (see :func:`run`).
        frame_count: number of frames the fix produced.
    """

    region: np.ndarray
    measurements: dict[str, float]
    frame_count: int


class _LabMoments:
    """Running per-channel mean and standard deviation of CIELAB over sampled pixels."""

    def __init__(self, device: torch.device) -> None:
        self._device = device
        self._sum = torch.zeros(3, dtype=torch.float64, device=device)
        self._sum_sq = torch.zeros(3, dtype=torch.float64, device=device)
        self._count = 0

    def add(self, frame: np.ndarray) -> None:
        """Add the sampled pixels of one uint8 [H, W, 3] RGB frame."""
        lab = _frame_sample_lab(frame, self._device).to(torch.float64)
        self._sum += lab.sum(dim=0)
        self._sum_sq += (lab * lab).sum(dim=0)
        self._count += lab.shape[0]

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


def _frame_sample_lab(frame: np.ndarray, device: torch.device) -> torch.Tensor:
    """float32 [N, 3] CIELAB of a regular pixel grid of a uint8 [H, W, 3] RGB frame."""
    step = max(1, math.ceil(max(frame.shape[:2]) / STATS_MAX_SAMPLES_PER_SIDE))
    sample = np.ascontiguousarray(frame[::step, ::step]).reshape(-1, 3)
    rgb = torch.from_numpy(sample).to(device=device, dtype=torch.float32) / 255.0
    return srgb_to_lab(rgb)


def _check_cancel(should_cancel: Callable[[], bool] | None, where: str) -> None:
    if should_cancel is not None and should_cancel():
        raise Cancelled(f"shot match cancelled {where}")


def run(
    shot: FrameSource,
    reference: FrameSource,
    *,
    params: MatchParams | None = None,
    sink: Callable[[int, np.ndarray, np.ndarray], None],
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> FixResult:
    """Match the colour of ``shot`` to ``reference`` (Reinhard et al. 2001, in CIELAB).

    Pass 1 reads the sampled frames of the shot and the reference and computes their
    CIELAB means and deviations; pass 2 decodes the shot again, transforms every
    frame with the one shot-wide transform, and hands each frame to ``sink``. Memory
    is bounded whatever the shot's length: a few frames plus a 64 MiB colour table.
    Computation runs on :func:`engine.device.get_device`.

    Args:
        shot: the frames to change.
        reference: the frames whose colour the shot should take on (any size).
        params: :class:`MatchParams`; defaults when None.
        sink: called as ``sink(frame_number, before, after)`` for every frame of the
            shot, in order; before/after are uint8 [H, W, 3] RGB, frame_number counted
            from 0 at the start of the shot's clip.
        progress: called as ``progress(done, total)`` after each sink call; total is
            ``len(shot)``.
        should_cancel: polled between frames (in both passes); when it returns True
            the run stops by raising :class:`engine.errors.Cancelled`.

    Returns:
        :class:`FixResult` with ``region`` all True (bool [H, W] of the shot) and
        ``measurements`` (floats):

        - ``delta_e2000_before`` / ``delta_e2000_after``: CIEDE2000 between the mean
          CIELAB colour of the shot (before / after — the after value measured on the
          output frames, with the same frame and pixel sampling) and the mean CIELAB
          colour of the reference.
        - ``mean_l_reference``, ``mean_a_reference``, ``mean_b_reference``,
          ``mean_l_before``, …, ``mean_b_after``: those mean colours (L*, a*, b*).

    Raises:
        ParameterError: invalid ``params``.
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

    # Pass 1: shot-wide and reference-wide statistics.
    shot_before = _LabMoments(device)
    for number, frame in shot.frames(step=stride):
        _check_cancel(should_cancel, f"while measuring the shot (frame {number})")
        shot_before.add(frame)
    reference_stats = _LabMoments(device)
    for number, frame in reference.frames(step=stride):
        _check_cancel(should_cancel, f"while measuring the reference (frame {number})")
        reference_stats.add(frame)

    scale, offset = _transfer_coefficients(shot_before, reference_stats, params)
    log.info(
        "shot match %s → %s: Lab scale %s, offset %s, device %s",
        shot.path.name, reference.path.name, scale.tolist(), offset.tolist(), device,
    )
    _check_cancel(should_cancel, "before rendering")
    scale_d = scale.to(device=device, dtype=torch.float32)
    offset_d = offset.to(device=device, dtype=torch.float32)
    lut = RgbLut8(lambda rgb: lab_to_srgb(srgb_to_lab(rgb) * scale_d + offset_d), device)

    # Pass 2: render every frame, measuring the output on the same sample.
    shot_after = _LabMoments(device)
    height, width = shot.clip_probe.height, shot.clip_probe.width
    done = 0
    first = shot.frame_range.start
    for number, before in shot.frames():
        _check_cancel(should_cancel, f"after {done} of {total} frames")
        after = lut.apply(before)
        if (number - first) % stride == 0:
            shot_after.add(after)
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
    log.info("shot match %s: %s (%d distinct colours transformed)", shot.path.name, measurements, lut.colours_evaluated)
    return FixResult(region=np.ones((height, width), dtype=bool), measurements=measurements, frame_count=done)


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

"""Objective measurements that go with every colour/light proposal.

- :class:`CorrespondingDeltaE` — per-pixel CIEDE2000 (CIE 142-2001, Sharma et al. 2005)
  between output frames and reference frames *where pixels correspond* (another take or
  a pushed copy of the same framing), reported as the mean and the 95th percentile.
- :func:`check_correspondence` — whether a reference supplies a corresponding frame (same framing)
  for every frame of a shot, which per-pixel ΔE needs.
- :class:`FlickerMeter` — temporal stability: the frame-to-frame change of mean
  lightness L* (CIE 15:2004) of the output, against the same change in the source. A
  fix that adds flicker makes the output's frame-to-frame changes depart from the
  source's.

Both sample frames on the regular grid of :data:`SAMPLES_PER_SIDE` pixels along the
longer side (decimation, no filtering) and keep bounded memory whatever the clip's
length (a fixed histogram; two floats per frame).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from engine.errors import ParameterError
from engine.ops.cielab import delta_e2000, srgb_to_lab

if TYPE_CHECKING:
    from engine.media.decode import FrameSource

#: Pixels along the longer side of the sampling grid used for measurements.
SAMPLES_PER_SIDE = 320
#: ΔE2000 histogram: bin width and upper end (values above land in the last bin).
_DE_BIN = 0.01
_DE_MAX = 100.0


def sample_grid(frame: np.ndarray, samples_per_side: int = SAMPLES_PER_SIDE) -> np.ndarray:
    """Decimate a frame on a regular grid of at most ``samples_per_side`` pixels per side.

    Args:
        frame: [H, W, ...] array (uint8 RGB frame or bool mask).

    Returns:
        A view ``frame[::step, ::step]`` with ``step = ceil(max(H, W) / samples_per_side)``.
    """
    step = max(1, math.ceil(max(frame.shape[:2]) / samples_per_side))
    return frame[::step, ::step]


def frame_lab(frame: np.ndarray, device: torch.device | None = None,
              to_display: Callable[[np.ndarray], np.ndarray] | None = None) -> torch.Tensor:
    """CIELAB (D65) of the sampled grid of a frame, float32 [N, 3].

    Args:
        frame: uint8 [H, W, 3] codes, or float32 [H, W, 3] at source precision (0..1 for
            integer encodings).
        to_display: the display transform (float32 [..., 3] → display RGB 0..1, e.g.
            :func:`engine.media.colour.display_transform`), applied to the sampled pixels only
            (uint8 codes as code / 255); None when the frame already is sRGB display RGB.
    """
    sample = np.ascontiguousarray(sample_grid(frame)).reshape(-1, 1, 3)
    if sample.dtype == np.uint8 and to_display is None:
        rgb = torch.from_numpy(sample.reshape(-1, 3)).to(dtype=torch.float32) / 255.0
    else:
        if sample.dtype == np.uint8:
            sample = sample.astype(np.float32) / np.float32(255)
        shown = to_display(sample.astype(np.float32)) if to_display is not None else sample
        rgb = torch.from_numpy(np.clip(shown.reshape(-1, 3), 0.0, 1.0).astype(np.float32))
    return srgb_to_lab(rgb.to(device or torch.device("cpu")))


class CorrespondingDeltaE:
    """Mean and 95th percentile of per-pixel ΔE2000 between corresponding frames.

    Call :meth:`add` with each output frame and the reference frame it corresponds to
    (same size). Percentiles come from a histogram of 0.01-wide bins, so they are exact
    to 0.01 ΔE00. Frames are measured after ``to_display`` (see :func:`frame_lab`): ΔE
    as a viewer sees it.
    """

    def __init__(self, to_display: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self._to_display = to_display
        self._histogram = np.zeros(int(_DE_MAX / _DE_BIN) + 1, dtype=np.int64)
        self._sum = 0.0
        self._count = 0

    def add(self, output: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Measure one pair of frames.

        Args:
            output, reference: [H, W, 3] RGB of the same size, uint8 or float32 (see :func:`frame_lab`).
            mask: optional bool [H, W]; only True pixels are measured.

        Raises:
            ParameterError: the frames differ in size (they do not correspond).
        """
        if output.shape != reference.shape:
            raise ParameterError(
                f"frames do not correspond: output is {output.shape[1]}x{output.shape[0]}, reference is "
                f"{reference.shape[1]}x{reference.shape[0]}; per-pixel ΔE2000 needs the same framing"
            )
        difference = delta_e2000(frame_lab(output, to_display=self._to_display),
                                 frame_lab(reference, to_display=self._to_display)).numpy()
        if mask is not None:
            difference = difference[np.ascontiguousarray(sample_grid(mask)).reshape(-1)]
        self.add_values(difference)

    def add_values(self, difference: np.ndarray) -> None:
        """Add already computed ΔE2000 values (float [N])."""
        bins = np.minimum((difference / _DE_BIN).astype(np.int64), self._histogram.size - 1)
        self._histogram += np.bincount(bins, minlength=self._histogram.size)
        self._sum += float(difference.sum(dtype=np.float64))
        self._count += int(difference.size)

    @property
    def count(self) -> int:
        """Number of pixels measured."""
        return self._count

    def mean(self) -> float:
        """Mean ΔE2000 over every measured pixel (NaN when none was)."""
        return self._sum / self._count if self._count else float("nan")

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100) of ΔE2000, the upper edge of its 0.01 bin."""
        if not self._count:
            return float("nan")
        cumulative = np.cumsum(self._histogram)
        index = int(np.searchsorted(cumulative, q / 100.0 * self._count))
        return (index + 1) * _DE_BIN

    def measurements(self, prefix: str = "delta_e2000") -> dict[str, float]:
        """``{prefix}_mean`` and ``{prefix}_p95``."""
        return {f"{prefix}_mean": float(self.mean()), f"{prefix}_p95": float(self.percentile(95.0))}


class FlickerMeter:
    """Frame-to-frame change of mean lightness L* of the output against the source.

    Call :meth:`add` with each (source, output) frame pair in frame order.
    Measurements (L* units, 0..100):

    - ``flicker_source_l``: mean |ΔL̄| between consecutive source frames;
    - ``flicker_after_l``: the same for the output;
    - ``flicker_added_l``: mean |ΔL̄_output − ΔL̄_source| — the frame-to-frame change the
      fix added (0 for any transform that changes every frame the same way in L̄).
    """

    def __init__(self, to_display: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self._to_display = to_display
        self._source: list[float] = []
        self._after: list[float] = []

    def add(self, source: np.ndarray, output: np.ndarray) -> None:
        """Add one frame pair, [H, W, 3] RGB each, uint8 or float32 (measured after ``to_display``,
        see :func:`frame_lab`)."""
        self._source.append(float(frame_lab(source, to_display=self._to_display)[:, 0].mean()))
        self._after.append(float(frame_lab(output, to_display=self._to_display)[:, 0].mean()))

    def measurements(self) -> dict[str, float]:
        """The three flicker values; 0.0 for a single frame."""
        if len(self._source) < 2:
            return {"flicker_source_l": 0.0, "flicker_after_l": 0.0, "flicker_added_l": 0.0}
        source = np.diff(np.asarray(self._source))
        after = np.diff(np.asarray(self._after))
        return {
            "flicker_source_l": float(np.abs(source).mean()),
            "flicker_after_l": float(np.abs(after).mean()),
            "flicker_added_l": float(np.abs(after - source).mean()),
        }


def check_correspondence(shot: FrameSource, reference: FrameSource) -> None:
    """Raise ParameterError unless the reference can supply a corresponding frame for every shot frame."""
    s, r = shot.clip_probe, reference.clip_probe
    if (s.width, s.height) != (r.width, r.height):
        raise ParameterError(
            f"pixels_correspond needs the same framing, but the shot is {s.width}x{s.height} "
            f"and the reference {r.width}x{r.height}"
        )
    if len(reference) < len(shot):
        raise ParameterError(
            f"pixels_correspond needs a reference frame for every shot frame: the shot has {len(shot)} "
            f"frames, the reference range only {len(reference)}"
        )

"""The training parameters of the models learned per production, apart from the models so
that a web process checks them without loading torch or OpenCV
(docs/adr/0010-light-web-processes.md): :class:`InpaintTrainParams` (:mod:`engine.models.inpaint`)
and :class:`UpscaleTrainParams` (:mod:`engine.models.upscale`), which re-export them."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from engine.errors import ParameterError
from engine.params import check_limits, check_number, params_from_dict


@dataclass(frozen=True)
class InpaintTrainParams:
    """Parameters of inpainting-model training.

    Attributes:
        steps: Adam steps (1..100000).
        batch: crops per step (1..256).
        crop_px: side of the square training crops, pixels (32..512, multiple of 4).
        max_side: frames are scaled to at most this many pixels along the longer side (64..4096).
        frames_per_clip: frames sampled from each clip, evenly spaced (2..10000).
        heldout_every: every N-th sampled frame is held out for the figures (2..100).
        width: channels of the first layer (8..128).
        learning_rate: Adam step size (0 < lr <= 1).
        seed: random seed of crops and masks.
        time_budget_s: the steps stop after this many seconds (reading the frames not
            counted) even if fewer than ``steps`` were taken (1..86400; the lineage records the steps done).

    Raises:
        ParameterError: a value has the wrong type or is out of range.
    """

    steps: int = 600
    batch: int = 8
    crop_px: int = 64
    max_side: int = 432
    frames_per_clip: int = 16
    heldout_every: int = 5
    width: int = 16
    learning_rate: float = 2e-3
    seed: int = 0
    time_budget_s: float = 600.0

    def __post_init__(self) -> None:
        limits = {"steps": (1, 100000), "batch": (1, 256), "crop_px": (32, 512), "max_side": (64, 4096),
                  "frames_per_clip": (2, 10000), "heldout_every": (2, 100), "width": (8, 128),
                  "seed": (0, 2**31 - 1)}
        for name, (low, high) in limits.items():
            object.__setattr__(self, name, check_number(name, getattr(self, name), low=low, high=high, integer=True))
        if self.crop_px % 4:
            raise ParameterError(f"crop_px must be a multiple of 4, got {self.crop_px}")
        object.__setattr__(self, "learning_rate",
                           check_number("learning_rate", self.learning_rate, low=1e-8, high=1.0))
        object.__setattr__(self, "time_budget_s",
                           check_number("time_budget_s", self.time_budget_s, low=1.0, high=86400.0))

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> InpaintTrainParams:
        """Parameters from a mapping; missing keys take their defaults.

        Raises:
            ParameterError: unknown keys (named) or an invalid value.
        """
        return params_from_dict(cls, values, "inpainting model training")

    def to_dict(self) -> dict[str, int | float]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class UpscaleTrainParams:
    """Parameters of upscale training (constants chosen on the bench's TUNING split).

    Attributes:
        scales: upscale factors a network is trained for (each in 1.1..4).
        frames_per_clip: frames sampled from each clip, evenly over its range (2..1000).
        area_share: share of the training pairs made by plain area resampling instead of the
            camera's degradation (0..1): footage sharper than the camera model (a downscaled
            master, a sharpened grade) must not be over-sharpened.
        held_out_fraction: share of each clip's sampled frames, the last in time, kept out of
            training for the held-out figures (0..0.9).
        iterations: Adam steps per scale (1..200000).
        batch_size: patches per step (1..256).
        patch_px: side of a high-resolution training patch, pixels (24..512).
        features: channels of the network's body (4..256).
        body_layers: 3×3 conv–leaky-ReLU layers of the body (1..32).
        learning_rate: Adam's initial step (0..1).
        seed: seeds the patch sampling, noise and initial weights.
    """

    scales: tuple[float, ...] = (2.0, 1.5)
    frames_per_clip: int = 24
    area_share: float = 0.5
    held_out_fraction: float = 0.2
    iterations: int = 2000
    batch_size: int = 16
    patch_px: int = 96
    features: int = 24
    body_layers: int = 3
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        check_limits(self, {"frames_per_clip": (2, 1000, True), "held_out_fraction": (0, 0.9, False),
                            "area_share": (0, 1, False),
                            "iterations": (1, 200000, True), "batch_size": (1, 256, True),
                            "patch_px": (24, 512, True), "features": (4, 256, True),
                            "body_layers": (1, 32, True), "learning_rate": (0, 1, False), "seed": (0, 2**31, True)})
        if not self.scales or any(not isinstance(s, (int, float)) or not 1.1 <= s <= 4 for s in self.scales):
            raise ParameterError(f"scales must be numbers between 1.1 and 4, got {self.scales!r}")
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> UpscaleTrainParams:
        """Parameters from a mapping (``scales`` a list); missing keys take their defaults.

        Raises:
            ParameterError: unknown keys (named) or an invalid value.
        """
        values = dict(values) if isinstance(values, Mapping) else values
        if isinstance(values, dict) and isinstance(values.get("scales"), list):
            values["scales"] = tuple(values["scales"])
        return params_from_dict(cls, values, "upscale model training")

    def to_dict(self) -> dict[str, object]:
        """Plain JSON values (``scales`` a list)."""
        return dict(dataclasses.asdict(self), scales=list(self.scales))

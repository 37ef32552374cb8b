"""Upscale model: super-resolution learned from a production's own frames (training and applying).

Network — two stages at the low resolution, summed before one sub-pixel (pixel-shuffle) ×2
output (ESPCN, Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
Sub-Pixel Convolutional Neural Network", CVPR 2016):

- a *linear* stage: per output phase and channel, one 7×7 filter over R, G and B (so it may
  sharpen luma and chroma differently), holding the ×2 bicubic upscale plus the least-squares
  correction solved in closed form on the production's pairs before any gradient step — the
  MSE-optimal linear upscaler for the production's own degradation (the global, unhashed case of
  RAISR, Romano, Isidoro and Milanfar, "RAISR: Rapid and Accurate Image Super Resolution", IEEE
  TCI 2017). Alone it is level with an unsharp-masked Lanczos tuned on the footage. It is then
  kept fixed: Adam's first steps on it (a step of the learning rate on every one of its taps)
  undo more than the body gains;
- a *non-linear* residual body (conv–leaky-ReLU, no batch norm, as EDSR, Lim et al. 2017
  recommends; global residual learning, Kim et al. VDSR 2016), its last layer zero at the start,
  trained by Adam on what the linear stage leaves.

Folding bicubic into the linear stage makes applying it one convolution and one pixel shuffle;
a frame is applied in strips of rows (:meth:`UpscaleNet.doubled_into`, each with the network's
reach of context, so the result is the same) to keep the body's activations in cache.

For a scale ``s`` other than 2 (a 1.5× punch-in) the ×2 output is resampled to ``s`` (bicubic,
antialiased); the network of that scale — its least-squares solve included — is fitted *through*
the resampling, so each scale has its own weights.

Training pairs — internal learning in the spirit of ZSSR (Shocher et al., "'Zero-Shot'
Super-Resolution using Deep Internal Learning", CVPR 2018), across a production's dailies
instead of one image: each training frame is the high-resolution truth; its low-resolution
twin is made with the camera's own degradation so that it looks like native footage shot
``s`` times wider:

- blur: the camera's sharpness is measured (MTF50 from edges, :mod:`engine.ops.lens`) and
  modelled as a Gaussian of σ_c = 0.1874 / MTF50 pixels (a Gaussian's MTF falls to 50 % at
  √(ln 2 / 2π²) / σ). A frame ``s`` times smaller has that blur in *its* pixels, so the truth is
  blurred by σ² = σ_c² (s² − 1) − s²/12 (the last term is the area resampling's own box) before
  :func:`cv2.resize` ``INTER_AREA``;
- noise: the footage's noise (Immerkær, per channel) is averaged down by the resampling; the
  deviation it lost, √(σ² − (σ / s)²), is added back as Gaussian noise.

Loss: mean squared error (what PSNR measures; L1, EDSR's choice, gave 0.1 dB less on the\nbench's TUNING split), Adam, learning rate decayed by a cosine. Held-out figures: the last part of
each clip's sampled frames (in time) are never trained on; PSNR of the model and of Lanczos on
them at each scale are in :attr:`TrainedUpscale.held_out`.

Frames are float32 [H, W, 3] RGB, 0..1 code values at source precision (never stepped down
to 8 bits); the network works on them as they are encoded.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.device import get_device
from engine.errors import Cancelled, ParameterError
from engine.ops import lens
from engine.models.params import UpscaleTrainParams  # noqa: F401  (re-exported)

#: The file's format tag (torch.save of plain tensors and values; read with weights_only).
FORMAT = "loupe-upscale/3"
#: Side of the linear stage's filters (low-resolution pixels).
LINEAR_TAPS = 7
#: Low-resolution pixels sampled for the linear stage's least-squares solve, per scale.
LINEAR_SAMPLES = 60_000
#: Ridge of the linear stage's solve, a share of its normal matrix's mean diagonal.
LINEAR_RIDGE = 1e-6
#: σ (pixels) of a Gaussian whose MTF falls to 50 % at 1 cycle/pixel: √(ln 2 / 2π²).
_GAUSSIAN_MTF50 = math.sqrt(math.log(2.0) / (2.0 * math.pi ** 2))


@dataclass(frozen=True)
class Degradation:
    """The camera's degradation used to make low-resolution twins (module docstring).

    Attributes:
        camera_blur_px: σ_c of the Gaussian modelling the camera's blur, pixels.
        noise_sigma: per RGB channel, the footage's noise deviation, 0..1 code values.
    """

    camera_blur_px: float
    noise_sigma: tuple[float, float, float]

    @classmethod
    def from_profile(cls, profile: lens.LensProfile) -> Degradation:
        """The degradation of footage with this lens profile (σ_c from MTF50, clamped to 0.4..2.5 px)."""
        blur = min(max(_GAUSSIAN_MTF50 / max(profile.mtf50_cycles_per_px, 1e-3), 0.4), 2.5)
        noise = profile.grain.sigma.mean(axis=0) / 255.0
        return cls(camera_blur_px=float(blur), noise_sigma=tuple(float(v) for v in noise))

    def degrade(self, frame: np.ndarray, scale: float, *, seed: int) -> np.ndarray:
        """The low-resolution twin of ``frame`` (float32 [H, W, 3], 0..1): blurred, area-resampled
        to ``round(W / scale) × round(H / scale)``, noise added (seeded). float32 out, not clipped."""
        height, width = frame.shape[:2]
        sigma_sq = self.camera_blur_px ** 2 * (scale ** 2 - 1.0) - scale ** 2 / 12.0
        blurred = cv2.GaussianBlur(frame, (0, 0), math.sqrt(sigma_sq)) if sigma_sq > 0.01 else frame
        small = cv2.resize(blurred, (round(width / scale), round(height / scale)), interpolation=cv2.INTER_AREA)
        lost = np.sqrt(np.maximum(np.float32(self.noise_sigma) ** 2 * (1.0 - 1.0 / scale ** 2), 0.0))
        noise = np.random.default_rng(seed).standard_normal(small.shape).astype(np.float32) * lost.astype(np.float32)
        return small + noise


def bicubic_kernel() -> torch.Tensor:
    """float32 [12, 3, T, T] (T = :data:`LINEAR_TAPS`): the ×2 bicubic upscale of
    :func:`torch.nn.functional.interpolate` (``align_corners=False``, a = −0.75) as one
    convolution per output phase and channel, in :func:`torch.nn.functional.pixel_shuffle`'s
    channel order (``c · 4 + phase``); each channel from itself only. Measured from the
    interpolation's own response to an impulse, so it is that interpolation away from the border."""
    size, centre, half = 4 * LINEAR_TAPS, 2 * LINEAR_TAPS, LINEAR_TAPS // 2
    impulse = torch.zeros(1, 1, size, size)
    impulse[0, 0, centre, centre] = 1.0
    response = F.interpolate(impulse, scale_factor=2, mode="bicubic", align_corners=False)[0, 0]
    kernel = torch.zeros(12, 3, LINEAR_TAPS, LINEAR_TAPS)
    for phase in range(4):
        py, px = divmod(phase, 2)
        for ky in range(LINEAR_TAPS):
            for kx in range(LINEAR_TAPS):
                # output pixel (2y + py, 2x + px) reads input (y + ky − half, x + kx − half)
                value = response[2 * (centre - ky + half) + py, 2 * (centre - kx + half) + px]
                for channel in range(3):
                    kernel[channel * 4 + phase, channel, ky, kx] = value
    return kernel


class UpscaleNet(nn.Module):
    """The ×2 network (module docstring): a linear stage (bicubic folded in) plus a non-linear
    body, summed before one pixel shuffle, with an optional resample to ``scale``.

    ``forward(x)``: x float32 [N, 3, h, w] → float32 [N, 3, round(h·scale), round(w·scale)].
    """

    def __init__(self, *, features: int, body_layers: int, scale: float) -> None:
        super().__init__()
        self.scale = float(scale)
        # per output phase and channel, one T×T filter over R, G and B (bicubic at the start),
        # applied to the edge-replicated input: 12 outputs in pixel-shuffle order (c · 4 + phase)
        self.linear = nn.Conv2d(3, 12, LINEAR_TAPS, padding=0, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(bicubic_kernel())
        layers: list[nn.Module] = [nn.Conv2d(3, features, 3, padding=1), nn.LeakyReLU(0.1, inplace=True)]
        for _ in range(body_layers):
            layers += [nn.Conv2d(features, features, 3, padding=1), nn.LeakyReLU(0.1, inplace=True)]
        layers += [nn.Conv2d(features, 3 * 4, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        nn.init.zeros_(layers[-1].weight)  # starts as the linear stage (bicubic before its solve)
        nn.init.zeros_(layers[-1].bias)

    def linear_phases(self, x: torch.Tensor) -> torch.Tensor:
        """The linear stage before the pixel shuffle: [N, 3, h, w] → [N, 12, h, w]."""
        half = LINEAR_TAPS // 2
        return self.linear(F.pad(x, (half, half, half, half), mode="replicate"))

    def doubled(self, x: torch.Tensor) -> torch.Tensor:
        """The ×2 image, before any resample to the network's own scale."""
        return F.pixel_shuffle(self.linear_phases(x) + self.body(x), 2)

    @property
    def reach_px(self) -> int:
        """Low-resolution pixels an output pixel depends on, each way (the body's 3×3
        convolutions, the linear stage's half width)."""
        return max(len([m for m in self.body if isinstance(m, nn.Conv2d)]), LINEAR_TAPS // 2)

    def doubled_into(self, x: torch.Tensor, out: torch.Tensor, *, tile_rows: int = 64) -> None:
        """:meth:`doubled` of one image, computed in strips of ``tile_rows`` low-resolution rows
        (each with :attr:`reach_px` rows of context, so the result is the same) and written into
        ``out`` — float32 [2h, 2w, 3] (height, width, channel), e.g. a NumPy frame's tensor.
        Strips keep the body's activations in cache: on a 2-core CPU a 960×540 frame runs about
        1.7× faster than in one piece. x: float32 [1, 3, h, w]."""
        height = x.shape[2]
        reach = self.reach_px
        for top in range(0, height, tile_rows):
            bottom = min(height, top + tile_rows)
            first, last = max(0, top - reach), min(height, bottom + reach)
            strip = self.doubled(x[:, :, first:last])
            out[2 * top:2 * bottom].copy_(strip[0, :, 2 * (top - first):2 * (bottom - first)].permute(1, 2, 0))

    def resample(self, doubled: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The ×2 image brought to ``size`` (height, width) as the network's scale does it."""
        if tuple(doubled.shape[2:]) == tuple(size):
            return doubled
        return F.interpolate(doubled, size=size, mode="bicubic", align_corners=False, antialias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resample(self.doubled(x), (round(x.shape[2] * self.scale), round(x.shape[3] * self.scale)))


def lanczos(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` (float32 [H, W, 3]) resampled to ``size`` (width, height) by Lanczos-4 (OpenCV)."""
    return cv2.resize(frame, size, interpolation=cv2.INTER_LANCZOS4)


def psnr(output: np.ndarray, truth: np.ndarray, border_px: int = 4) -> float:
    """PSNR (dB) of float32 [H, W, 3] 0..1 frames, over the frame less ``border_px`` at each side."""
    b = border_px
    difference = np.clip(output, 0, 1)[b:-b, b:-b] - truth[b:-b, b:-b]
    return float(10.0 * np.log10(1.0 / max(float(np.mean(difference ** 2)), 1e-12)))


@dataclass
class TrainedUpscale:
    """A production's upscale model: one :class:`UpscaleNet` per scale, the lens profile and
    degradation estimated from its frames, lineage and held-out figures.

    Attributes:
        nets: scale → network (eval mode).
        params: the :class:`UpscaleTrainParams` it was trained with.
        profile: the production's :class:`engine.ops.lens.LensProfile`.
        degradation: the :class:`Degradation` its pairs were made with.
        lineage: clips and frame ranges trained on, held out, timings.
        held_out: per scale, PSNR (dB) of the model and of Lanczos on held-out frames.
    """

    nets: dict[float, UpscaleNet]
    params: UpscaleTrainParams
    profile: lens.LensProfile
    degradation: Degradation
    lineage: dict[str, object]
    held_out: dict[str, float]

    def net_for(self, scale: float) -> UpscaleNet:
        """The network trained for the scale nearest ``scale``."""
        return self.nets[min(self.nets, key=lambda s: abs(math.log(s / scale)))]

    def upscale(self, frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``frame`` (float32 [h, w, 3], 0..1) upscaled to ``size`` (width, height): the network
        of the nearest trained scale, then (if its output is not already ``size``) Lanczos.
        Returns float32 [height, width, 3], not clipped. CUDA when present."""
        scale = size[0] / frame.shape[1]
        net = self.net_for(scale)
        device = next(net.parameters()).device
        height, width = frame.shape[:2]
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1), dtype=np.float32))[None].to(device)
            doubled = np.empty((2 * height, 2 * width, 3), np.float32)
            if device.type == "cpu":
                net.doubled_into(x, torch.from_numpy(doubled))
            else:
                doubled[:] = net.doubled(x)[0].permute(1, 2, 0).cpu().numpy()
            own_size = (round(width * net.scale), round(height * net.scale))
            if own_size == tuple(size) and own_size != (2 * width, 2 * height):
                resampled = net.resample(torch.from_numpy(doubled).permute(2, 0, 1)[None].to(device), size[::-1])
                return np.ascontiguousarray(resampled[0].permute(1, 2, 0).cpu().numpy(), dtype=np.float32)
        if doubled.shape[1] != size[0] or doubled.shape[0] != size[1]:
            return lanczos(doubled, size)
        return doubled

    def save(self, path: str | Path) -> None:
        """Write the model file (``torch.save``; written to a temporary name, then renamed)."""
        path = Path(path)
        payload = {"format": FORMAT, "params": dataclasses.asdict(self.params),
                   "nets": {str(s): {k: v.cpu() for k, v in net.state_dict().items()} for s, net in self.nets.items()},
                   "profile": self.profile.to_dict(), "degradation": dataclasses.asdict(self.degradation),
                   "lineage": self.lineage, "held_out": self.held_out}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        torch.save(payload, partial)
        partial.replace(path)


def load(path: str | Path) -> TrainedUpscale:
    """Read a model file written by :meth:`TrainedUpscale.save` onto the engine's device.

    Raises:
        ParameterError: the file is missing or not a Loupe upscale model.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"upscale model {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not its own
        raise ParameterError(f"{path} is not a Loupe upscale model: {exc}") from None
    if not isinstance(payload, Mapping) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, Mapping) else None
        raise ParameterError(f"{path} is not a Loupe upscale model of format {FORMAT}"
                             + (f" (it is {found}: train it again)" if found else ""))
    values = dict(payload["params"])
    values["scales"] = tuple(values["scales"])
    params = UpscaleTrainParams(**values)
    device = get_device()
    nets = {}
    for scale_text, state in payload["nets"].items():
        net = UpscaleNet(features=params.features, body_layers=params.body_layers, scale=float(scale_text))
        net.load_state_dict(state)
        nets[float(scale_text)] = net.to(device).eval()
    degradation = payload["degradation"]
    return TrainedUpscale(nets=nets, params=params, profile=lens.LensProfile.from_dict(payload["profile"]),
                          degradation=Degradation(camera_blur_px=float(degradation["camera_blur_px"]),
                                                  noise_sigma=tuple(degradation["noise_sigma"])),
                          lineage=dict(payload["lineage"]), held_out=dict(payload["held_out"]))


# ------------------------------------------------------------------------------------------ training

#: One clip's sampled frames for training: ``(name, [(frame_number, float32 [H, W, 3] 0..1), …])``.
ClipFrames = tuple[str, Sequence[tuple[int, np.ndarray]]]


def _split(clips: Sequence[ClipFrames], held_out_fraction: float) -> tuple[list, list]:
    train, held = [], []
    for _, frames in clips:
        keep = max(1, len(frames) - max(1, round(len(frames) * held_out_fraction))) if held_out_fraction > 0 \
            else len(frames)
        train += [f for _, f in frames[:keep]]
        held += [f for _, f in frames[keep:]]
    return train, held


def _pairs(frames: Sequence[np.ndarray], degradation: Degradation, scale: float, seed: int,
           area_share: float = 0.0):
    """(low, high) pairs, the high frame cropped so that ``scale`` maps pixel grids exactly; a
    share ``area_share`` of them (drawn by ``seed``) downscaled by plain area resampling instead
    of the camera's degradation."""
    unit = 3 if scale == 1.5 else max(1, round(scale))
    plain = np.random.default_rng(seed).random(len(frames)) < area_share
    pairs = []
    for i, frame in enumerate(frames):
        height, width = (frame.shape[0] // unit) * unit, (frame.shape[1] // unit) * unit
        high = np.ascontiguousarray(frame[:height, :width])
        low = (cv2.resize(high, (round(width / scale), round(height / scale)), interpolation=cv2.INTER_AREA)
               if plain[i] else degradation.degrade(high, scale, seed=seed + i))
        pairs.append((low, high))
    return pairs


def _crop(pairs, scale: float, low_px: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random (low, high) patch pair, ``low_px`` square at the low resolution, on grids that
    ``scale`` maps exactly (even low-resolution offsets)."""
    low, high = pairs[int(rng.integers(0, len(pairs)))]
    high_px = round(low_px * scale)
    y = 2 * int(rng.integers(0, (low.shape[0] - low_px) // 2 + 1))
    x = 2 * int(rng.integers(0, (low.shape[1] - low_px) // 2 + 1))
    hy, hx = round(y * scale), round(x * scale)
    return low[y:y + low_px, x:x + low_px], high[hy:hy + high_px, hx:hx + high_px]


def _fit_linear(net: UpscaleNet, pairs, scale: float, low_px: int, rng: np.random.Generator,
                device: torch.device) -> None:
    """Set ``net``'s linear stage to bicubic plus the least-squares filters (module docstring)
    on about :data:`LINEAR_SAMPLES` low-resolution pixels of ``pairs``, with the body at zero.

    Per output channel the unknowns are one T×T filter per output phase and input channel
    (4 · 3 · T² of them), the target r = truth − resampled bicubic of that channel. The resample
    acts on each channel alike, so one normal matrix AᵀA serves the three output channels:
    AᵀA w_c = Aᵀr_c, accumulated in float64 over patches, each column of A the output of one
    filter tap of one phase and input channel (all linear, resample included). A 6-pixel border
    of each patch is left out; a small ridge (:data:`LINEAR_RIDGE` of the mean diagonal) pulls towards bicubic
    and keeps the solve defined on flat footage."""
    taps = LINEAR_TAPS * LINEAR_TAPS
    half = LINEAR_TAPS // 2
    unknowns = 4 * 3 * taps
    one_hot = torch.eye(taps, device=device).reshape(taps, 1, LINEAR_TAPS, LINEAR_TAPS)
    ata = torch.zeros(unknowns, unknowns, dtype=torch.float64, device=device)
    atr = torch.zeros(unknowns, 3, dtype=torch.float64, device=device)
    border = 6
    bicubic = bicubic_kernel().to(device)
    with torch.no_grad():
        for _ in range(max(1, LINEAR_SAMPLES // (low_px * low_px))):
            low, high = _crop(pairs, scale, low_px, rng)
            x = torch.from_numpy(np.ascontiguousarray(low.transpose(2, 0, 1)))[None].to(device)
            y = torch.from_numpy(np.ascontiguousarray(high.transpose(2, 0, 1)))[None].to(device)
            size = tuple(y.shape[2:])
            h, w = x.shape[2:]
            padded = F.pad(x, (half, half, half, half), mode="replicate")
            base = net.resample(F.pixel_shuffle(F.conv2d(padded, bicubic), 2), size)
            residual = (y - base)[0, :, border:-border, border:-border].reshape(3, -1).T  # [pixels, 3]
            shifted = F.conv2d(padded.reshape(3, 1, h + 2 * half, w + 2 * half), one_hot)  # [3, taps, h, w]
            columns = []
            for phase in range(4):
                placed = torch.zeros(3 * taps, 4, h, w, device=device)
                placed[:, phase] = shifted.reshape(3 * taps, h, w)
                image = F.pixel_shuffle(placed, 2)  # [3·taps, 1, 2h, 2w]
                image = net.resample(image, size)[:, 0, border:-border, border:-border]
                columns.append(image.reshape(3 * taps, -1))
            design = torch.cat(columns).double()  # [unknowns, pixels], ordered (phase, input channel, tap)
            ata += design @ design.T
            atr += design @ residual.double()
        ridge = LINEAR_RIDGE * float(ata.diagonal().mean()) + 1e-12
        solution = torch.linalg.solve(ata + ridge * torch.eye(unknowns, dtype=torch.float64, device=device), atr)
        # solution[(phase, c_in, ky, kx), c_out] → weight[c_out · 4 + phase, c_in, ky, kx]
        weight = solution.float().T.reshape(3, 4, 3, LINEAR_TAPS, LINEAR_TAPS).reshape(12, 3, LINEAR_TAPS, LINEAR_TAPS)
        net.linear.weight.copy_(bicubic + weight)


def evaluate(model_upscale: Callable[[np.ndarray, tuple[int, int]], np.ndarray],
             pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean PSNR (dB) of ``model_upscale(low, (W, H))`` against each pair's high frame."""
    return float(np.mean([psnr(model_upscale(low, high.shape[1::-1]), high) for low, high in pairs]))


def train_upscale(clips: Sequence[ClipFrames], *, params: UpscaleTrainParams | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  should_cancel: Callable[[], bool] | None = None) -> TrainedUpscale:
    """Train a production's upscale model on its own frames (module docstring).

    Args:
        clips: per clip, its name and sampled frames in time order (float32 [H, W, 3] RGB 0..1).
        params: :class:`UpscaleTrainParams` (defaults if None).
        progress: called with ``(done, total)`` steps over all scales.
        should_cancel: polled every 25 steps; True stops training.

    Returns:
        :class:`TrainedUpscale` with held-out figures (``psnr_model_db_x2``, ``psnr_lanczos_db_x2``, …).

    Raises:
        ParameterError: no frames, or frames smaller than a training patch.
        Cancelled: ``should_cancel`` answered True.
        engine.ops.lens.NoEdgesError: the frames hold no edges to measure the camera's sharpness.
    """
    params = params or UpscaleTrainParams()
    all_frames = [f for _, frames in clips for _, f in frames]
    if not all_frames:
        raise ParameterError("upscale training needs frames; none were given")
    smallest = min(min(f.shape[:2]) for f in all_frames)
    if smallest < params.patch_px:
        raise ParameterError(f"training frames must be at least {params.patch_px} pixels on each side, "
                             f"one is {smallest}")
    started = time.perf_counter()
    first_clip = [f for _, f in clips[0][1]]
    profile = lens.estimate_lens_profile(all_frames[:: max(1, len(all_frames) // 16)], grain_frames=first_clip[:3])
    degradation = Degradation.from_profile(profile)
    train_frames, held_frames = _split(clips, params.held_out_fraction)
    device = get_device()
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    total = params.iterations * len(params.scales)
    nets: dict[float, UpscaleNet] = {}
    held_out: dict[str, float] = {}
    for index, scale in enumerate(params.scales):
        pairs = _pairs(train_frames, degradation, scale, params.seed + 1000 * index, params.area_share)
        net = UpscaleNet(features=params.features, body_layers=params.body_layers, scale=scale).to(device)
        net.linear.weight.requires_grad_(False)  # the closed-form solve stays; the body learns what it leaves
        optimiser = torch.optim.Adam(net.body.parameters(), lr=params.learning_rate)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, params.iterations)
        low_px = 2 * round(params.patch_px / scale / 2)  # even, so that 1.5× grids stay exact
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"upscale training cancelled at step {index * params.iterations} of {total}")
        _fit_linear(net, pairs, scale, low_px, rng, device)
        net.train()
        for step in range(params.iterations):
            if should_cancel is not None and step % 25 == 0 and should_cancel():
                raise Cancelled(f"upscale training cancelled at step {index * params.iterations + step} of {total}")
            lows, highs = zip(*(_crop(pairs, scale, low_px, rng) for _ in range(params.batch_size)))
            batch_low = torch.from_numpy(np.stack(lows).transpose(0, 3, 1, 2).copy()).to(device)
            batch_high = torch.from_numpy(np.stack(highs).transpose(0, 3, 1, 2).copy()).to(device)
            if rng.random() < 0.5:  # flips: free augmentation (EDSR)
                batch_low, batch_high = batch_low.flip(3), batch_high.flip(3)
            loss = F.mse_loss(net(batch_low), batch_high)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            if progress is not None and (step + 1) % 25 == 0:
                progress(index * params.iterations + step + 1, total)
        nets[scale] = net.eval()
        if held_frames:
            trained = TrainedUpscale(nets={scale: nets[scale]}, params=params, profile=profile,
                                     degradation=degradation, lineage={}, held_out={})
            held_pairs = _pairs(held_frames, degradation, scale, params.seed + 7919 + 1000 * index, params.area_share)
            name = f"x{scale:g}"
            held_out[f"psnr_model_db_{name}"] = round(evaluate(trained.upscale, held_pairs), 3)
            held_out[f"psnr_lanczos_db_{name}"] = round(evaluate(lanczos, held_pairs), 3)
    lineage = {
        "clips": [{"clip": name, "frames": [n for n, _ in frames]} for name, frames in clips],
        "held_out_fraction": params.held_out_fraction,
        "training_frames": len(train_frames), "held_out_frames": len(held_frames),
        "device": str(device), "training_seconds": round(time.perf_counter() - started, 1),
        "method": "engine.models.upscale — least-squares linear filters (RAISR, Romano et al. 2017) and an "
                  "ESPCN-style residual network (Shi et al. 2016, Lim et al. 2017) on pairs degraded with the "
                  "footage's own blur and noise (ZSSR, Shocher et al. 2018)",
    }
    return TrainedUpscale(nets=nets, params=params, profile=profile, degradation=degradation,
                          lineage=lineage, held_out=held_out)

"""Inpainting model: a small gated-convolution network learned from a production's own frames.

For the pixels of a removal that no frame of the shot reveals, the classical fill is a spatial
diffusion from the hole's edge (:func:`engine.ops.fusion.diffusion_fill`: Telea 2004 and
Navier–Stokes). This model learns, from the production's own dailies and nothing else (no
pretrained weights), to correct that fill: its input is the frame with the hole blacked out,
the hole mask and the diffusion fill; its output a residual added to the diffusion fill inside
the hole. Architecture: an encoder–decoder of gated convolutions (Yu et al., "Free-Form Image
Inpainting with Gated Convolution", ICCV 2019 — DeepFill v2), with dilated gated convolutions
at 1/4 resolution for context (Iizuka et al. 2017), ~60 k parameters: it learns a
correction of a good prior, not a picture from nothing, so it trains in minutes on a CPU.

Training: random crops of the production's frames (scaled to at most
:attr:`InpaintTrainParams.max_side` pixels along the longer side, the scale the model is then
applied at), holes drawn by the free-form stroke generator of DeepFill v2 (random brush strokes
of random width, vertices and angles) mixed with LaMa's wide masks (Suvorov et al., "Resolution-
robust Large Mask Inpainting with Fourier Convolutions", WACV 2022: thick strokes and boxes),
L1 loss inside the hole, Adam. A share of the frames (every ``heldout_every``-th sampled one)
is held out; after training, the in-hole PSNR of the model and of the classical fill are
measured on them with fixed masks, and stored with the model: the removal uses the model only
when it beats the classical fill on its own production's held-out frames.

Frames are float32 RGB in their clip's encoding, value 0..1 for integer sources (code /
(2^n − 1)); the device is :func:`engine.device.get_device` (CUDA when present).
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.device import get_device
from engine.errors import Cancelled, ParameterError
from engine.media.decode import FrameSource
from engine.ops.fusion import diffusion_fill
from engine.models.params import InpaintTrainParams  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

#: Format tag of the saved file (``torch.save`` of a dict of tensors and plain values).
FORMAT = "loupe-inpaint-1"


class GatedConv(nn.Module):
    """Gated convolution (Yu et al. 2019): ELU(features) · sigmoid(gate), both from one conv."""

    def __init__(self, c_in: int, c_out: int, *, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 2 * c_out, 3, stride=stride, padding=dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        return F.elu(features) * torch.sigmoid(gate)


class InpaintNet(nn.Module):
    """Encoder–decoder of gated convolutions, light enough to train on a CPU.

    Input float32 [B, 7, H, W] (H, W multiples of 4): the frame with the hole set to 0 (3), the
    hole (1, 1 = unknown), the diffusion fill (3). It is encoded at 1/2 and 1/4 resolution,
    given context by dilated gated convolutions (dilations 2, 4, 8) at 1/4, decoded to 1/2 and
    brought to full resolution, where one convolution over it and the input gives the output
    float32 [B, 3, H, W]: the residual added to the diffusion fill inside the hole (tanh, ±1).
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.down1 = GatedConv(7, w, stride=2)
        self.down2 = GatedConv(w, 2 * w, stride=2)
        self.context = nn.Sequential(*(GatedConv(2 * w, 2 * w, dilation=d) for d in (2, 4, 8)))
        self.up = GatedConv(2 * w + w, w)
        self.out = nn.Conv2d(w + 7, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.down1(x)
        quarter = self.context(self.down2(half))
        up = F.interpolate(quarter, size=half.shape[-2:], mode="bilinear", align_corners=False)
        half = self.up(torch.cat([up, half], 1))
        full = F.interpolate(half, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return torch.tanh(self.out(torch.cat([full, x], 1)))


def free_form_mask(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """bool [H, W]: a random free-form hole — DeepFill v2's brush strokes (Yu et al. 2019,
    Algorithm 1: 1–4 strokes of 4–12 vertices, random angles, lengths and widths), or LaMa's
    wide masks (Suvorov et al. 2022: thick strokes, or 1–3 boxes), half and half."""
    mask = np.zeros((height, width), np.uint8)
    side = min(height, width)
    if rng.random() < 0.5:
        for _ in range(rng.integers(1, 5)):
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            brush = int(rng.uniform(0.03, 0.12) * side) + 1
            for _ in range(rng.integers(4, 13)):
                angle = rng.uniform(0, 2 * np.pi)
                length = rng.uniform(0.05, 0.3) * side
                nx = float(np.clip(x + length * np.cos(angle), 0, width - 1))
                ny = float(np.clip(y + length * np.sin(angle), 0, height - 1))
                cv2.line(mask, (round(x), round(y)), (round(nx), round(ny)), 1, brush)
                x, y = nx, ny
    elif rng.random() < 0.5:
        for _ in range(rng.integers(1, 4)):
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            for _ in range(rng.integers(1, 5)):
                angle = rng.uniform(0, 2 * np.pi)
                length = rng.uniform(0.1, 0.4) * side
                nx, ny = x + length * np.cos(angle), y + length * np.sin(angle)
                cv2.line(mask, (round(x), round(y)), (round(nx), round(ny)), 1, int(rng.uniform(0.1, 0.25) * side))
                x, y = nx, ny
    else:
        for _ in range(rng.integers(1, 4)):
            w, h = rng.uniform(0.15, 0.5) * width, rng.uniform(0.15, 0.5) * height
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            mask[round(y):round(y + h), round(x):round(x + w)] = 1
    return mask > 0


def _pad4(size: int) -> int:
    return (size + 3) // 4 * 4


def _inputs(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """float32 [7, H, W] network input for one float32 [H, W, 3] image (0..1) and bool hole."""
    prior = diffusion_fill(image, hole, white=1.0)
    masked = np.where(hole[..., None], 0, image)
    return np.concatenate([masked, hole[..., None].astype(np.float32), prior], axis=2).transpose(2, 0, 1)


@dataclass
class InpaintModel:
    """A trained inpainting model with its lineage and held-out figures.

    Attributes:
        net: the :class:`InpaintNet` (eval mode, on its device).
        max_side: the longer side (pixels) of the frames it was trained at; it is applied there.
        lineage: what it learned from — ``clips`` (paths and frame numbers trained on and held
            out), ``params``, ``device``, ``training_seconds``, ``steps_done``.
        heldout: ``psnr_model_db``, ``psnr_classical_db`` (in-hole PSNR on the held-out frames,
            the same masks for both), ``frames``, ``beats_classical`` (bool as 0/1).
    """

    net: InpaintNet
    max_side: int
    lineage: dict = field(default_factory=dict)
    heldout: dict = field(default_factory=dict)

    @property
    def beats_classical(self) -> bool:
        """True when the model's held-out in-hole PSNR is above the classical fill's."""
        return bool(self.heldout.get("beats_classical"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model (a temporary file renamed into place: never half-written)."""
        path = Path(path)
        temporary = path.with_name(path.name + ".part")
        torch.save({"format": FORMAT, "width": self.net.out.in_channels - 7, "max_side": self.max_side,
                    "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
                    "lineage": self.lineage, "heldout": self.heldout}, temporary)
        os.replace(temporary, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> InpaintModel:
        """Read a model written by :meth:`save` (``torch.load(weights_only=True)``: no code runs).

        Raises:
            ParameterError: the file is missing or not an inpainting model.
        """
        path = Path(path)
        if not path.is_file():
            raise ParameterError(f"inpainting model {path} does not exist")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a foreign file
            raise ParameterError(f"{path} is not a Loupe inpainting model: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ParameterError(f"{path} is not a Loupe inpainting model (format {FORMAT} expected)")
        net = InpaintNet(int(data["width"]))
        net.load_state_dict(data["state_dict"])
        net.to(get_device()).eval()
        return cls(net=net, max_side=int(data["max_side"]), lineage=data["lineage"], heldout=data["heldout"])

    @torch.no_grad()
    def fill(self, frame: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """The model's fill of ``hole`` in ``frame``.

        The hole's bounding box, grown by half its size (context), is scaled to the model's
        training scale (``max_side`` over the frame's longer side), filled, and scaled back.

        Args:
            frame: float32 [H, W, 3], 0..1 (the clip's encoding; values outside are clipped
                for the network's input only).
            hole: bool [H, W].

        Returns:
            float32 [H, W, 3]; equal to ``frame`` outside ``hole``.
        """
        out = frame.astype(np.float32).copy()
        if not hole.any():
            return out
        height, width = hole.shape
        ys, xs = np.nonzero(hole)
        grow_y, grow_x = max(8, (ys.max() - ys.min()) // 2), max(8, (xs.max() - xs.min()) // 2)
        y0, y1 = max(0, ys.min() - grow_y), min(height, ys.max() + 1 + grow_y)
        x0, x1 = max(0, xs.min() - grow_x), min(width, xs.max() + 1 + grow_x)
        crop, crop_hole = np.clip(out[y0:y1, x0:x1], 0, 1), hole[y0:y1, x0:x1]
        scale = min(1.0, self.max_side / max(height, width))
        size = (max(4, round((x1 - x0) * scale)), max(4, round((y1 - y0) * scale)))
        small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if scale < 1 else crop
        small_hole = (cv2.resize(crop_hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
                      if scale < 1 else crop_hole)
        x = _inputs(small, small_hole)
        ph, pw = _pad4(x.shape[1]), _pad4(x.shape[2])
        x = np.pad(x, ((0, 0), (0, ph - x.shape[1]), (0, pw - x.shape[2])), mode="edge")
        device = next(self.net.parameters()).device
        tensor = torch.from_numpy(np.ascontiguousarray(x))[None].to(device)
        residual = self.net(tensor)[0, :, :small.shape[0], :small.shape[1]].cpu().numpy().transpose(1, 2, 0)
        filled = x[4:7, :small.shape[0], :small.shape[1]].transpose(1, 2, 0) + residual
        if scale < 1:
            filled = cv2.resize(filled, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        region = out[y0:y1, x0:x1]
        region[crop_hole] = filled[crop_hole]
        return out


def _scaled(frame: np.ndarray, max_side: int) -> np.ndarray:
    scale = min(1.0, max_side / max(frame.shape[:2]))
    if scale == 1.0:
        return frame
    size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _collect(shots: Sequence[FrameSource], params: InpaintTrainParams, check) -> tuple[list, list, list]:
    """(training frames, held-out frames, lineage per clip): float32 [h, w, 3] 0..1 frames."""
    train, held, lineage = [], [], []
    for shot in shots:
        step = max(1, len(shot) // params.frames_per_clip)
        used, kept = [], []
        for index, (number, frame) in enumerate(shot.frames(step=step, as_float=True)):
            if index >= params.frames_per_clip:
                break
            check(f"while reading {shot.path.name} frame {number}")
            frame = _scaled(np.asarray(frame, np.float32), params.max_side)
            if index % params.heldout_every == params.heldout_every - 1:
                held.append(frame)
                kept.append(number)
            else:
                train.append(frame)
                used.append(number)
        lineage.append({"clip": str(shot.path), "trained_frames": used, "heldout_frames": kept})
    if not train or not held:
        raise ParameterError("inpainting training needs at least one training and one held-out frame; "
                             "give longer clips or raise frames_per_clip")
    return train, held, lineage


def _batch(frames: list[np.ndarray], params: InpaintTrainParams, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    inputs, targets, holes = [], [], []
    side = params.crop_px
    for _ in range(params.batch):
        frame = frames[rng.integers(len(frames))]
        if min(frame.shape[:2]) < side:
            frame = cv2.resize(frame, (max(side, frame.shape[1]), max(side, frame.shape[0])))
        y = rng.integers(frame.shape[0] - side + 1)
        x = rng.integers(frame.shape[1] - side + 1)
        crop = np.clip(frame[y:y + side, x:x + side], 0, 1)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = np.ascontiguousarray(crop)
        hole = free_form_mask(side, side, rng)
        if not hole.any():
            hole[side // 2, side // 2] = True
        inputs.append(_inputs(crop, hole))
        targets.append(crop.transpose(2, 0, 1))
        holes.append(hole[None].astype(np.float32))
    return tuple(torch.from_numpy(np.stack(a)) for a in (inputs, targets, holes))


def _psnr(squared: float, count: int) -> float:
    return 10 * math.log10(count / max(squared, 1e-12))


def train_inpaint(
    shots: Sequence[FrameSource],
    params: InpaintTrainParams | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> InpaintModel:
    """Train an inpainting model on a production's clips (see the module docstring).

    Args:
        shots: the production's clips (frame ranges); frames are sampled evenly from each.
        params: :class:`InpaintTrainParams`; defaults when None.
        progress: ``progress(step, steps)`` every 10 steps and at the end (the last call may
            come early when the time budget ends the training).
        should_cancel: polled every step; True stops training with :class:`Cancelled`.

    Returns:
        :class:`InpaintModel` with ``lineage`` and ``heldout`` figures filled in.

    Raises:
        ParameterError: no clips, or too few frames for a held-out share.
        FrameSourceError: a clip cannot be decoded.
        Cancelled: ``should_cancel()`` returned True.
    """
    params = params if params is not None else InpaintTrainParams()
    if not shots:
        raise ParameterError("inpainting training needs at least one clip")

    def check(where: str) -> None:
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"inpainting training cancelled {where}")

    started = time.perf_counter()
    train, held, clips = _collect(shots, params, check)
    reading_seconds = time.perf_counter() - started
    started = time.perf_counter()
    device = get_device()
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    net = InpaintNet(params.width).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=params.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, params.steps)
    cpu_started = time.process_time()
    steps_done = 0
    for step in range(params.steps):
        check(f"at step {step}")
        if step and time.perf_counter() - started > params.time_budget_s:
            log.info("inpainting training stopped by its time budget after %d steps", step)
            break
        inputs, targets, holes = (t.to(device) for t in _batch(train, params, rng))
        filled = inputs[:, 4:7] + net(inputs)
        loss = (torch.abs(filled - targets) * holes).sum() / (3 * holes.sum())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        steps_done = step + 1
        if progress is not None and (step % 10 == 9 or step == params.steps - 1):
            progress(step + 1, params.steps)
    net.eval()
    model = InpaintModel(net=net, max_side=params.max_side)
    model.heldout = measure_heldout(model, held, seed=params.seed + 1)
    model.lineage = {"clips": clips, "params": params.to_dict(), "device": str(device),
                     "reading_seconds": round(reading_seconds, 1),
                     "training_seconds": round(time.perf_counter() - started, 1),
                     "training_cpu_seconds": round(time.process_time() - cpu_started, 1), "steps_done": steps_done}
    log.info("inpainting model trained: %s", model.heldout)
    return model


def measure_heldout(model: InpaintModel, frames: list[np.ndarray], *, seed: int, holes_per_frame: int = 4) -> dict:
    """In-hole PSNR (dB, pooled squared error, 0..1 values) of the model and of the classical
    fill (:func:`engine.ops.fusion.diffusion_fill`) on ``frames`` with the same free-form masks.

    Returns:
        ``{"psnr_model_db", "psnr_classical_db", "frames", "beats_classical"}``.
    """
    rng = np.random.default_rng(seed)
    squared = {"model": 0.0, "classical": 0.0}
    count = 0
    for frame in frames:
        frame = np.clip(frame, 0, 1)
        for _ in range(holes_per_frame):
            hole = free_form_mask(*frame.shape[:2], rng)
            if not hole.any():
                continue
            for name, filled in (("model", model.fill(frame, hole)), ("classical", diffusion_fill(frame, hole, white=1.0))):
                squared[name] += float(((filled[hole] - frame[hole]) ** 2).sum())
            count += int(hole.sum()) * 3
    ours, classical = _psnr(squared["model"], count), _psnr(squared["classical"], count)
    return {"psnr_model_db": round(ours, 3), "psnr_classical_db": round(classical, 3), "frames": len(frames),
            "beats_classical": int(ours > classical)}

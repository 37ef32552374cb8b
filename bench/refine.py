"""Object removal: would a per-production refinement network earn its place? (prints; not a test)

    .venv/bin/python bench/refine.py [--sequence tennis] [--donor schoolgirls] [--mask-sets 3] [--steps 1500]

The optional learned stage of object removal: a small network trained on the production's own
frames with synthetic masks, used only if it beats the classical pipeline (engine.fixes.remove) on
that production's held-out frames. This bench runs that rule end to end on the hardest pair of
``bench/inpaint.py`` (tennis hidden by the schoolgirls' moving masks) and prints the verdict:

1. **The production's frames** are the sequence with the donor's masks blacked out, as in the
   video-completion protocol: nothing under them reaches training.
2. **Synthetic masks**: ``--mask-sets`` sets of the donor's masks, shifted in time and across
   the frame (every other set mirrored). The classical removal runs with real ∪ synthetic masks
   and no regrain (the network would refine the fill before grain is added); where only a
   synthetic mask lies, the production shows the truth.
3. **The network**: a three-level U-Net (~100 k parameters) whose input is the classical fill,
   Telea's fill (cv2.inpaint) of the same hole, the hole, and the frames 3 before and after as
   they show (black where their own holes are); it predicts a correction of the classical fill.
   L1 loss on the synthetic-only pixels of 96×96 crops, Adam, frames of the first 75 % only.
4. **The rule**: PSNR on the synthetic-only pixels of the held-out last 25 % of the frames,
   classical against refined; the network is used only if it is higher.
5. For information, the whole-frame PSNR of the real protocol against the truth, with and
   without the network.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

import inpaint as protocol  # noqa: E402  (bench/inpaint.py: the video-completion protocol's helpers)

from engine.fixes.remove import RemovalParams  # noqa: E402
from engine.media.decode import FrameSource  # noqa: E402
from engine.ops import region  # noqa: E402

NEIGHBOUR_OFFSET = 3
CROP = 96
TRAIN_SHARE = 0.75


class RefinementNet(nn.Module):
    """A three-level U-Net predicting a correction of the classical fill (channels 0–2 of its input)."""

    def __init__(self, channels: int, width: int = 32) -> None:
        super().__init__()
        self.level1 = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
                                    nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.level2 = nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
                                    nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU())
        self.level3 = nn.Sequential(nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
                                    nn.Conv2d(2 * width, 2 * width, 3, padding=2, dilation=2), nn.ReLU())
        self.up2 = nn.Sequential(nn.Conv2d(4 * width, 2 * width, 3, padding=1), nn.ReLU())
        self.up1 = nn.Sequential(nn.Conv2d(3 * width, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 3, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.level1(x)
        b = self.level2(a)
        c = F.interpolate(self.level3(b), size=b.shape[-2:], mode="bilinear", align_corners=False)
        b = F.interpolate(self.up2(torch.cat([b, c], 1)), size=a.shape[-2:], mode="bilinear", align_corners=False)
        return x[:, :3] + self.up1(torch.cat([a, b], 1))


def classical(shown: list[np.ndarray], masks: list[np.ndarray]) -> list[np.ndarray]:
    """The engine's removal of ``masks`` from the frames as the production shows them, no regrain."""
    with tempfile.TemporaryDirectory(prefix="loupe-bench-") as folder:
        frames_dir = protocol.write_hidden(Path(folder), shown, [np.zeros_like(m) for m in masks])
        filled, _, _ = protocol.engine_fill(frames_dir, len(shown), masks.__getitem__, RemovalParams(regrain=False))
    return filled


def features(filled: list[np.ndarray], holes: list[np.ndarray], shown: list[np.ndarray], t: int) -> np.ndarray:
    """float32 [H, W, 15]: the network's input for frame t (see the module docstring)."""
    hole = holes[t]
    channels = [filled[t] / 255.0, cv2.inpaint(filled[t], hole.astype(np.uint8), 3, cv2.INPAINT_TELEA) / 255.0,
                hole[..., None]]
    for n in (t - NEIGHBOUR_OFFSET, t + NEIGHBOUR_OFFSET):
        n = min(max(n, 0), len(filled) - 1)
        visible = ~holes[n][..., None]
        channels += [shown[n] / 255.0 * visible, visible]
    return np.concatenate(channels, axis=2).astype(np.float32)


def pooled_psnr(outputs, references, where) -> float:
    squared = sum(((o.astype(np.float64) - r) ** 2)[w].sum() for o, r, w in zip(outputs, references, where))
    count = 3 * sum(int(w.sum()) for w in where)
    return 10 * np.log10(255 ** 2 * count / max(squared, 1e-9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequence", default="tennis")
    parser.add_argument("--donor", default="schoolgirls")
    parser.add_argument("--mask-sets", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    margin = RemovalParams().margin_px
    count = min(len(FrameSource(protocol.VOS / args.sequence / "frames")),
                len(FrameSource(protocol.VOS / args.donor / "masks")))
    truth = protocol.load(args.sequence, count)
    donor = [m for _, m in region.MaskFolder(protocol.VOS / args.donor / "masks").masks(range(count))]
    hidden = [region.dilate(m, margin) for m in donor]
    shown = [np.where(h[..., None], 0, frame).astype(np.uint8) for frame, h in zip(truth, hidden)]
    print(f"== per-production refinement: {args.sequence} hidden by the masks of {args.donor}, {count} frames "
          f"({protocol.load_average()})")

    started = time.perf_counter()
    sets = []
    for number in range(args.mask_sets):
        offset, shift = int(rng.integers(5, count - 5)), int(rng.integers(-120, 120))
        synthetic = [np.roll(donor[(t + offset) % count][:, ::-1] if number % 2 == 0 else donor[(t + offset) % count],
                             shift, axis=1) for t in range(count)]
        masks = [a | b for a, b in zip(donor, synthetic)]
        holes = [region.dilate(m, margin) for m in masks]
        only = [region.dilate(s, margin) & ~h for s, h in zip(synthetic, hidden)]
        filled = classical(shown, masks)
        sets.append(([features(filled, holes, shown, t) for t in range(count)], filled, holes, only))
    real_filled = classical(shown, donor)
    print(f"classical removals: {args.mask_sets} synthetic mask sets and the real one in "
          f"{time.perf_counter() - started:.0f} s")

    split = int(count * TRAIN_SHARE)
    net = RefinementNet(channels=sets[0][0][0].shape[2])
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)
    started = time.perf_counter()
    for step in range(args.steps):
        inputs, targets, weights = [], [], []
        while len(inputs) < 8:
            feats, _, _, only = sets[int(rng.integers(len(sets)))]
            t = int(rng.integers(split))
            ys, xs = np.nonzero(only[t])
            if not len(ys):
                continue
            k = int(rng.integers(len(ys)))
            y0 = int(np.clip(ys[k] - CROP // 2, 0, only[t].shape[0] - CROP))
            x0 = int(np.clip(xs[k] - CROP // 2, 0, only[t].shape[1] - CROP))
            box = (slice(y0, y0 + CROP), slice(x0, x0 + CROP))
            inputs.append(feats[t][box])
            targets.append(shown[t][box] / 255.0)
            weights.append(only[t][box][..., None])
        x, y, w = (torch.from_numpy(np.stack(a).astype(np.float32)).permute(0, 3, 1, 2) for a in (inputs, targets, weights))
        loss = ((net(x) - y).abs() * w).sum() / (3 * w.sum())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 250 == 0 or step == args.steps - 1:
            print(f"  step {step:5d}: L1 {loss.item():.4f} ({time.perf_counter() - started:.0f} s)")

    def refine(feats: np.ndarray, filled: np.ndarray, hole: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = net(torch.from_numpy(feats).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
        return np.where(hole[..., None], np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8), filled)

    for label, frames in (("training frames", range(split)), ("held-out frames", range(split, count))):
        plain, refined, references, where = [], [], [], []
        for feats, filled, holes, only in sets:
            for t in frames:
                plain.append(filled[t])
                refined.append(refine(feats[t], filled[t], holes[t]))
                references.append(shown[t])
                where.append(only[t])
        print(f"{label:16s} synthetic holes: classical {pooled_psnr(plain, references, where):.2f} dB, refined "
              f"{pooled_psnr(refined, references, where):.2f} dB")
        if label == "held-out frames":
            gain = pooled_psnr(refined, references, where) - pooled_psnr(plain, references, where)
            print(f"verdict: {'use the network' if gain > 0 else 'keep the classical fill'} ({gain:+.2f} dB on held-out frames)")
    real_refined = [refine(features(real_filled, hidden, shown, t), real_filled[t], hidden[t]) for t in range(count)]
    for label, outputs in (("classical", real_filled), ("refined", real_refined)):
        psnr = np.mean([peak_signal_noise_ratio(t, o, data_range=255) for t, o in zip(truth, outputs)])
        print(f"real protocol, whole frames against the truth: {label} {psnr:.2f} dB")


if __name__ == "__main__":
    main()

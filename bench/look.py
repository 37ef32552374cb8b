"""Speed of applying a look, and of training one (prints; not a test).

    .venv/bin/python bench/look.py [--seconds 3]

Frames/s applying the real 33³ Lustre grade (footage/luts/ocio_lustre_33x33x33.3dl) to
8-bit 1080p and 2160p frames made from real footage, in one run: the engine's path
(engine.ops.lut3d.DenseLut8), a NumPy/OpenCV trilinear baseline, OpenColorIO's own uint8
CPU processor, and a plain memory copy (the ceiling) — with ratios to OpenColorIO. Then
the time to train a look model from 10 1080p frame pairs.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.media.decode import FrameSource  # noqa: E402
from engine.models.look import LookTrainParams, _decimate, fit_lut, select_frames  # noqa: E402
from engine.ops.lut3d import DenseLut8, load_look  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")


def numpy_trilinear(table: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Baseline: trilinear interpolation of a [N, N, N, 3] table, vectorised NumPy."""
    n = table.shape[0]
    pos = frame.reshape(-1, 3).astype(np.float32) * ((n - 1) / 255.0)
    low = np.minimum(pos.astype(np.int32), n - 2)
    f = pos - low
    r, g, b = low[:, 0], low[:, 1], low[:, 2]
    fr, fg, fb = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    c00 = table[r, g, b] * (1 - fr) + table[r + 1, g, b] * fr
    c10 = table[r, g + 1, b] * (1 - fr) + table[r + 1, g + 1, b] * fr
    c01 = table[r, g, b + 1] * (1 - fr) + table[r + 1, g, b + 1] * fr
    c11 = table[r, g + 1, b + 1] * (1 - fr) + table[r + 1, g + 1, b + 1] * fr
    out = (c00 * (1 - fg) + c10 * fg) * (1 - fb) + (c01 * (1 - fg) + c11 * fg) * fb
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8).reshape(frame.shape)


def rate(fn, frame, seconds):
    fn(frame)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn(frame)
        count += 1
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    transform = load_look(FOOTAGE / "luts" / "ocio_lustre_33x33x33.3dl")
    started = time.perf_counter()
    engine_table = DenseLut8.from_ocio(transform)
    print(f"engine table built in {time.perf_counter() - started:.2f} s (once per look)")
    lattice = transform.to_lut3d(33).table
    ocio = transform.uint8_processor()
    base = next(FrameSource(FOOTAGE / "clips" / "harmonizer_aerial_dusk_lowlight.mp4").frames())[1]
    for name, size in (("1080p", (1920, 1080)), ("2160p", (3840, 2160))):
        frame = cv2.resize(base, size, interpolation=cv2.INTER_CUBIC)

        def ocio_apply(f):
            out = f.copy()
            ocio.applyRGB(out)
            return out

        rates = {
            "engine (DenseLut8)": rate(engine_table.apply, frame, args.seconds),
            "numpy trilinear": rate(lambda f: numpy_trilinear(lattice, f), frame, args.seconds),
            "OpenColorIO CPU uint8": rate(ocio_apply, frame, args.seconds),
            "memory copy": rate(np.copy, frame, args.seconds),
        }
        reference = rates["OpenColorIO CPU uint8"]
        for label, value in rates.items():
            print(f"{name} {label:24s} {value:8.1f} frames/s  ×{value / reference:.2f} of OpenColorIO")
    # Training on 1080p pairs: 30 candidate frames (upscaled to 1920x1080 from real footage),
    # 10 chosen for colour coverage, then the global stage and the residual lattice.
    clip = FrameSource(FOOTAGE / "clips" / "sam2_05_default_juggle.mp4", 0, 240)
    frames = [cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_CUBIC) for n, f in clip.frames() if n % 8 == 0][:30]
    graded = DenseLut8.from_ocio(transform)
    params = LookTrainParams()
    started = time.perf_counter()
    sources = [_decimate(f, params.samples_per_side) for f in frames]
    chosen = select_frames(sources, params.frames_per_pair)
    source = np.concatenate([sources[i] for i in chosen])
    target = np.concatenate([_decimate(graded.apply(frames[i]), params.samples_per_side) for i in chosen])
    fit_lut(source, target, params)
    print(f"look model training on {len(chosen)} of {len(frames)} 1080p frame pairs (chosen for coverage): "
          f"{time.perf_counter() - started:.1f} s (decoding not included)")


if __name__ == "__main__":
    main()

"""Background replacement: matte error against ground truth and speed (prints; not a test).

    .venv/bin/python bench/matte.py [--frames 10]

Ground truth: the Harmonizer video's foreground and its soft matte (footage/matting/harmonizer_video)
composited over real green cloth (the green-screen clip's cloth, right of the performer) and over
the real pier plate (which is then the clean plate), at 960x540. Each engine matte is scored
(SAD in thousands, MSE × 10³, against the given matte) beside baselines measured on the same
frames: a plain threshold key (screen excess ≤ 0.05; CIELAB difference > 10 ΔE*ab), and the
engine's raw key without cleaning and guided-filter refinement. Temporal change is the mean
|α_t − α_(t−1)| of the matte against that of the ground truth (lower than the truth's means the
matte is damped, higher that it boils).

Speed: frames/s of the whole background replacement (key, refine, carry along flow, harmonise,
composite, light wrap, regrain) on 1280x720 frames of the real green-screen clip (scaled down from
its 1500x1080 and read back from PNG), wall clock and per CPU-second, with the load average; then
the same at the clip's own 1500x1080, decoded from the video, with the mattes handed to a sink as
the portal does.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.fixes import background as background_fix  # noqa: E402
from engine.media.decode import FrameSource  # noqa: E402
from engine.media.encode import FrameWriter  # noqa: E402
from engine.ops import matte  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
SIZE = (960, 540)


def errors(alpha: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    return np.abs(alpha - truth).sum() / 1000, ((alpha - truth) ** 2).mean() * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args()
    folder = FOOTAGE / "matting" / "harmonizer_video"

    def clip(name):
        return [cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA)
                for _, f in FrameSource(folder / f"{name}.mp4", first=10, stop=10 + args.frames).frames()]

    foregrounds, masks, plates = clip("foreground"), clip("mask"), clip("background")
    truths = [m[..., 0].astype(np.float32) / 255.0 for m in masks]
    screen = next(FrameSource(FOOTAGE / "matting" / "greenscreen_rpi" / "greenscreen_furhat_1_C_original.mp4",
                              first=100, stop=101).frames())[1]
    cloth = cv2.resize(np.ascontiguousarray(screen[:, 1000:1500]), SIZE, interpolation=cv2.INTER_AREA)

    def over(foreground, alpha, background):
        return (foreground * alpha[..., None] + background * (1 - alpha[..., None]) + 0.5).astype(np.uint8)

    def threshold_difference(shot, plate):
        lab = [cv2.cvtColor(f.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab) for f in (shot, plate)]
        return (np.linalg.norm(lab[0] - lab[1], axis=2) > 10).astype(np.float32)

    cases = {
        "green screen": (lambda f, a, p: over(f, a, cloth), lambda shot, p: matte.chroma_key(shot, "green"),
                         lambda shot, p: (matte.screen_excess(shot, "green") <= 0.05).astype(np.float32)),
        "clean plate": (lambda f, a, p: over(f, a, p), lambda shot, p: matte.difference_key(shot, p),
                        threshold_difference),
    }
    truth_change = np.mean([np.abs(a - b).mean() for a, b in zip(truths[1:], truths)])
    print(f"{'key':14s} {'method':22s} {'SAD':>7s} {'MSE':>7s} {'temporal change':>16s}")
    for name, (make, key, threshold) in cases.items():
        results = {"engine (refined, carried)": [], "engine raw key": [], "threshold key": []}
        mattes = {label: [] for label in results}
        sequence = matte.MatteSequence(carry=background_fix.BackgroundParams().temporal_carry)
        for foreground, truth, plate in zip(foregrounds, truths, plates):
            shot = make(foreground, truth, plate)
            raw = key(shot, plate)
            refined = sequence.add(shot, matte.refine(shot, matte.clean(raw)))
            for label, alpha in (("engine (refined, carried)", refined), ("engine raw key", raw),
                                 ("threshold key", threshold(shot, plate))):
                results[label].append(errors(alpha, truth))
                mattes[label].append(alpha)
        for label, values in results.items():
            sad, mse = np.mean(values, axis=0)
            change = np.mean([np.abs(a - b).mean() for a, b in zip(mattes[label][1:], mattes[label])])
            print(f"{name:14s} {label:22s} {sad:7.3f} {mse:7.3f} {change:16.4f}")
        print(f"{name:14s} {'(ground truth)':22s} {'':7s} {'':7s} {truth_change:16.4f}")

    with tempfile.TemporaryDirectory() as temporary:
        shot = Path(temporary) / "shot"
        with FrameWriter(shot) as writer:
            source = FrameSource(FOOTAGE / "matting" / "greenscreen_rpi" / "greenscreen_furhat_1_C_original.mp4",
                                 first=0, stop=args.frames)
            for number, frame in source.frames():
                writer.write(number, cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_AREA))
        background = FrameSource(FOOTAGE / "matting" / "background_matting_v1" / "target_background")
        wall, cpu = time.perf_counter(), time.process_time()
        result = background_fix.run(shot=FrameSource(shot), reference=background, sink=lambda *a: None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"\nspeed at 1280x720 (green screen, every step): {result.frame_count / wall:.2f} frames/s wall clock, "
          f"{result.frame_count / cpu:.2f} frames per CPU-second; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    native = FrameSource(FOOTAGE / "matting" / "greenscreen_rpi" / "greenscreen_furhat_1_C_original.mp4",
                         first=0, stop=args.frames)
    wall, cpu = time.perf_counter(), time.process_time()
    result = background_fix.run(shot=native, reference=background, sink=lambda *a: None, matte_sink=lambda *a: None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    size = f"{native.clip_probe.width}x{native.clip_probe.height}"
    print(f"speed at {size} (the clip's own size, decoded from the video, mattes to a sink): "
          f"{result.frame_count / wall:.2f} frames/s wall clock, {result.frame_count / cpu:.2f} frames per "
          f"CPU-second; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

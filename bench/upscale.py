"""Upscale and reframe: learned super-resolution against classical baselines in the same run
(prints; not a test).

    .venv/bin/python bench/upscale.py [--split evaluation|tuning] [--iterations 2000] [--frames-per-clip 16]
        [--model var/bench_upscale/model_evaluation.pt [--signature-only]]

Every run that trains saves its model as var/bench_upscale/model_<split>.pt. ``--model FILE``
reuses such a file instead of training (no training time is measured; training is seeded, so a
file from an earlier run of the same split and options is the model that run trained and its
PSNR figures are that run's); ``--signature-only`` then skips the PSNR, warping-error and speed
parts and measures the reframe signature alone (for developing the lens and grain steps: one
training takes ~9 min on this CPU).

Footage: the clips of a split, each brought to 864×480 (INTER_AREA from 720p/540p: the
"production's" frames, written once as 8-bit PNGs under var/bench_upscale/). Splits:

- TUNING (constants of engine.models.upscale and of this bench were chosen on it only):
  sam2_01_dog, sam2_03_blocks.
- EVALUATION (figures reported): sam2_02_cups, sam2_04_coffee, sam2_05_default_juggle, sam2_bedroom.

Split in time: one model per split is trained on frames sampled from the first 70 % of each
clip; it is evaluated on frames from the last 20 %, never seen. Each evaluation frame is
degraded 2× and 1.5× with the production's degradation model (blur from the footage's MTF50,
noise from its grain: engine.models.upscale.Degradation — estimated from the training frames,
not from the truth), and also by plain area resampling (a mismatched degradation, 2×), and
brought back to 864×480 by: bicubic, Lanczos-4, Lanczos-4 + unsharp mask (σ 1 px, amount 0.8),
and the model. Scores: PSNR (dB, RGB) and SSIM (Wang et al. 2004, luma) against the true frame.

Temporal stability: the warping error of Lai et al. 2018 (engine.ops.flow.warping_error; flow of
the true frames) of each method's output over consecutive held-out pairs, beside the truth's own.

Speed: frames/s of the model's 2× upscale to 1920×1080 (960×540 in), on this machine as loaded
(the load average is printed beside it), and frames per CPU-second of the bench's process (with
--threads 1: the wall-clock speed on one free core, other sessions' cache pressure aside).

Reframe signature: a 2× punch-in (box 216,120,432,240 → 864×480) of a held-out stretch of each
evaluation clip by engine.fixes.reframe (model + lens profile + regrain) and by plain Lanczos,
against the clip's own frames (the plate and the surrounding shot). What is measured, exactly:

- grain σ ratio: the same estimator on the same kind of pixels for both — Immerkær's deviation
  per luma bin and RGB channel over the flattest 30 % of the frame (engine.ops.grain.estimate_grain)
  on the 8-bit code values of the *first frame* of each: the plate's as stored (the production's
  frames are 8-bit PNGs, so its figure includes its own rounding), the reframe's as
  engine.fixes.reframe writes them for an 8-bit take (rounded from its float result, once, at
  the end), plain Lanczos's float result rounded the same way; RMS over the luma bins and
  channels both frames populate with ≥ 200 flat pixels (a bin with fewer borrows the frame's
  overall figure, which would compare different things). The printed plate σ is that
  estimator's mean over all bins and channels (float frames, exactly the 8-bit codes).
- grain power-spectrum distance: radially binned power spectrum of the high-pass residual of the
  flattest 32×32 blocks, Σ|P_out − P_plate| / ΣP_plate (float frames, the reframe's 8-bit codes).
- MTF50 ratio: engine.ops.lens.mtf50_of_frames of the three frames of each.

Targets (issue #26): 2× ≥ Lanczos + 1.5 dB on every evaluation clip; 1.5× ≥ Lanczos + 1 dB;
training < 15 min; ≥ 2 frames/s at 1080p; grain within 10 %, MTF50 within 15 %.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.fixes import reframe  # noqa: E402
from engine.media.decode import FrameSource  # noqa: E402
from engine.media.encode import FrameWriter  # noqa: E402
from engine.models import upscale  # noqa: E402
from engine.ops import flow, grain, lens  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
CACHE = Path(__file__).resolve().parents[1] / "var" / "bench_upscale"
SPLITS = {"tuning": ("sam2_01_dog", "sam2_03_blocks"),
          "evaluation": ("sam2_02_cups", "sam2_04_coffee", "sam2_05_default_juggle", "sam2_bedroom")}
SIZE = (864, 480)
TRAIN_END, EVAL_START = 0.7, 0.8
EVAL_FRAMES = 3  # held-out frames per clip, each with its next frame for the warping error
UNSHARP_AMOUNT = 0.8  # chosen on the tuning split
BOX = (216.0, 120.0, 432.0, 240.0)


def production_frames(name: str) -> Path:
    """The clip at 864×480 as a folder of 8-bit PNGs (made once)."""
    folder = CACHE / name
    if not folder.is_dir():
        source = FrameSource(FOOTAGE / "clips" / f"{name}.mp4")
        with FrameWriter(folder) as writer:
            for number, frame in source.frames():
                height = round(frame.shape[0] * SIZE[0] / frame.shape[1])
                small = cv2.resize(frame, (SIZE[0], height), interpolation=cv2.INTER_AREA)
                top = (height - SIZE[1]) // 2
                writer.write(number, np.ascontiguousarray(small[top:top + SIZE[1]]))
    return folder


def unsharp_lanczos(low: np.ndarray, size) -> np.ndarray:
    up = upscale.lanczos(low, size)
    return lens.sharpen(up, UNSHARP_AMOUNT)


def bicubic(low: np.ndarray, size) -> np.ndarray:
    return cv2.resize(low, size, interpolation=cv2.INTER_CUBIC)


def ssim(output: np.ndarray, truth: np.ndarray) -> float:
    grey = [cv2.cvtColor(np.clip(f, 0, 1).astype(np.float32), cv2.COLOR_RGB2GRAY) for f in (output, truth)]
    return float(structural_similarity(grey[0], grey[1], data_range=1.0))


def to8(frame: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(frame * 255), 0, 255).astype(np.uint8)


def grain_spectrum(frames) -> np.ndarray:
    """Radially binned power spectrum (8 bins) of the high-pass residual of the flattest blocks."""
    total = np.zeros(8)
    for frame in frames:
        grey = cv2.cvtColor(frame.astype(np.float32), cv2.COLOR_RGB2GRAY) * 255.0
        residual = grey - cv2.GaussianBlur(grey, (0, 0), 1.5)
        blocks = []
        for y in range(0, grey.shape[0] - 32, 32):
            for x in range(0, grey.shape[1] - 32, 32):
                blocks.append((np.abs(cv2.Sobel(grey[y:y + 32, x:x + 32], cv2.CV_32F, 1, 1)).mean(), y, x))
        blocks.sort()
        fy, fx = np.meshgrid(np.fft.fftfreq(32), np.fft.fftfreq(32), indexing="ij")
        radius = np.minimum((np.hypot(fy, fx) / 0.5 * 8).astype(int), 7)
        for _, y, x in blocks[:max(4, len(blocks) // 5)]:
            power = np.abs(np.fft.fft2(residual[y:y + 32, x:x + 32])) ** 2
            total += np.bincount(radius.ravel(), power.ravel(), minlength=8)[:8]
    return total / max(len(frames), 1)


def grain_bins(frames) -> tuple[np.ndarray, np.ndarray]:
    """Immerkær's deviation per luma bin and channel (engine.ops.grain, 8-bit code values) of
    the first frame as written in 8 bits, and its flat pixels per bin."""
    codes = np.clip(np.rint(frames[0] * 255.0), 0, 255).astype(np.uint8)
    return grain.estimate_grain(codes).sigma, grain.bin_pixels(codes)


def grain_ratio(output, plate) -> float:
    """Grain σ of the output over the plate's, like with like: the same estimator on the same
    8-bit codes, over the luma bins both populate (RMS over those bins and the channels)."""
    (sigma_out, count_out), (sigma_plate, count_plate) = output, plate
    common = (count_out >= 200) & (count_plate >= 200)
    if not common.any():
        return float("nan")
    return float(np.sqrt(np.mean(sigma_out[common] ** 2)) / max(np.sqrt(np.mean(sigma_plate[common] ** 2)), 1e-6))


def upscale_tables(model, names, held, threads: int) -> tuple[dict[str, tuple[float, str]], float]:
    """The PSNR/SSIM table, the warping errors and the speed (printed); returns the worst Δ model −
    Lanczos per case and the model's frames/s at 1080p output."""
    model_upscale = model.upscale
    methods = {"bicubic": bicubic, "lanczos": upscale.lanczos, "unsharp-lanczos": unsharp_lanczos,
               "model": model_upscale}
    cases = [("x2", 2.0, "camera"), ("x1.5", 1.5, "camera"), ("x2-area", 2.0, "area")]
    print("\nclip                      case      " + "  ".join(f"{m:>22}" for m in methods) + "   Δ model−lanczos dB")
    worst: dict[str, tuple[float, str]] = {}
    warp: dict[str, list[float]] = {m: [] for m in [*methods, "truth"]}
    for name in names:
        for case, scale, kind in cases:
            scores = {m: [] for m in methods}
            for index, pair in enumerate(held[name]):
                (_, truth), (_, truth_next) = pair
                h = (truth.shape[0] // 3) * 3 if scale == 1.5 else truth.shape[0]
                truths = [truth[:h], truth_next[:h]]
                if kind == "camera":
                    lows = [model.degradation.degrade(t, scale, seed=1000 + index * 2 + j) for j, t in enumerate(truths)]
                else:
                    lows = [cv2.resize(t, (round(t.shape[1] / scale), round(t.shape[0] / scale)),
                                       interpolation=cv2.INTER_AREA) for t in truths]
                size = truths[0].shape[1::-1]
                for method, function in methods.items():
                    outs = [function(low, size) for low in lows]
                    scores[method].append((upscale.psnr(outs[0], truths[0]), ssim(outs[0], truths[0])))
                    if case == "x2":
                        pair_flow = flow.flow_pair(to8(truths[0]), to8(truths[1]))
                        total, pixels = flow.warping_error(to8(outs[0]), to8(outs[1]), pair_flow)
                        warp[method].append(total / max(pixels, 1))
                        if method == "model":
                            total, pixels = flow.warping_error(to8(truths[0]), to8(truths[1]), pair_flow)
                            warp["truth"].append(total / max(pixels, 1))
            means = {m: np.mean(v, axis=0) for m, v in scores.items()}
            gain = means["model"][0] - means["lanczos"][0]
            print(f"{name:25} {case:8} " + "  ".join(f"{p:7.2f} dB SSIM {s:.4f}" for p, s in means.values())
                  + f"   {gain:+.2f}")
            if case not in worst or gain < worst[case][0]:
                worst[case] = (gain, name)
    print("\nwarping error ×1000 (Lai et al. 2018; 2× camera, mean over held-out pairs): "
          + ", ".join(f"{m} {np.mean(v) * 1000:.3f}" for m, v in warp.items()))

    low = cv2.resize(held[names[0]][0][0][1], (960, 540), interpolation=cv2.INTER_AREA)
    model_upscale(low, (1920, 1080))
    started, cpu_started = time.perf_counter(), time.process_time()
    runs = 3
    for _ in range(runs):
        model_upscale(low, (1920, 1080))
    fps = runs / (time.perf_counter() - started)
    cpu_fps = runs / max(time.process_time() - cpu_started, 1e-9)  # frames per CPU-second of this process
    lanczos_started = time.perf_counter()
    for _ in range(runs):
        upscale.lanczos(low, (1920, 1080))
    lanczos_fps = runs / (time.perf_counter() - lanczos_started)
    print(f"speed: model {fps:.2f} frames/s at 1920×1080 output (Lanczos {lanczos_fps:.1f}); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (target ≥ 2 frames/s); {cpu_fps:.2f} frames per "
          f"CPU-second of this process (threads {threads or 'default'}; with 1 thread, the frames/s of one "
          f"free core, others' cache pressure aside)")
    return worst, fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=SPLITS, default="evaluation")
    parser.add_argument("--iterations", type=int, default=2000, help="training steps per scale")
    parser.add_argument("--frames-per-clip", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch and OpenCV threads (0: their defaults); 1 on a machine loaded by others")
    parser.add_argument("--model", type=Path, default=None,
                        help="reuse this trained model file (a model_<split>.pt of an earlier run) instead of training")
    parser.add_argument("--signature-only", action="store_true",
                        help="with --model: only the reframe signature (no PSNR, warping error or speed)")
    args = parser.parse_args()
    if args.signature_only and args.model is None:
        parser.error("--signature-only needs --model (the signature is measured with a trained model)")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    names = SPLITS[args.split]
    print(f"split {args.split.upper()}: {', '.join(names)}  (TUNING split: {', '.join(SPLITS['tuning'])}; "
          f"EVALUATION split: {', '.join(SPLITS['evaluation'])})  load average {os.getloadavg()[0]:.1f}; "
          f"threads {args.threads or 'default'}", flush=True)
    folders = {name: production_frames(name) for name in names}
    clips, held = [], {}
    for name, folder in folders.items():
        source = FrameSource(folder)
        count = len(source)
        stop = int(count * TRAIN_END)
        step = max(1, stop // args.frames_per_clip)
        train = list(FrameSource(folder, first=0, stop=stop).frames(step=step, as_float=True))[:args.frames_per_clip]
        clips.append((name, train))
        first = int(count * EVAL_START)
        spacing = max(2, (count - 1 - first) // EVAL_FRAMES)
        held[name] = [(list(FrameSource(folder, first=n, stop=n + 2).frames(as_float=True)))
                      for n in range(first, count - 1, spacing)][:EVAL_FRAMES]
    params = upscale.UpscaleTrainParams(iterations=args.iterations, frames_per_clip=args.frames_per_clip,
                                        held_out_fraction=0.0)
    if args.model is not None:
        model = upscale.load(args.model)
        training_s = float("nan")
        print(f"model: {args.model} (reused, not trained in this run)")
    else:
        started = time.perf_counter()
        model = upscale.train_upscale(clips, params=params, progress=lambda done, total: print(
            f"training step {done}/{total}", file=sys.stderr, flush=True) if done % 100 == 0 else None)
        training_s = time.perf_counter() - started
        print(f"training: {training_s / 60:.1f} min for {args.iterations} steps × {len(params.scales)} scales, "
              f"{sum(len(f) for _, f in clips)} frames 864×480 (target < 15 min for 432×240 → 864×480); "
              f"camera blur σ {model.degradation.camera_blur_px:.2f} px, noise σ "
              f"{[round(v * 255, 2) for v in model.degradation.noise_sigma]} code values")
    worst: dict[str, tuple[float, str]] = {}
    fps = float("nan")
    if not args.signature_only:
        worst, fps = upscale_tables(model, names, held, args.threads)

    model_path = args.model
    if model_path is None:
        model_path = CACHE / f"model_{args.split}.pt"
        model.save(model_path)
    print("\nreframe 2× punch-in vs the plate:  clip  |  grain σ ratio  spectrum distance  MTF50 ratio  "
          "(reframe / plain Lanczos)")
    signature_worst = (0.0, "")
    for name in names:
        folder = folders[name]
        count = len(FrameSource(folder))
        first = int(count * EVAL_START)
        take = FrameSource(folder, first=first, stop=first + 3)
        plate = [f for _, f in take.frames(as_float=True)]
        outputs: list[np.ndarray] = []
        reframe.run(shot=take, params=reframe.ReframeParams(box=BOX, size=SIZE, model=str(model_path)),
                    sink=lambda _n, _b, after: outputs.append(after.astype(np.float32) / 255.0))
        plain = [reframe.render_frame(f, BOX, SIZE) for f in plate]
        plate_grain = lens.estimate_grain(plate).mean_sigma
        plate_bins = grain_bins(plate)
        plate_spectrum = grain_spectrum(plate)
        plate_mtf = lens.mtf50_of_frames(plate)
        row = []
        for frames in (outputs, plain):
            ratio = grain_ratio(grain_bins(frames), plate_bins)
            spectrum = grain_spectrum(frames)
            distance = float(np.abs(spectrum - plate_spectrum).sum() / max(plate_spectrum.sum(), 1e-9))
            try:
                mtf_ratio = lens.mtf50_of_frames([np.clip(f, 0, 1) for f in frames]) / plate_mtf
            except lens.NoEdgesError:
                mtf_ratio = float("nan")
            row.append((ratio, distance, mtf_ratio))
        (g, d, m), (pg, pd, pm) = row
        print(f"  {name:25} grain {g:.3f} / {pg:.3f}   spectrum {d:.3f} / {pd:.3f}   MTF50 {m:.3f} / {pm:.3f}"
              f"   (plate grain σ {plate_grain:.3f} code values)")
        miss = max(abs(g - 1) / 0.10, abs(m - 1) / 0.15)
        if miss >= signature_worst[0]:
            signature_worst = (miss, name)

    upscale_summary = "" if not worst else (
        f"worst 2× gain over Lanczos {worst['x2'][0]:+.2f} dB ({worst['x2'][1]}; target +1.5); worst 1.5× "
        f"{worst['x1.5'][0]:+.2f} dB ({worst['x1.5'][1]}; target +1.0); worst 2× on area-downscaled input "
        f"{worst['x2-area'][0]:+.2f} dB ({worst['x2-area'][1]}); training "
        f"{'not measured (model reused)' if args.model else f'{training_s / 60:.1f} min'}; "
        f"{fps:.2f} frames/s at 1080p; ")
    print(f"\nSUMMARY ({args.split}): {upscale_summary}worst reframe signature {signature_worst[1]} "
          f"({signature_worst[0]:.2f}× its tolerance)")


if __name__ == "__main__":
    main()

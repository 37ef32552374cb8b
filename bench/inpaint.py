"""Object removal: quality on the video-completion protocol, stability, speed and memory (prints; not a test).

    .venv/bin/python bench/remove.py [--frames 0] [--speed-frames 20] [--skip-memory]

1. **Video completion** (the protocol of the papers: FGVC, E2FGVI, ProPainter) on the real
   sequences ``footage/vos/{bmx-trees,tennis,schoolgirls}``: regions whose truth is known are
   hidden by moving masks borrowed from another sequence (dilated by the default margin;
   blacked out in the frames the engine reads), filled, and compared with the truth — PSNR and SSIM over whole frames (scikit-image),
   and the warping error of Lai et al. 2018 (flow and occlusions from the truth, ×10⁻³).
   Beside it, in the same run, per-frame ``cv2.inpaint`` (Telea 2004) on the same holes,
   and the published DAVIS figures of ProPainter (34.47 dB / 0.9776) and E2FGVI
   (33.01 dB / 0.9721) — measured by their authors on 50 DAVIS sequences at 432×240 with
   their own masks, so a guide, not a like-for-like comparison. Then the holes' PSNR split
   in two by the sequence's *own* object masks: what an object removal is for — the
   background behind the hidden region — and the sequence's own moving object where the
   borrowed masks hide it (no method that continues the background brings a hidden moving
   person back; the share of the error there says how much of the score it decides).
2. **Real object removal** on bmx-trees and tennis with their own masks: the warping error of
   the output inside the region against outside it (target: ratio ≤ 1.5); schoolgirls too, a
   locked-off shot whose fine detail (foliage, gravel) mostly stays put from frame to frame, so
   that grain added at its whole spatial deviation would boil.
   **Masks from outlines**: how much of each sequence's own object (its masks as truth) the
   outline a person draws — the convex hull of the mask — covers once tracked through the
   whole sequence (dilated by the default margin), drawn on the first frame only or on every
   tenth frame (keyframes, :func:`engine.ops.region.track_keyframes`: between two keyframes, both
   outlines), and what that costs: the hole's size against the object's.
3. **Speed** in frames/s at 432×240, 1280×720 and 1920×1080 (tennis, upscaled with its masks);
   target ≥ 2 frames/s at 432×240 on a 2-core machine.
4. **Peak memory** (ru_maxrss of a fresh process) of a 50-frame and a 150-frame clip (both
   longer than the 40-frame buffer): the ratio stays near 1 when frames are windowed.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.fixes import remove
from engine.media.decode import FrameSource
from engine.ops import flow, region

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or REPO.parent / "shared" / "footage")
VOS = FOOTAGE / "vos"
#: Each sequence is hidden by the moving masks of another, in a rotation; then the hard case
#: where the schoolgirls' four masks sweep over the tennis player: a removal continues the
#: background's motion into the hole, so the hidden parts of a *moving* player are not
#: brought back, while the truth has them (Telea smears the player's colours in from the edge).
PAIRS = (("bmx-trees", "schoolgirls"), ("tennis", "bmx-trees"), ("schoolgirls", "tennis"), ("tennis", "schoolgirls"))
PUBLISHED = {"ProPainter (published, DAVIS)": (34.47, 0.9776), "E2FGVI (published, DAVIS)": (33.01, 0.9721)}


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages: figures measured on a busy machine say so."""
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def load(sequence: str, count: int) -> list[np.ndarray]:
    source = FrameSource(VOS / sequence / "frames", 0, count or None)
    return [frame for _, frame in source.frames()]


def holes(sequence: str, count: int, margin_px: int) -> list[np.ndarray]:
    return [region.dilate(mask, margin_px) for _, mask in region.MaskFolder(VOS / sequence / "masks").masks(range(count))]


def engine_fill(frames_dir: Path, count: int, masks, params: remove.RemovalParams):
    outputs = []
    started = time.perf_counter()
    result = remove.run(shot=FrameSource(frames_dir, 0, count), params=params, masks=masks,
                         sink=lambda _n, _before, after: outputs.append(after))
    return outputs, result, time.perf_counter() - started


def write_hidden(folder: Path, truth: list[np.ndarray], hidden: list[np.ndarray]) -> Path:
    """The frames with their hidden regions blacked out, as the engine's input: nothing of
    the truth inside a hole reaches the method (not even its optical flow)."""
    for number, (frame, hole) in enumerate(zip(truth, hidden)):
        masked = frame.copy()
        masked[hole] = 0
        cv2.imwrite(str(folder / f"{number:05d}.png"), cv2.cvtColor(masked, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return folder


def telea_fill(frames, hole_list):
    return [cv2.inpaint(frame, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA) for frame, hole in zip(frames, hole_list)]


def warp_error(outputs, truth_pairs) -> float:
    """Lai et al. 2018: mean over frame pairs of the non-occluded mean squared warping error, ×10⁻³."""
    per_pair = []
    for index, pair in enumerate(truth_pairs):
        error, count = flow.warping_error(outputs[index], outputs[index + 1], pair)
        per_pair.append(error / max(count, 1))
    return 1000 * float(np.mean(per_pair))


def frame_psnr(outputs, truth) -> np.ndarray:
    """float [N]: PSNR (dB) of each output frame against its truth."""
    return np.array([peak_signal_noise_ratio(t, o, data_range=255) for o, t in zip(outputs, truth)])


def scores(outputs, truth, truth_pairs, psnr: np.ndarray):
    ssim = np.mean([structural_similarity(t, o, channel_axis=2, data_range=255) for o, t in zip(outputs, truth)])
    return float(psnr.mean()), ssim, warp_error(outputs, truth_pairs)


def split_psnr(outputs, truth, hidden, objects) -> dict[str, tuple[float, float]]:
    """PSNR (dB, pooled over every hole pixel of every frame) of the holes' background and of
    the holes' part the sequence's own object covers; and each part's share of the
    squared error."""
    squared = {"background": 0.0, "object": 0.0}
    pixels = {"background": 0, "object": 0}
    for output, frame, hole, obj in zip(outputs, truth, hidden, objects):
        error = ((output.astype(np.float64) - frame) ** 2).sum(axis=2)
        for part, where in (("background", hole & ~obj), ("object", hole & obj)):
            squared[part] += error[where].sum()
            pixels[part] += int(where.sum())
    total = sum(squared.values()) or 1.0
    return {part: (10 * np.log10(255 ** 2 * 3 * max(pixels[part], 1) / max(squared[part], 1e-9)),
                   squared[part] / total) for part in squared}


def completion(frames_wanted: int) -> None:
    print("== video completion: hidden regions with known truth (moving masks from another sequence)")
    print(f"{'sequence':12s} {'method':30s} {'PSNR dB':>8s} {'SSIM':>7s} {'E_warp e-3':>10s}")
    margin = remove.RemovalParams().margin_px
    for sequence, donor in PAIRS:
        count = min(len(FrameSource(VOS / sequence / "frames")), len(FrameSource(VOS / donor / "masks")))
        if frames_wanted:
            count = min(count, frames_wanted)
        truth = load(sequence, count)
        donor_masks = [mask for _, mask in region.MaskFolder(VOS / donor / "masks").masks(range(count))]
        truth_pairs = [flow.flow_pair(truth[i], truth[i + 1]) for i in range(count - 1)]
        hidden = [region.dilate(m, margin) for m in donor_masks]
        with tempfile.TemporaryDirectory(prefix="loupe-bench-") as folder:
            frames_dir = write_hidden(Path(folder), truth, hidden)
            filled, result, seconds = engine_fill(frames_dir, count, donor_masks.__getitem__, remove.RemovalParams())
        telea = telea_fill(truth, hidden)
        objects = holes(sequence, count, margin)
        splits = {"engine": split_psnr(filled, truth, hidden, objects),
                  "Telea": split_psnr(telea, truth, hidden, objects)}
        engine_psnr, telea_psnr = frame_psnr(filled, truth), frame_psnr(telea, truth)
        rows = {"engine (flow-guided)": scores(filled, truth, truth_pairs, engine_psnr),
                "cv2.inpaint Telea (per frame)": scores(telea, truth, truth_pairs, telea_psnr),
                "truth": (float("inf"), 1.0, warp_error(truth, truth_pairs))}
        for method, (psnr, ssim, warp) in rows.items():
            print(f"{sequence:12s} {method:30s} {psnr:8.2f} {ssim:7.4f} {warp:10.3f}   (masks of {donor})")
        for method, (psnr, ssim) in PUBLISHED.items():
            print(f"{sequence:12s} {method:30s} {psnr:8.2f} {ssim:7.4f} {'—':>10s}")
        gain = rows["engine (flow-guided)"][0] - rows["cv2.inpaint Telea (per frame)"][0]
        per_frame = engine_psnr - telea_psnr
        print(f"{sequence:12s} engine − Telea: {gain:+.2f} dB PSNR over {count} frames (better on "
              f"{100 * np.mean(per_frame > 0):.0f} % of them; per frame {per_frame.min():+.2f} to {per_frame.max():+.2f} dB); hole "
              f"{100 * result.measurements['hole_fraction_mean']:.1f} % of a frame; {count / seconds:.2f} frames/s "
              f"({load_average()})")
        for part, label in (("background", "background behind the hidden region"),
                            ("object", "sequence's own moving object hidden under them")):
            (engine_db, engine_share), (telea_db, _) = splits["engine"][part], splits["Telea"][part]
            print(f"{sequence:12s}   holes' {label}: engine {engine_db:.2f} dB, Telea {telea_db:.2f} dB "
                  f"({engine_db - telea_db:+.2f}); {100 * engine_share:.0f} % of the engine's squared error")


def removal(frames_wanted: int) -> None:
    print("\n== real object removal with the sequences' own masks: temporal stability (Lai et al. 2018)")
    for sequence in ("bmx-trees", "tennis", "schoolgirls"):
        count = len(FrameSource(VOS / sequence / "frames"))
        if frames_wanted:
            count = min(count, frames_wanted)
        params = remove.RemovalParams(mask_folder=str(VOS / sequence / "masks"))
        _, result, seconds = engine_fill(VOS / sequence / "frames", count, None, params)
        m = result.measurements
        verdict = "met" if m["warping_error_ratio"] <= 1.5 else "NOT met"
        print(f"{sequence:12s} warping error inside {1000 * m['warping_error_inside']:.3f}e-3, outside "
              f"{1000 * m['warping_error_outside']:.3f}e-3, ratio {m['warping_error_ratio']:.2f} (≤ 1.5: {verdict}); "
              f"filled by propagation {100 * m['filled_by_propagation_fraction']:.0f} %, from finished frames "
              f"{100 * m['filled_from_finished_frames_fraction']:.0f} %, spatially "
              f"{100 * m['filled_spatially_fraction']:.1f} % ({m['keyframes']:.0f} keyframes); grain σ "
              f"{m['grain_sigma_plate']:.2f}, changing from frame to frame {100 * m['grain_changing_share']:.0f} %, "
              f"added {m['grain_sigma_added']:.2f}; "
              f"{count / seconds:.2f} frames/s ({load_average()})")


def _hull(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return cv2.convexHull(np.stack([xs, ys], axis=1).astype(np.float32)).reshape(-1, 2)


def tracking() -> None:
    print("\n== masks from outlines: share of the object (its own masks) inside the tracked outline + margin")
    margin = remove.RemovalParams().margin_px
    for sequence in ("bmx-trees", "tennis", "schoolgirls"):
        shot = FrameSource(VOS / sequence / "frames")
        truth = dict(region.MaskFolder(VOS / sequence / "masks").masks(shot.frame_range))
        drawn = {number: _hull(truth[number]) for number in range(0, len(shot), 10) if truth[number].any()}
        for label, outlines in (("one outline, first frame", {min(drawn): drawn[min(drawn)]}),
                                (f"{len(drawn)} keyframes, every 10th", drawn)):
            started = time.perf_counter()
            tracked = region.track_keyframes(shot, outlines)
            rate = len(shot) / (time.perf_counter() - started)
            grown = {n: region.dilate(mask, margin) for n, mask in tracked.masks(shot.frame_range) if truth[n].any()}
            coverage = [(mask & truth[n]).sum() / truth[n].sum() for n, mask in grown.items()]
            size = np.mean([mask.sum() / truth[n].sum() for n, mask in grown.items()])
            print(f"{sequence:12s} {label:28s} mean {100 * np.mean(coverage):5.1f} %, worst frame "
                  f"{100 * np.min(coverage):5.1f} %; hole {size:.2f}x the object; tracked at {rate:.0f} frames/s")


def write_scaled(folder: Path, size: tuple[int, int], count: int) -> tuple[Path, Path]:
    """tennis frames and masks resized to ``size``, looped forwards and backwards to ``count``."""
    frames_dir, masks_dir = folder / "frames", folder / "masks"
    frames_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)
    frames = load("tennis", 0)
    masks = [m for _, m in region.MaskFolder(VOS / "tennis" / "masks").masks(range(len(frames)))]
    order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))
    for number in range(count):
        index = order[number % len(order)]
        frame = cv2.resize(frames[index], size, interpolation=cv2.INTER_CUBIC)
        mask = cv2.resize(masks[index].astype(np.uint8) * 255, size, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(frames_dir / f"{number:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_PNG_COMPRESSION, 1])
        cv2.imwrite(str(masks_dir / f"{number:05d}.png"), mask)
    return frames_dir, masks_dir


def speed(frames: int) -> None:
    print("\n== speed (tennis and its masks; 432x240 as shot, 720p and 1080p upscaled); wall-clock frames/s, "
          "and frames per second of this process's CPU time (all its threads added up: about what a quiet "
          "machine gives at least, since other work on a busy machine delays the wall clock, not the CPU time)")
    for label, size in (("432x240", (432, 240)), ("1280x720", (1280, 720)), ("1920x1080", (1920, 1080))):
        with tempfile.TemporaryDirectory(prefix="loupe-bench-") as folder:
            frames_dir, masks_dir = write_scaled(Path(folder), size, frames)
            started, cpu_started = time.perf_counter(), time.process_time()
            remove.run(shot=FrameSource(frames_dir), params=remove.RemovalParams(mask_folder=str(masks_dir)),
                        sink=lambda *_: None)
            rate = frames / (time.perf_counter() - started)
            cpu_rate = frames / (time.process_time() - cpu_started)
        target = f" (target ≥ 2: {'met' if rate >= 2 else 'NOT met'})" if label == "432x240" else ""
        print(f"{label:10s} {rate:6.2f} frames/s over {frames} frames{target}; {cpu_rate:6.2f} frames per CPU-second "
              f"({load_average()})")


def memory_child(folder: str) -> None:
    frames_dir = Path(folder) / "frames"
    remove.run(shot=FrameSource(frames_dir), params=remove.RemovalParams(mask_folder=str(Path(folder) / "masks")),
                sink=lambda *_: None)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def memory() -> None:
    print("\n== peak memory of one process (tennis, looped): a clip longer than the frame buffer (40 frames) "
          "against one 3x longer")
    peaks = {}
    for count in (50, 150):
        with tempfile.TemporaryDirectory(prefix="loupe-bench-") as folder:
            write_scaled(Path(folder), (432, 240), count)
            output = subprocess.run([sys.executable, __file__, "--child", folder], check=True,
                                    capture_output=True, text=True).stdout
            peaks[count] = float(output.strip().splitlines()[-1])
            print(f"{count:5d} frames of 432x240: peak RSS {peaks[count]:.0f} MiB ({load_average()})")
    print(f"peak memory 150 / 50 frames: {peaks[150] / peaks[50]:.2f}x (independent of length when near 1)")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        memory_child(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=0, help="frames per sequence (0 = all)")
    parser.add_argument("--speed-frames", type=int, default=20)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    completion(args.frames)
    removal(args.frames)
    tracking()
    speed(args.speed_frames)
    if not args.skip_memory:
        memory()


if __name__ == "__main__":
    main()

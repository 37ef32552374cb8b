"""Continuity check: precision and recall over real cases, and speed at 720p (prints; not a test).

    .venv/bin/python bench/continuity.py

The cases (tests/engine/continuity_cases.py) are pairs of takes cut from real clips, with a
real object pasted into one take (appeared, disappeared, moved — at a known box), a real
exposure change (light), or nothing changed but camera motion and people moving. A finding is a
true positive when its kind is the expected one and, for objects, its box overlaps the known
box with IoU ≥ 0.5; every other finding is a false positive.

Baseline, measured in the same run: a plain frame difference — B's middle frame against A's
middle frame aligned by the same homography, CIELAB ΔE*ab over the same threshold, regions of
the same minimum size — with no plates, no moving mask, no colour normalisation and no parallax
tolerance; it reports every region as a finding (kind unknown; it counts for recall when a
region's box overlaps the known box with IoU ≥ 0.5, and for a light change when it covers over
a quarter of the frame).

Speed: frames of both takes covered per second (every frame decoded, ``samples`` of each take
analysed) on two 60-frame takes of sam2_05_default_juggle.mp4 at 1280x720.
"""
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "engine"))

from continuity_cases import CASES, iou, make_case  # noqa: E402

from engine.fixes import continuity  # noqa: E402
from engine.media.decode import FrameSource  # noqa: E402
from engine.ops.align import align_to_shot  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")


def baseline(take_a: Path, take_b: Path, params: continuity.ContinuityParams) -> list[tuple[int, int, int, int]]:
    """Boxes of a plain aligned frame difference (see the module docstring)."""
    frames_a = [f for _, f in FrameSource(take_a).frames()]
    frames_b = [f for _, f in FrameSource(take_b).frames()]
    key = frames_b[len(frames_b) // 2]
    alignment = align_to_shot(key, frames_a[len(frames_a) // 2])
    if alignment is None:
        return []
    lab = [cv2.cvtColor(f.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab) for f in (alignment.warped, key)]
    differs = ((np.linalg.norm(lab[0] - lab[1], axis=2) > params.difference_threshold) & alignment.valid)
    count, _, stats, _ = cv2.connectedComponentsWithStats(differs.astype(np.uint8))
    min_area = params.min_area_fraction * key.shape[0] * key.shape[1]
    return [tuple(int(v) for v in stats[i, :4]) for i in range(1, count) if stats[i, 4] >= min_area]


def main() -> None:
    params = continuity.ContinuityParams()
    tallies = {"engine": [0, 0, 0], "frame difference": [0, 0, 0]}  # true positives, false positives, expected
    print(f"{'case':28s} {'expected':12s} {'engine findings':48s} {'frame difference'}")
    with tempfile.TemporaryDirectory() as folder:
        for index, case in enumerate(CASES):
            take_a, take_b, box = make_case(FOOTAGE, case, Path(folder) / str(index))
            result = continuity.run(shot=FrameSource(take_b), reference=FrameSource(take_a), params=params)
            expected = 1 if case.kind else 0
            hits = [f for f in result.findings
                    if f.kind == case.kind and (case.kind == "light" or iou(f.box, box) >= 0.5)]
            tp = min(1, len(hits))
            tallies["engine"][0] += tp
            tallies["engine"][1] += len(result.findings) - tp
            tallies["engine"][2] += expected
            boxes = baseline(take_a, take_b, params)
            frame_area = 270 * 480
            base_hits = [b for b in boxes if (case.kind == "light" and b[2] * b[3] > frame_area / 4)
                         or (case.kind not in (None, "light") and iou(b, box) >= 0.5)]
            base_tp = min(1, len(base_hits))
            tallies["frame difference"][0] += base_tp
            tallies["frame difference"][1] += len(boxes) - base_tp
            tallies["frame difference"][2] += expected
            shown = ", ".join(f"{f.kind} {f.box} {f.confidence:.2f}" for f in result.findings) or "—"
            print(f"{case.name:28s} {str(case.kind):12s} {shown:48s} {len(boxes)} regions, {base_tp} hit")
    print()
    for name, (tp, fp, expected) in tallies.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / expected if expected else 1.0
        print(f"{name:18s} precision {precision:.2f}  recall {recall:.2f}  ({tp} true, {fp} false findings, "
              f"{expected} changes made)")

    clip = FOOTAGE / "clips" / "sam2_05_default_juggle.mp4"
    take_a, take_b = FrameSource(clip, first=0, stop=60), FrameSource(clip, first=120, stop=180)
    started, cpu = time.perf_counter(), time.process_time()
    result = continuity.run(shot=take_b, reference=take_a, params=params)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"\nspeed at 1280x720: two 60-frame takes checked in {elapsed:.1f} s = "
          f"{120 / elapsed:.1f} frames/s, {120 / cpu:.1f} per CPU-second ({len(result.findings)} findings); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

"""Continuity check: is each change named right, and does its mask cover the whole object
(prints; not a test).

    .venv/bin/python bench/continuity.py

Cases (tests/engine/continuity_cases.py): on each of five real clips, take A is a stretch of the
clip and take B the same stretch seen with a small camera shift, then one change — a real object
(cut out of another real picture along its real mask: matting/harmonizer_images, vos/schoolgirls)
that **appeared** in B, **disappeared** from B, or **moved**; a **light** change (B exposed 0.68
stop brighter); or nothing (**clean shift**; **clean noise**, B with sensor-like noise).

Splits: the constants of engine.fixes.continuity and engine.ops.change were chosen on the TUNING
scenes only; the EVALUATION scenes judge them.

Per case: the kind of the most confident finding (clean: right when there is no finding at all),
and for objects the IoU of the finding's mask with the object's true mask in B's framing (moved:
the smaller of the IoU where it is in B and where it was in A). Targets: every kind right, mask
IoU ≥ 0.7, no finding on clean takes.

Baseline in the same run (classical, the rule the check used before): a plain thresholded
difference — B's middle frame against A's middle frame aligned by the same feature homography,
CIELAB ΔE*ab over the same threshold, regions of the same minimum size; the largest region is
the finding, ``appeared`` when it stands out from a ring around it more in B than in A, else
``disappeared`` (a plain difference has no notion of "moved"); ``light`` when the mean
luminance differs by more than the same number of stops (then no region). Its mask is the region.

Speed: frames of both takes covered per second (every frame decoded, ``samples`` of each take
analysed) on two 60-frame takes of sam2_05_default_juggle.mp4 at 1280x720.
"""
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "engine"))

from continuity_cases import CASES, EVALUATION, TUNING, make_case, mask_iou  # noqa: E402

from engine.fixes import continuity  # noqa: E402
from engine.media.decode import FrameSource  # noqa: E402
from engine.ops.align import align_to_shot  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
OBJECT_KINDS = ("appeared", "disappeared", "moved")


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _contrast_to_ring(lab: np.ndarray, region: np.ndarray) -> float:
    ring = cv2.dilate(region.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~region
    if not ring.any():
        return 0.0
    inside, outside = lab[region], lab[ring]
    return float(np.linalg.norm(inside.mean(axis=0) - outside.mean(axis=0)) + inside.std(axis=0).mean())


def baseline(take_a: Path, take_b: Path, params: continuity.ContinuityParams) -> tuple[str | None, np.ndarray | None]:
    """(kind, mask) of a plain aligned frame difference (see the module docstring)."""
    frames_a = [f for _, f in FrameSource(take_a).frames()]
    frames_b = [f for _, f in FrameSource(take_b).frames()]
    key = frames_b[len(frames_b) // 2]
    alignment = align_to_shot(key, frames_a[len(frames_a) // 2])
    if alignment is None:
        return None, None
    lab_a, lab_b = _lab(alignment.warped), _lab(key)
    luminance = [float(np.mean(lab[..., 0][alignment.valid])) for lab in (lab_a, lab_b)]
    # L* to relative luminance (CIE 1976 inverse, above the linear toe), then stops.
    y_a, y_b = (((value + 16) / 116) ** 3 for value in luminance)
    if abs(math.log2(y_b / y_a)) > params.exposure_threshold_stops:
        return "light", None
    differs = (np.linalg.norm(lab_a - lab_b, axis=2) > params.difference_threshold) & alignment.valid
    count, labels, stats, _ = cv2.connectedComponentsWithStats(differs.astype(np.uint8))
    min_area = params.min_area_fraction * key.shape[0] * key.shape[1]
    regions = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= min_area]
    if not regions:
        return None, None
    region = labels == max(regions, key=lambda i: stats[i, cv2.CC_STAT_AREA])
    kind = "appeared" if _contrast_to_ring(lab_b, region) >= _contrast_to_ring(lab_a, region) else "disappeared"
    return kind, region


def main() -> None:
    params = continuity.ContinuityParams()
    rows = []
    print(f"{'case':26s} {'split':10s} {'expected':11s} | {'engine findings':46s} {'kind':5s} {'IoU':>5s} "
          f"| {'difference':11s} {'kind':5s} {'IoU':>5s}")
    with tempfile.TemporaryDirectory() as folder:
        for index, case in enumerate(CASES):
            split = "tuning" if case.scene.name in TUNING else "evaluation"
            assert case.scene.name in TUNING + EVALUATION
            made = make_case(FOOTAGE, case, Path(folder) / str(index))
            result = continuity.run(shot=FrameSource(made.take_b), reference=FrameSource(made.take_a), params=params)
            top = result.findings[0] if result.findings else None
            if case.kind is None:
                right = not result.findings
            else:
                right = top is not None and top.kind == case.kind
            score = None
            if case.kind in OBJECT_KINDS:
                score = mask_iou(top.mask, made.mask_b) if right else 0.0
                if right and case.kind == "moved":
                    score = min(score, mask_iou(top.mask_a, made.mask_a))
            base_kind, base_mask = baseline(made.take_a, made.take_b, params)
            base_right = base_kind == case.kind
            base_score = (mask_iou(base_mask, made.mask_b) if base_right else 0.0) if case.kind in OBJECT_KINDS else None
            shown = ", ".join(f"{f.kind} {f.confidence:.2f}" for f in result.findings) or "none"
            print(f"{case.name:26s} {split:10s} {str(case.kind):11s} | {shown[:46]:46s} {'right' if right else 'WRONG':5s} "
                  f"{'' if score is None else f'{score:.3f}':>5s} | {str(base_kind):11s} "
                  f"{'right' if base_right else 'WRONG':5s} {'' if base_score is None else f'{base_score:.3f}':>5s}",
                  flush=True)
            rows.append((case, split, right, score, base_right, base_score))

    print()
    for split in ("tuning", "evaluation"):
        mine = [r for r in rows if r[1] == split]
        objects = [r for r in mine if r[0].kind in OBJECT_KINDS]
        print(f"{split:10s} engine: kinds right {sum(r[2] for r in mine)}/{len(mine)}, object mask IoU mean "
              f"{np.mean([r[3] for r in objects]):.3f} min {min(r[3] for r in objects):.3f}, "
              f"IoU >= 0.7 in {sum(r[3] >= 0.7 for r in objects)}/{len(objects)} | difference: kinds right "
              f"{sum(r[4] for r in mine)}/{len(mine)}, IoU mean {np.mean([r[5] for r in objects]):.3f}")
    worst = min(rows, key=lambda r: (r[2], r[3] if r[3] is not None else 1.0))
    print(f"worst case (engine): {worst[0].name} ({worst[1]}): kind {'right' if worst[2] else 'wrong'}"
          + (f", mask IoU {worst[3]:.3f}" if worst[3] is not None else ""))

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

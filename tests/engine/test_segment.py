"""Video object segmentation (engine.ops.segment) on a real DAVIS sequence, and its command line."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import ParameterError
from engine.media.decode import FrameSource
from engine.ops import region, segment

REPO = Path(__file__).resolve().parents[2]
FRAMES = 10


def _truth(footage: Path, name: str, count: int = FRAMES) -> list[np.ndarray]:
    return [(m > 127).any(axis=2) for _, m in FrameSource(footage / "vos" / name / "masks", stop=count).frames()]


def _jaccard(mask: np.ndarray, truth: np.ndarray) -> float:
    return float((mask & truth).sum() / (mask | truth).sum())


def test_mask_follows_the_player_better_than_the_still_mask(footage):
    shot = FrameSource(footage / "vos" / "tennis" / "frames", stop=FRAMES)
    truth = _truth(footage, "tennis")
    masks = dict(segment.Segmentation(shot, {0: truth[0]}).masks(shot.frame_range))

    assert sorted(masks) == list(range(FRAMES))
    assert np.array_equal(masks[0], truth[0])  # the keyframe keeps its own mask
    followed = np.mean([_jaccard(masks[n], truth[n]) for n in range(1, FRAMES)])
    still = np.mean([_jaccard(truth[0], truth[n]) for n in range(1, FRAMES)])
    assert followed > still + 0.05, (followed, still)


def test_a_subtract_stroke_takes_the_part_out_and_re_propagates_from_there(footage):
    shot = FrameSource(footage / "vos" / "schoolgirls" / "frames", stop=FRAMES)
    truth = _truth(footage, "schoolgirls")
    first = segment.Segmentation(shot, {0: truth[0]})
    before = dict(first.masks(shot.frame_range))
    stroke = np.zeros_like(truth[0])
    stroke[:, : truth[0].shape[1] // 2] = True  # the left half of the frame: two of the four girls

    corrected = first.correct(5, subtract=stroke)
    after = dict(corrected.masks(shot.frame_range))

    assert 5 in corrected.keyframes and 5 not in first.keyframes
    assert not (after[5] & stroke).any()
    assert before[5][stroke].sum() > 100
    # Frames after the stroke follow the corrected mask: the left half stays mostly empty.
    assert after[8][stroke].sum() < 0.3 * before[8][stroke].sum()
    # Frames before it blend towards the correction; frame 0 is still its keyframe.
    assert np.array_equal(after[0], truth[0])


def test_outlines_as_polygons_and_errors_name_the_problem(footage):
    shot = FrameSource(footage / "vos" / "tennis" / "frames", stop=4)
    square = [[150, 60], [200, 60], [200, 180], [150, 180]]
    mask = segment.keyframe_mask([square, [[10, 10], [30, 10], [30, 30]]], (240, 432))
    assert mask[100, 170] and mask[15, 25] and not mask[100, 100]
    with pytest.raises(ParameterError, match="outside the shot"):
        segment.Segmentation(shot, {7: square})
    with pytest.raises(ParameterError, match="at least 3"):
        segment.Segmentation(shot, {0: [[1, 2], [3, 4]]})
    with pytest.raises(ParameterError, match="at least one frame"):
        segment.Segmentation(shot, {})


def test_track_keyframes_keeps_working_beside_it(footage):
    shot = FrameSource(footage / "vos" / "tennis" / "frames", stop=4)
    tracked = region.track_keyframes(shot, {0: np.float32([[150, 60], [200, 60], [200, 180], [150, 180]])})
    assert sorted(n for n, _ in tracked.masks(shot.frame_range)) == [0, 1, 2, 3]


def _engine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def test_segment_command_writes_a_png_mask_per_frame(footage, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for number, frame in FrameSource(footage / "vos" / "tennis" / "frames", stop=6).frames():
        cv2.imwrite(str(frames / f"{number:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    outline = tmp_path / "player.json"
    contours, _ = cv2.findContours(_truth(footage, "tennis", 1)[0].astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    outline.write_text(json.dumps([c[:, 0, :].tolist() for c in contours]))
    out = tmp_path / "masks"

    done = _engine("segment", "--frames", str(frames), "--keyframe", "0", "--outline", str(outline), "--out", str(out))

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["frame_count"] == 6
    written = sorted(out.iterdir())
    assert [p.name for p in written] == [f"{n:06d}.png" for n in range(6)]
    image = cv2.imread(str(written[3]), cv2.IMREAD_UNCHANGED)
    assert image.shape[:2] == (240, 432) and set(np.unique(image)) <= {0, 255}
    assert 0.02 < (image > 127).mean() < 0.5
    # ... and remove --masks reads that folder as it is.
    assert sum(1 for _ in region.MaskFolder(out).masks(range(6))) == 6


def test_segment_command_rejects_an_outline_per_keyframe_mismatch(footage, tmp_path):
    outline = tmp_path / "bad.json"
    outline.write_text("{not json")
    frames = str(footage / "vos" / "tennis" / "frames")

    unpaired = _engine("segment", "--frames", frames, "--keyframe", "0", "--keyframe", "9", "--outline",
                       str(outline), "--out", str(tmp_path / "a"))
    bad = _engine("segment", "--frames", frames, "--keyframe", "0", "--outline", str(outline),
                  "--out", str(tmp_path / "b"))

    assert unpaired.returncode == 2 and "one --outline per --keyframe" in unpaired.stderr
    assert bad.returncode == 2 and "cannot read the outline" in bad.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()

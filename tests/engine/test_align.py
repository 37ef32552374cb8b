"""engine.ops.align and shot match with ``align``: when the reference is another angle of the same
setup (here a real clip seen through a tighter, shifted framing) in another grade, fitting on
aligned pixels recovers the grade better than fitting on whole-frame statistics."""
import numpy as np
import pytest
import torch

from engine.errors import ParameterError
from engine.fixes import match
from engine.media.decode import FrameSource, read_frame
from engine.media.encode import FrameWriter
from engine.ops.align import align_to_shot
from engine.ops.cielab import delta_e2000, srgb_to_lab
from engine.ops.lut3d import DenseLut8, load_look

CLIP = "sam2_02_cups.mp4"
FRAMES = 12


def tighter_angle(frame: np.ndarray) -> np.ndarray:
    """The same scene through a tighter, off-centre framing: a crop scaled back to full size."""
    import cv2

    height, width = frame.shape[:2]
    crop = frame[height // 8: height // 8 + height // 2, width // 3: width // 3 + width // 2]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)


def mean_delta_e(a: np.ndarray, b: np.ndarray) -> float:
    lab = lambda f: srgb_to_lab(torch.from_numpy(f.reshape(-1, 3)).float() / 255)  # noqa: E731
    return float(delta_e2000(lab(a), lab(b)).mean())


@pytest.fixture(scope="module")
def setup(footage, tmp_path_factory):
    """Shot: the real clip. Reference: its tighter angle through a real grade (ground truth: the
    shot through the same grade)."""
    grade = DenseLut8.from_ocio(load_look(footage / "luts" / "colour_Colour_Correct_foundry.cube"))
    folder = tmp_path_factory.mktemp("align") / "reference"
    with FrameWriter(folder) as writer:
        for number, frame in FrameSource(footage / "clips" / CLIP, 0, FRAMES).frames():
            writer.write(number, grade.apply(tighter_angle(frame)))
    return grade, FrameSource(footage / "clips" / CLIP, 0, FRAMES), FrameSource(folder)


def test_a_tighter_angle_aligns_onto_the_shot(setup, footage):
    grade, shot, reference = setup
    shot_frame = read_frame(shot.path, 4)
    alignment = align_to_shot(shot_frame, read_frame(reference.path, 4))
    assert alignment is not None and alignment.inliers >= 40
    # The aligned reference covers about the crop's share of the shot, and matches it there.
    assert 0.15 < alignment.valid.mean() < 0.3
    inside = alignment.valid
    assert mean_delta_e(alignment.warped[inside], grade.apply(shot_frame)[inside]) < 3.0


def test_aligned_fit_recovers_the_grade_better_than_whole_frame_statistics(setup):
    grade, shot, reference = setup
    errors = {}
    for align in (False, True):
        outputs = {}
        match.run(shot, reference, params=match.MatchParams(align=align),
                  sink=lambda number, before, after: outputs.__setitem__(number, (before, after)))
        errors[align] = np.mean([mean_delta_e(after, grade.apply(before)) for before, after in outputs.values()])
    print(f"mean ΔE2000 to the true grade: whole-frame fit {errors[False]:.2f}, aligned fit {errors[True]:.2f}")
    assert errors[True] < errors[False] - 0.5


def test_unrelated_shots_do_not_align(footage):
    shot = FrameSource(footage / "clips" / CLIP, 0, 8)
    other = FrameSource(footage / "clips" / "sam2_05_default_juggle.mp4", 0, 8)
    with pytest.raises(ParameterError, match="could not align"):
        match.run(shot, other, params=match.MatchParams(align=True), sink=lambda *frame: None)
    with pytest.raises(ParameterError, match="exclude each other"):
        match.MatchParams(align=True, pixels_correspond=True)

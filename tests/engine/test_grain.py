"""The regrain's rule (engine.ops.grain.regrain / regrain_gain), on real footage: the fill, as it
is written, read by the estimator the plate was read with, reads the plate's grain per luma bin
and channel; only the deficit is added; the float path is not rounded.
"""
import cv2
import numpy as np
import pytest

from engine.media.decode import FrameSource
from engine.ops import grain


def _first_frame(path) -> np.ndarray:
    """The clip's first frame brought to 864×486 by area resampling, as bench/upscale.py makes a
    production's frames (at 720p cups reads 0.01 code values: even a smooth upscale's rounding
    reads more, and then there is nothing to add)."""
    frame = next(FrameSource(path, 0, 1).frames())[1]
    return cv2.resize(frame, (864, 486), interpolation=cv2.INTER_AREA)


def _populated_rms(sigma: np.ndarray, counts: np.ndarray, other_counts: np.ndarray) -> tuple[float, np.ndarray]:
    common = (counts >= 200) & (other_counts >= 200)
    return float(np.sqrt(np.mean(sigma[common] ** 2))), common


def _punch_in(frame: np.ndarray) -> np.ndarray:
    """The centre half of a frame brought back to its size by Lanczos (float32 code values): a
    smooth upscale, what a reframe starts from."""
    height, width = frame.shape[:2]
    centre = frame[height // 4:height // 4 + height // 2, width // 4:width // 4 + width // 2]
    return cv2.resize(centre.astype(np.float32), (width, height), interpolation=cv2.INTER_LANCZOS4)


@pytest.mark.parametrize("clip", ["sam2_01_dog.mp4", "sam2_02_cups.mp4"])
def test_a_regrained_punch_in_as_written_reads_the_plates_grain(footage, clip):
    """dog carries grain (0.5 code values); cups is nearly grainless H.264 (0.07), below what the
    8-bit rounding of a smooth upscale reads on its own once grain is spread over it."""
    plate = _first_frame(footage / "clips" / clip)
    plate_grain = grain.estimate_grain(plate)
    fill = _punch_in(plate)
    whole = np.ones(plate.shape[:2], bool)
    out, added = grain.regrain(fill, whole, plate_grain, seed=3, quantised=True)
    assert out.dtype == np.float32 and added > 0
    written = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    read = grain.estimate_grain(written)
    out_rms, common = _populated_rms(read.sigma, grain.bin_pixels(written), grain.bin_pixels(plate))
    plate_rms, _ = _populated_rms(plate_grain.sigma, grain.bin_pixels(plate), grain.bin_pixels(written))
    assert common.any()
    assert abs(out_rms / plate_rms - 1) < 0.10, (clip, out_rms, plate_rms, read.sigma[common], plate_grain.sigma[common])


def test_the_float_path_is_not_rounded_and_outside_the_region_nothing_changes(footage):
    plate = _first_frame(footage / "clips" / "sam2_01_dog.mp4")
    fill = _punch_in(plate)
    region = np.zeros(plate.shape[:2], bool)
    region[100:400, 200:700] = True
    out, _ = grain.regrain(fill, region, grain.estimate_grain(plate), seed=1, quantised=True)
    assert out.dtype == np.float32
    assert np.array_equal(out[~region], fill[~region])
    assert np.any(out[region] != np.rint(out[region]))  # grain added in float, not stepped down to 8 bits


def test_nothing_is_added_where_the_fill_already_reads_as_much_as_the_plate(footage):
    """A fill noisier than the plate (the plate is nearly grainless cups; the fill is dog's
    grainy frame) gets no grain: the regrain adds the deficit, it never removes."""
    plate_grain = grain.estimate_grain(_first_frame(footage / "clips" / "sam2_02_cups.mp4"))
    noisy = _first_frame(footage / "clips" / "sam2_01_dog.mp4")
    noisy = np.clip(noisy + np.random.default_rng(5).normal(0, 2, noisy.shape) + 0.5, 0, 255).astype(np.uint8)
    whole = np.ones(noisy.shape[:2], bool)
    out, added = grain.regrain(noisy, whole, plate_grain, seed=2)
    assert out.dtype == np.uint8
    assert added == 0.0 and np.array_equal(out, noisy)

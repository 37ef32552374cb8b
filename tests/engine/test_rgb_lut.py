"""engine.ops.rgb_lut: the lazily filled 8-bit colour table is exact, not an approximation."""

import numpy as np
import pytest
import torch

from engine.media.decode import read_frame
from engine.ops.cielab import lab_to_srgb, srgb_to_lab
from engine.ops.rgb_lut import RgbLut8

# A warm, lifted CIELAB grade of the kind a shot match produces (scale and offset per channel).
SCALE = torch.tensor([0.81, 0.29, 1.04])
OFFSET = torch.tensor([23.0, 0.1, -5.6])


def _grade(rgb: torch.Tensor) -> torch.Tensor:
    return lab_to_srgb(srgb_to_lab(rgb) * SCALE + OFFSET)


def test_table_gives_the_same_pixels_as_evaluating_every_pixel(cups):
    table = RgbLut8(_grade, torch.device("cpu"))
    for number in (0, 150):
        frame = read_frame(cups, number)
        direct = torch.round(_grade(torch.from_numpy(frame).to(torch.float32) / 255.0) * 255.0)
        direct = direct.to(torch.uint8).numpy()

        looked_up = table.apply(frame)

        assert looked_up.shape == frame.shape and looked_up.dtype == np.uint8
        assert np.array_equal(looked_up, direct), f"frame {number}"
        assert not np.array_equal(looked_up, frame)


def test_each_distinct_colour_is_evaluated_once(cups):
    table = RgbLut8(_grade, torch.device("cpu"))
    frame = read_frame(cups, 0)
    distinct = np.unique(frame.reshape(-1, 3), axis=0).shape[0]

    table.apply(frame)
    assert table.colours_evaluated == distinct
    table.apply(frame)
    assert table.colours_evaluated == distinct


def test_frames_of_the_wrong_type_are_refused():
    table = RgbLut8(_grade, torch.device("cpu"))
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\]"):
        table.apply(np.zeros((4, 4, 3), dtype=np.float32))

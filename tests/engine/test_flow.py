"""engine.ops.flow on real footage: DIS flow brings the next frame onto this one, and the
forward–backward check marks the pixels it cannot trust."""
import numpy as np
import pytest

from engine.errors import ParameterError
from engine.media.decode import FrameSource
from engine.ops import flow


@pytest.fixture(scope="module")
def tennis_pair(tennis_frames):
    frames = dict(FrameSource(tennis_frames, first=20, stop=22).frames())
    return frames[20], frames[21]


def test_warping_the_next_frame_along_the_flow_reproduces_this_one(tennis_pair):
    a, b = tennis_pair
    pair = flow.flow_pair(a, b)
    warped = flow.warp(b, pair.forward)
    trusted = pair.forward_valid
    error_before = np.abs(a.astype(np.int16) - b).mean(axis=2)[trusted].mean()
    error_after = np.abs(a.astype(np.int16) - warped).mean(axis=2)[trusted].mean()
    # The player and camera move between frames: following the flow must explain most of it.
    assert error_after < 0.5 * error_before, (error_before, error_after)
    # Most of a frame is visible in the next one; the check must not throw everything away.
    assert 0.7 < trusted.mean() < 1.0


def test_consistency_rejects_a_flow_that_does_not_round_trip(tennis_pair):
    a, b = tennis_pair
    pair = flow.flow_pair(a, b)
    off_by_five = pair.backward + np.float32([5.0, 0.0])  # every return vector 5 px wrong
    assert flow.consistent(pair.forward, off_by_five).mean() < 0.1 < pair.forward_valid.mean()


def test_frames_of_different_sizes_are_refused(tennis_pair):
    a, b = tennis_pair
    with pytest.raises(ParameterError, match="differ in size"):
        flow.flow(a, b[:100])

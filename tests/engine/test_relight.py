"""engine.fixes.relight: a real shot pushed in exposure and white balance is brought back.

The push is made here from real clips: frames decoded, linearised (IEC 61966-2-1), scaled
by 2^stops and per-channel white-balance gains, re-encoded to 8 bits. The reference is the
unpushed clip, so pixels correspond and per-pixel ΔE2000 can be measured.
"""

import cv2
import numpy as np
import pytest

from engine.errors import ParameterError
from engine.fixes import relight
from engine.media.decode import FrameSource

# A warm cast, like tungsten against daylight; normalised to leave luminance (Rec.709 Y) alone,
from engine.media.encode import FrameWriter

# A warm cast, like tungsten against daylight; normalised to leave luminance (Rec.709 Y) alone,
# so the exposure push is exactly the stops asked for.
WHITE_BALANCE_GAINS = np.array([1.18, 1.0, 0.78]) / (np.array([0.2126, 0.7152, 0.0722]) @ [1.18, 1.0, 0.78])


def _linear(frame: np.ndarray) -> np.ndarray:
    c = frame / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _encode(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    srgb = np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)
    return np.round(srgb * 255.0).astype(np.uint8)


def _write_pushed(clip, first, stop, stops, tmp_path, width):
    """(reference folder, pushed folder): the clip downscaled to ``width``, as it is and pushed."""
    reference_dir, pushed_dir = tmp_path / "reference", tmp_path / "pushed"
    with FrameWriter(reference_dir) as reference, FrameWriter(pushed_dir) as pushed:
        for number, frame in FrameSource(clip, first, stop).frames():
            height = round(frame.shape[0] * width / frame.shape[1] / 2) * 2
            small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            reference.write(number, small)
            pushed.write(number, _encode(_linear(small) * 2.0**stops * WHITE_BALANCE_GAINS))
    return FrameSource(reference_dir), FrameSource(pushed_dir)


@pytest.mark.parametrize(
    ("clip_name", "stops"),
    [
        ("harmonizer_aerial_dusk_lowlight.mp4", +1.5),  # an underexposed dusk shot pushed up
        ("sam2_02_cups.mp4", -1.5),  # a daylight shot pushed down
    ],
)
def test_pushed_shot_is_brought_back_within_a_tenth_of_a_stop(footage, tmp_path, clip_name, stops):
    reference, pushed = _write_pushed(footage / "clips" / clip_name, 0, 24, stops, tmp_path, width=480)
    rendered = []
    result = relight.run(
        pushed,
        reference,
        params=relight.RelightParams(pixels_correspond=True),
        sink=lambda number, before, after: rendered.append(number),
    )
    m = result.measurements
    print(
        f"{clip_name} pushed {stops:+.1f} stops: corrected by {m['exposure_stops']:+.3f} stops, "
        f"ΔE2000 mean {m['delta_e2000_mean_before']:.2f} → {m['delta_e2000_mean']:.2f}, "
        f"p95 {m['delta_e2000_p95_before']:.2f} → {m['delta_e2000_p95']:.2f}, CDL {result.cdl.to_dict()}, "
        f"flicker added {m['flicker_added_l']:.4f} L*"
    )

    assert rendered == list(pushed.frame_range)
    assert m["delta_e2000_mean_before"] > 5.0, "the push must be visible, or the test proves nothing"
    assert abs(m["exposure_stops"] + stops) < 0.1
    assert m["delta_e2000_mean"] < 2.0
    # The warm cast is removed: the red slope is below the blue one, relative to green.
    assert result.cdl.slope[0] < result.cdl.slope[1] < result.cdl.slope[2]
    assert m["flicker_added_l"] < 0.1


def test_a_clip_against_itself_gets_the_identity_cdl(footage, tmp_path):
    reference, _ = _write_pushed(footage / "clips" / "sam2_01_dog.mp4", 0, 6, 0.0, tmp_path, width=320)
    identical = []
    result = relight.run(reference, reference, params=relight.RelightParams(pixels_correspond=True),
                         sink=lambda n, before, after: identical.append(np.abs(after.astype(int) - before).max()))
    assert result.cdl.slope == pytest.approx((1.0, 1.0, 1.0), abs=1e-6)
    assert result.cdl.power == pytest.approx((1.0, 1.0, 1.0), abs=1e-6)
    assert max(identical) <= 1  # one code of rounding through linear light at most
    assert result.measurements["delta_e2000_mean"] < 0.3  # a few codes off by one, nothing visible


def test_cdl_round_trips_and_writes_asc_xml():
    cdl = relight.Cdl(slope=(1.2, 1.0, 0.8), offset=(0.0, 0.01, 0.0), power=(1.1, 1.1, 1.1), saturation=0.9)
    assert relight.Cdl.from_dict(cdl.to_dict()) == cdl
    xml = cdl.to_cc_xml("SC012_0040")
    assert "<Slope>1.200000 1.000000 0.800000</Slope>" in xml and "<Saturation>0.900000</Saturation>" in xml


def test_relight_parameters_round_trip_and_refuse_unknown_keys():
    params = relight.RelightParams(smoothing_frames=12, match_contrast=False)
    assert relight.RelightParams.from_dict(params.to_dict()) == params
    with pytest.raises(ParameterError, match="unknown relight parameter"):
        relight.RelightParams.from_dict({"exposure": 1})
    with pytest.raises(ParameterError, match="smoothing_frames"):
        relight.RelightParams(smoothing_frames=-1)

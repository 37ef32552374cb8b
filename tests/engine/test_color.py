"""engine.fixes.match: shot match on two real clips shot under different light.

Shot: sam2_02_cups (cool outdoor shade); reference: sam2_04_coffee (warm indoor light).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import PyOpenColorIO as ocio
import pytest
import torch

from engine.errors import Cancelled, ParameterError
from engine.fixes import match
from engine.media.decode import FrameSource
from engine.ops.cielab import delta_e2000, srgb_to_lab

SHOT_RANGE = (0, 61)
REFERENCE_RANGE = (0, 61)


def _packed(frame: np.ndarray) -> np.ndarray:
    """int64 [H, W] colour codes r<<16 | g<<8 | b of a uint8 [H, W, 3] RGB frame."""
    rgb = frame.astype(np.int64)
    return rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]


#: What a viewer sees of these (untagged, so Rec.709 video) clips: OCIO's own processor for the
#: studio config's sRGB display through the colorimetric video view, built here, not by the engine.
_SHOWN = ocio.Config.CreateFromFile("ocio://studio-config-latest").getProcessor(ocio.DisplayViewTransform(
    src="Gamma 2.4 Encoded Rec.709", display="sRGB - Display", view="Video (colorimetric)")).getDefaultCPUProcessor()


def _sample_lab(frame: np.ndarray) -> torch.Tensor:
    """CIELAB, as displayed, of the pixel grid the engine documents for its statistics (ΔE2000 is
    measured after the display transform)."""
    step = max(1, math.ceil(max(frame.shape[:2]) / match.STATS_MAX_SAMPLES_PER_SIDE))
    rgb = np.ascontiguousarray(frame[::step, ::step]).reshape(-1, 3).astype(np.float32) / np.float32(255)
    _SHOWN.applyRGB(rgb)
    return srgb_to_lab(torch.from_numpy(np.clip(rgb, 0, 1)).to(torch.float64))


@dataclass
class Recorded:
    """What the sink and progress callbacks saw during one run."""

    numbers: list[int] = field(default_factory=list)
    progress: list[tuple[int, int]] = field(default_factory=list)
    mean_abs_change: list[float] = field(default_factory=list)
    unchanged_inputs: list[bool] = field(default_factory=list)
    lab_sum_after: torch.Tensor = field(default_factory=lambda: torch.zeros(3, dtype=torch.float64))
    lab_count_after: int = 0
    colour_pairs: list[np.ndarray] = field(default_factory=list)


def _run_and_record(shot: FrameSource, reference: FrameSource, params: match.MatchParams):
    recorded = Recorded()
    first = shot.frame_range.start
    pristine = dict(shot.frames(step=30))  # frames the sink must receive unmodified as "before"

    def sink(number: int, before: np.ndarray, after: np.ndarray) -> None:
        assert before.shape == after.shape and after.dtype == np.uint8
        recorded.numbers.append(number)
        recorded.mean_abs_change.append(float(np.abs(after.astype(np.int16) - before).mean()))
        if number in pristine:
            recorded.unchanged_inputs.append(np.array_equal(before, pristine[number]))
        if (number - first) % params.sample_stride == 0:
            lab = _sample_lab(after)
            recorded.lab_sum_after += lab.sum(dim=0)
            recorded.lab_count_after += lab.shape[0]
        if number in (first, shot.frame_range.stop - 1):
            # (input colour, output colour) pairs, packed, to check one transform per shot.
            recorded.colour_pairs.append(np.unique((_packed(before) << 24 | _packed(after)).ravel()))

    def progress(done: int, total: int) -> None:
        recorded.progress.append((done, total))

    result = match.run(shot, reference, params=params, sink=sink, progress=progress)
    return result, recorded


@pytest.fixture(scope="module")
def matched(cups, coffee):
    shot = FrameSource(cups, *SHOT_RANGE)
    reference = FrameSource(coffee, *REFERENCE_RANGE)
    result, recorded = _run_and_record(shot, reference, match.MatchParams())
    return shot, reference, result, recorded


def test_shot_match_brings_the_shot_close_to_the_reference_colour(matched):
    _, _, result, _ = matched
    before = result.measurements["delta_e2000_before"]
    after = result.measurements["delta_e2000_after"]
    print(f"cups→coffee ΔE2000 of mean colour: before {before:.3f}, after {after:.3f}")

    assert before > 5.0, "the two clips should start visibly apart, or the test proves nothing"
    assert after < before
    assert after < 1.5


def test_measurements_are_a_flat_dict_of_floats_measured_on_the_output_frames(matched):
    _, reference, result, recorded = matched
    m = result.measurements
    assert all(isinstance(v, float) for v in m.values())
    assert {"delta_e2000_before", "delta_e2000_after"} <= set(m)

    # Recompute the after value from the frames the sink received.
    mean_after = recorded.lab_sum_after / recorded.lab_count_after
    mean_reference = torch.zeros(3, dtype=torch.float64)
    count = 0
    for _, frame in reference.frames(step=match.MatchParams().sample_stride):
        lab = _sample_lab(frame)
        mean_reference += lab.sum(dim=0)
        count += lab.shape[0]
    mean_reference /= count
    assert m["delta_e2000_after"] == pytest.approx(float(delta_e2000(mean_after, mean_reference)), abs=1e-3)
    assert [m["mean_l_after"], m["mean_a_after"], m["mean_b_after"]] == pytest.approx(mean_after.tolist(), abs=1e-3)


def test_every_frame_is_rendered_in_order_with_progress(matched):
    shot, _, result, recorded = matched
    assert result.frame_count == len(shot) == 61
    assert recorded.numbers == list(range(*SHOT_RANGE))
    assert recorded.progress == [(done, 61) for done in range(1, 62)]
    assert all(recorded.unchanged_inputs) and len(recorded.unchanged_inputs) == 3


def test_output_frames_differ_from_input_frames(matched):
    _, _, _, recorded = matched
    assert min(recorded.mean_abs_change) > 5.0  # code values, on every frame


def test_region_is_the_whole_frame(matched):
    shot, _, result, _ = matched
    assert result.region.dtype == bool
    assert result.region.shape == (shot.clip_probe.height, shot.clip_probe.width) == (720, 1280)
    assert result.region.all()


def test_one_transform_for_the_whole_shot_maps_equal_colours_equally(matched):
    # A colour present in both the first and the last frame is mapped to the same output
    # colour in both: the transform does not vary over the shot, so it cannot flicker.
    _, _, _, recorded = matched
    first, last = recorded.colour_pairs
    pairs = np.unique(np.concatenate([first, last]))
    inputs = pairs >> 24
    shared_inputs = np.intersect1d(first >> 24, last >> 24)
    assert shared_inputs.size > 1000
    assert np.unique(inputs).size == pairs.size


def test_strength_zero_leaves_every_pixel_bit_for_bit(cups, coffee):
    shot = FrameSource(cups, first=100, stop=104)
    reference = FrameSource(coffee, first=0, stop=8)
    identical = []
    result = match.run(
        shot,
        reference,
        params=match.MatchParams(strength=0.0),
        sink=lambda n, before, after: identical.append(np.array_equal(before, after)),
    )
    assert identical == [True] * 4
    assert result.measurements["delta_e2000_after"] == pytest.approx(result.measurements["delta_e2000_before"])


def test_cancel_stops_between_frames(cups, coffee):
    shot = FrameSource(cups, first=0, stop=20)
    reference = FrameSource(coffee, first=0, stop=4)
    rendered = []
    with pytest.raises(Cancelled, match="after 3 of 20 frames"):
        match.run(
            shot,
            reference,
            sink=lambda n, before, after: rendered.append(n),
            should_cancel=lambda: len(rendered) >= 3,
        )
    assert rendered == [0, 1, 2]


def test_cancel_during_measurement_renders_nothing(cups, coffee):
    rendered = []
    with pytest.raises(Cancelled, match="measuring the shot"):
        match.run(
            FrameSource(cups, first=0, stop=20),
            FrameSource(coffee, first=0, stop=4),
            sink=lambda n, before, after: rendered.append(n),
            should_cancel=lambda: True,
        )
    assert rendered == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"strength": 1.5}, "strength must be between 0 and 1"),
        ({"strength": float("nan")}, "strength must be finite"),
        ({"sample_stride": 0}, "sample_stride must be an integer >= 1"),
        ({"sample_stride": 2.5}, "sample_stride must be an integer >= 1"),
        ({"max_std_ratio": 0.5}, "max_std_ratio must be >= 1"),
        ({"strength": "full"}, "strength must be a number"),
        ({"strenght": 0.5, "stride": 2}, "unknown shot match parameter(s): strenght, stride"),
    ],
)
def test_bad_parameters_are_refused_by_name(values, message):
    with pytest.raises(ParameterError) as raised:
        match.MatchParams.from_dict(values)
    assert message in str(raised.value)


def test_parameters_round_trip_through_a_dict():
    params = match.MatchParams(sample_stride=2, strength=0.75, max_std_ratio=3)
    assert params.to_dict() == {
        "sample_stride": 2,
        "strength": 0.75,
        "max_std_ratio": 3.0,
        "method": "mkl",
        "pixels_correspond": False,
        "align": False,
        "reference_box": None,
        "shot_box": None,
    }
    assert match.MatchParams.from_dict(params.to_dict()) == params
    assert match.MatchParams.from_dict({}) == match.MatchParams()


def test_mkl_matches_the_reference_covariance_closer_than_reinhard(cups, coffee):
    shot = FrameSource(cups, first=0, stop=8)
    reference = FrameSource(coffee, first=0, stop=8)
    covariances = {}
    for method in ("mkl", "reinhard"):
        lab = []
        match.run(shot, reference, params=match.MatchParams(method=method, sample_stride=4),
                  sink=lambda n, before, after: lab.append(_sample_lab(after)) if n % 4 == 0 else None)
        covariances[method] = torch.cov(torch.cat(lab).T)
    wanted = torch.cov(torch.cat([_sample_lab(f) for _, f in reference.frames(step=4)]).T)
    error = {m: float((c - wanted).norm() / wanted.norm()) for m, c in covariances.items()}
    print(f"relative covariance error after the match: {error}")
    assert error["mkl"] < error["reinhard"]
    assert error["mkl"] < 0.1


def test_fit_mask_leaves_pixels_out_of_the_fit(cups, coffee):
    shot = FrameSource(cups, first=0, stop=4)
    reference = FrameSource(coffee, first=0, stop=4)
    left_half = np.zeros((720, 1280), dtype=bool)
    left_half[:, :640] = True
    means = {}
    for name, mask in (("all", None), ("left", left_half), ("left_callable", lambda n: left_half)):
        result = match.run(shot, reference, reference_mask=mask, sink=lambda n, b, a: None)
        means[name] = result.measurements["mean_l_after"]
    assert means["left"] == pytest.approx(means["left_callable"])
    assert abs(means["left"] - means["all"]) > 0.5  # the right half of the reference no longer counts
    with pytest.raises(ParameterError, match="fit mask"):
        match.run(shot, reference, shot_mask=np.ones((10, 10), bool), sink=lambda n, b, a: None)


def test_balance_recovers_exposure_and_white_balance_and_then_matches_the_rest(cups):
    """The shot is the reference pushed -1 stop and cooled in ACEScct (R -0.3 stop, B +0.35 stop
    against green): the balance stage measures exactly that, and the match undoes it."""
    from engine.media.colour import colorspace_transform

    frames = [f for _, f in FrameSource(cups, first=0, stop=2).frames(as_float=True)]
    to_cct = colorspace_transform("Rec.709", match.WORKING_SPACE)
    reference = np.concatenate([to_cct(f).reshape(-1, 3) for f in frames])
    push = np.array([-1.3, -1.0, -0.65]) * match.ACESCCT_STOP
    transfer = match.balance_transfer(reference + push, reference)
    measured = transfer.measurements
    assert measured["exposure_stops"] == pytest.approx(1.0 - 0.05 / 3, abs=1e-6)
    assert measured["white_balance_gain_r"] == pytest.approx(2 ** 0.3, rel=1e-6)
    assert measured["white_balance_gain_b"] == pytest.approx(2 ** -0.35, rel=1e-6)
    assert np.abs(transfer(reference + push) - reference).max() < 1e-5


def test_balance_region_sets_exposure_from_the_box_only(cups, coffee):
    shot = FrameSource(cups, first=0, stop=4)
    reference = FrameSource(coffee, first=0, stop=4)
    results = {}
    for name, box in (("whole", None), ("left", (0.0, 0.0, 0.5, 1.0)), ("right", (0.5, 0.0, 1.0, 1.0))):
        results[name] = match.run(shot, reference, params=match.MatchParams(method="balance", reference_box=box),
                                  sink=lambda n, b, a: None).measurements
    assert results["whole"]["delta_e2000_after"] < results["whole"]["delta_e2000_before"]
    assert abs(results["left"]["exposure_stops"] - results["right"]["exposure_stops"]) > 0.05
    with pytest.raises(ParameterError, match="reference_box and shot_box are for the balance method"):
        match.MatchParams(reference_box=(0, 0, 0.5, 1))
    with pytest.raises(ParameterError, match="0 <= left < right <= 1"):
        match.MatchParams(method="balance", reference_box=(0.6, 0, 0.5, 1))

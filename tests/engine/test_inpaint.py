"""Object removal (engine.fixes.remove), its masks (engine.ops.region) and clean plates (engine.fixes.clean_plate),
on the real DAVIS-derived sequences in footage/vos (432x240).

Short frame ranges keep the module under a minute; bench/remove.py runs the whole sequences.
"""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from engine import __main__ as engine_cli
from engine.errors import ParameterError
from engine.fixes import clean_plate, remove
from engine.media.decode import FrameSource
from engine.ops import grain, region
from engine.ops.exemplar import exemplar_fill

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def vos(footage: Path) -> Path:
    return footage / "vos"


def _remove(shot: FrameSource, **kwargs):
    frames = []

    def sink(number, before, after):
        frames.append((number, before, after))

    result = remove.run(shot=shot, sink=sink, **kwargs)
    return result, frames


@pytest.fixture(scope="module")
def tennis_removed(vos):
    """The tennis player removed from frames 0–9 with the sequence's own masks."""
    shot = FrameSource(vos / "tennis" / "frames", 0, 10)
    params = remove.RemovalParams(mask_folder=str(vos / "tennis" / "masks"), margin_px=4)
    return _remove(shot, params=params)


def test_removal_leaves_every_pixel_outside_the_mask_plus_margin_bit_identical(vos, tennis_removed):
    result, frames = tennis_removed
    assert [number for number, _, _ in frames] == list(range(10))
    union = np.zeros((240, 432), bool)
    for number, before, after in frames:
        source = next(FrameSource(vos / "tennis" / "frames", number, number + 1).frames())[1]
        mask = cv2.imread(str(vos / "tennis" / "masks" / f"{number:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        hole = region.dilate(mask, 4)
        union |= hole
        assert np.array_equal(before, source)
        assert np.array_equal(after[~hole], source[~hole]), f"frame {number} changed outside its region"
        # The player is gone: inside the mask the picture changed a lot.
        assert np.abs(after[mask].astype(int) - source[mask]).mean() > 20
    assert np.array_equal(result.region, union)
    assert result.frame_count == 10


def test_removal_at_720p_keeps_every_pixel_outside_the_region_and_removes_the_player(vos, tmp_path):
    """Larger than the flow (640 px): trails followed per flow pixel, the spatial fill at
    480 px; the contract is the same."""
    (tmp_path / "frames").mkdir()
    (tmp_path / "masks").mkdir()
    sources, masks = [], []
    for number, frame in FrameSource(vos / "tennis" / "frames", 0, 4).frames():
        big = cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_CUBIC)
        mask = cv2.imread(str(vos / "tennis" / "masks" / f"{number:05d}.png"), cv2.IMREAD_GRAYSCALE)
        big_mask = cv2.resize(mask, (1280, 720), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(tmp_path / "frames" / f"{number:05d}.png"), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(tmp_path / "masks" / f"{number:05d}.png"), big_mask)
        sources.append(big)
        masks.append(big_mask > 127)
    params = remove.RemovalParams(mask_folder=str(tmp_path / "masks"), margin_px=4)

    result, frames = _remove(FrameSource(tmp_path / "frames"), params=params)

    for (number, _, after), source, mask in zip(frames, sources, masks, strict=True):
        hole = region.dilate(mask, 4)
        assert np.array_equal(after[~hole], source[~hole]), f"frame {number} changed outside its region"
        assert np.abs(after[mask].astype(int) - source[mask]).mean() > 20
    assert result.frame_count == 4


def test_removal_is_stable_over_time_and_says_how_it_filled(tennis_removed):
    m = tennis_removed[0].measurements
    # Lai et al. 2018 warping error of the output inside the region, against outside it.
    assert m["warping_error_ratio"] <= 1.5, m
    filled = (m["filled_by_propagation_fraction"] + m["filled_from_finished_frames_fraction"]
              + m["filled_spatially_fraction"])
    assert filled == pytest.approx(1.0)
    assert m["filled_by_propagation_fraction"] > 0.2
    assert 0 < m["grain_sigma_plate"] < 20
    assert 0 < m["grain_changing_share"] <= 1
    assert all(isinstance(v, float) for v in m.values())


def test_fixed_fine_texture_is_not_taken_for_grain_so_the_fill_does_not_boil(vos):
    """schoolgirls is locked off on foliage and gravel: most of its fine detail stays put from
    frame to frame. Grain synthesised afresh every frame at the plate's whole spatial deviation
    made the fill flicker more than the plate (warping error ratio 1.70 on these 20 frames)."""
    shot = FrameSource(vos / "schoolgirls" / "frames", 0, 20)
    result, _ = _remove(shot, params=remove.RemovalParams(mask_folder=str(vos / "schoolgirls" / "masks")))
    m = result.measurements
    assert m["grain_changing_share"] < 0.8, m
    assert m["warping_error_ratio"] <= 1.5, m


def test_the_changing_share_of_the_grain_is_what_differs_between_two_frames(vos):
    """Two copies of one real frame with independent Gaussian noise of σ 3 added: what changes
    between them is that noise alone, whatever the frame's own texture."""
    frame = next(FrameSource(vos / "schoolgirls" / "frames", 0, 1).frames())[1]
    rng = np.random.default_rng(7)
    noisy = [np.clip(frame + rng.normal(0, 3, frame.shape) + 0.5, 0, 255).astype(np.uint8) for _ in range(2)]
    measured = grain.estimate_grain(noisy[0], pairs=[(noisy[0], None, noisy[1], None)])
    changing = measured.changing * measured.sigma.mean(axis=0)
    assert measured.sigma.mean() > 5, measured  # Immerkær counts the foliage's fixed texture too
    assert np.all(np.abs(changing - 3) < 0.4), (changing, measured)
    # One frame, or a repeated frame (nothing changes), says nothing about it: all of it counts.
    for pairs in ((), [(noisy[0], None, noisy[0], None)]):
        assert np.array_equal(grain.estimate_grain(noisy[0], pairs=pairs).changing, np.ones(3, np.float32))


def test_removal_beats_per_frame_telea_on_hidden_regions_with_known_truth(vos, tmp_path):
    """The video-completion protocol on a short window: schoolgirls hidden by the moving masks
    of tennis (blacked out in the frames the engine reads); the fill is compared with the
    frames as shot."""
    count = 12
    truth = [frame for _, frame in FrameSource(vos / "schoolgirls" / "frames", 0, count).frames()]
    hidden = [mask for _, mask in region.MaskFolder(vos / "tennis" / "masks").masks(range(count))]
    for number, (frame, mask) in enumerate(zip(truth, hidden)):
        masked = frame.copy()
        masked[region.dilate(mask, 4)] = 0
        cv2.imwrite(str(tmp_path / f"{number:05d}.png"), cv2.cvtColor(masked, cv2.COLOR_RGB2BGR))
    _, frames = _remove(FrameSource(tmp_path), masks=lambda n: hidden[n])
    engine_psnr = np.mean([peak_signal_noise_ratio(t, after, data_range=255)
                           for t, (_, _, after) in zip(truth, frames)])
    telea_psnr = np.mean([
        peak_signal_noise_ratio(t, cv2.inpaint(t, region.dilate(h, 4).astype(np.uint8), 3, cv2.INPAINT_TELEA),
                                data_range=255)
        for t, h in zip(truth, hidden)])
    assert engine_psnr > telea_psnr + 1.5, (engine_psnr, telea_psnr)


def test_exemplar_fill_of_a_1080p_frame_is_its_480_px_fill_copied_at_full_resolution(vos):
    """A 1080p frame (bmx-trees, upscaled) with the tennis player's outline blacked out: the
    fill runs at 480 px and full-resolution pixels are copied from where the coarse fill
    copied from, so that the full fill, scaled down, is the coarse fill; outside the hole
    nothing changes."""
    frame = next(FrameSource(vos / "bmx-trees" / "frames", 30, 31).frames())[1]
    mask = cv2.imread(str(vos / "tennis" / "masks" / "00030.png"), cv2.IMREAD_GRAYSCALE) > 127
    big = cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    hole = cv2.resize(region.dilate(mask, 4).astype(np.uint8), (1920, 1080), interpolation=cv2.INTER_NEAREST) > 0
    big[hole] = 0

    filled = exemplar_fill(big, hole)

    assert np.array_equal(filled[~hole], big[~hole])
    small = cv2.resize(big, (480, 270), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.float32), (480, 270), interpolation=cv2.INTER_AREA) > 0
    coarse = exemplar_fill(small, small_hole, max_side=None)
    inner = cv2.erode(small_hole.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    scaled_down = cv2.resize(filled, (480, 270), interpolation=cv2.INTER_AREA)
    assert np.abs(scaled_down.astype(int) - coarse)[inner].mean() < 2.0
    # Not black any more, and not one flat colour: copied texture.
    assert filled[hole].mean() > 40 and filled[hole].std() > 20


def test_a_box_drawn_on_one_frame_follows_the_player(vos):
    shot = FrameSource(vos / "tennis" / "frames", 0, 12)
    masks = dict(region.MaskFolder(vos / "tennis" / "masks").masks(range(12)))
    ys, xs = np.nonzero(masks[6])
    box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]

    tracked = region.track_polygon(shot, region.box_polygon(box), 6)

    for number, mask in tracked.masks(range(12)):
        overlap = (mask & masks[number]).sum() / masks[number].sum()
        assert overlap > 0.95, f"frame {number}: the tracked box covers {overlap:.0%} of the player"


def _outline(mask: np.ndarray) -> np.ndarray:
    """The convex hull of a mask's pixels as float32 [K, 2]: the outline a person draws round it."""
    ys, xs = np.nonzero(mask)
    return cv2.convexHull(np.stack([xs, ys], axis=1).astype(np.float32)).reshape(-1, 2)


def test_outlines_on_keyframes_keep_a_moving_player_covered_where_one_outline_loses_him(vos):
    """The whole tennis shot (70 frames; the player runs, turns and swings while the camera
    pans): one outline drawn on frame 0 and tracked loses much of him; outlines on every tenth
    frame, each tracked to its neighbours, keep him covered."""
    shot = FrameSource(vos / "tennis" / "frames")
    truth = dict(region.MaskFolder(vos / "tennis" / "masks").masks(shot.frame_range))
    keyframes = {number: _outline(truth[number]) for number in range(0, len(shot), 10)}

    def coverage(tracked) -> np.ndarray:
        return np.array([(mask & truth[number]).sum() / truth[number].sum()
                         for number, mask in tracked.masks(shot.frame_range)])

    one = coverage(region.track_polygon(shot, keyframes[0], 0))
    tracked = region.track_keyframes(shot, keyframes)
    several = coverage(tracked)
    assert several.mean() > 0.95 and several.min() > 0.85, (several.mean(), several.min())
    assert several.mean() > one.mean() + 0.3, (several.mean(), one.mean())
    # A keyframe keeps exactly the outline drawn there; a frame between two keyframes takes
    # both outlines, each carried from its keyframe; after the last keyframe, the last one's.
    assert [len(tracked.outlines[n]) for n in (20, 21, 29, 60, 69)] == [1, 2, 2, 1, 1]
    assert np.array_equal(tracked.outlines[20][0], keyframes[20])
    from_20 = region.track_polygon(FrameSource(vos / "tennis" / "frames", 11, 30), keyframes[20], 20)
    from_30 = region.track_polygon(FrameSource(vos / "tennis" / "frames", 21, 40), keyframes[30], 30)
    for number in (21, 25, 29):
        assert np.allclose(tracked.outlines[number][0], from_20.polygons[number])
        assert np.allclose(tracked.outlines[number][1], from_30.polygons[number])
    union = region.rasterise(from_20.polygons[25], truth[25].shape) | region.rasterise(from_30.polygons[25],
                                                                                         truth[25].shape)
    assert np.array_equal(next(tracked.masks(range(25, 26)))[1], union)


def test_keyframes_outside_the_shot_are_refused(vos):
    shot = FrameSource(vos / "tennis" / "frames", 0, 12)
    square = region.box_polygon([10, 10, 20, 20])
    with pytest.raises(ParameterError, match="outside the shot's frames 0–11"):
        region.track_keyframes(shot, {3: square, 12: square})
    with pytest.raises(ParameterError, match="at least one frame"):
        region.track_keyframes(shot, {})


def test_removal_from_a_box_in_the_parameters_changes_only_its_tracked_region(vos):
    shot = FrameSource(vos / "tennis" / "frames", 30, 36)
    params = remove.RemovalParams.from_dict({"box": [150, 60, 50, 40], "mask_frame": 32, "margin_px": 2})
    result, frames = _remove(shot, params=params)
    assert 0 < result.region.mean() < 0.1
    for _, before, after in frames:
        assert np.array_equal(after[~result.region], before[~result.region])
    assert any(not np.array_equal(after, before) for _, before, after in frames)


def test_removal_parameters_round_trip_and_refuse_bad_values():
    params = remove.RemovalParams.from_dict({"box": [1, 2, 30, 40], "mask_frame": 5, "margin_px": 6})
    assert remove.RemovalParams.from_dict(params.to_dict()) == params
    assert params.to_dict()["box"] == [1.0, 2.0, 30.0, 40.0]
    with pytest.raises(ParameterError, match="unknown object removal parameter"):
        remove.RemovalParams.from_dict({"margin": 4})
    with pytest.raises(ParameterError, match="one way"):
        remove.RemovalParams(mask_folder="masks", box=(0, 0, 10, 10))
    with pytest.raises(ParameterError, match="margin_px"):
        remove.RemovalParams(margin_px=-1)
    with pytest.raises(ParameterError, match="positive width"):
        remove.RemovalParams(box=(0, 0, 0, 10))
    with pytest.raises(ParameterError, match="mask_frame"):
        remove.RemovalParams(mask_frame=3)


def test_removal_without_masks_or_with_masks_of_another_size_is_refused(vos):
    shot = FrameSource(vos / "tennis" / "frames", 0, 3)
    with pytest.raises(ParameterError, match="needs masks"):
        remove.run(shot=shot, sink=lambda *_: None)
    with pytest.raises(ParameterError, match="mask of frame 0 is 100x50"):
        remove.run(shot=shot, masks=np.zeros((50, 100), bool), sink=lambda *_: None)


def test_clean_plate_removes_the_moving_player_and_keeps_the_background(vos):
    """Without any mask: the player moves, so the robust median leaves him out."""
    shot = FrameSource(vos / "tennis" / "frames")
    result = clean_plate.run(shot=shot, params=clean_plate.PlateParams(max_frames=12, reference_frame=35))
    reference = next(FrameSource(vos / "tennis" / "frames", 35, 36).frames())[1]
    player = cv2.imread(str(vos / "tennis" / "masks" / "00035.png"), cv2.IMREAD_GRAYSCALE) > 127
    background = ~region.dilate(player, 8)
    difference = np.abs(result.plate.astype(int) - reference).mean(axis=2)
    assert difference[background].mean() < 8, "the plate must keep the reference's background"
    assert difference[player].mean() > 30, "the player must be gone from the plate"
    assert result.confidence.shape == (240, 432) and 0 <= result.confidence.min() <= result.confidence.max() <= 1
    assert result.measurements["frames_aligned"] >= 6
    assert result.measurements["unseen_fraction"] < 0.05


def test_command_line_remove_writes_frames_and_one_json_line(vos, tmp_path):
    frames, masks = vos / "tennis" / "frames", vos / "tennis" / "masks"
    removed = subprocess.run(
        [sys.executable, "-m", "engine", "remove", "--frames", str(frames), "--masks", str(masks),
         "--out", str(tmp_path / "removed"), "--margin", "3", "--range", "0:4"],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert removed.returncode == 0, removed.stderr
    [line] = removed.stdout.splitlines()
    assert json.loads(line)["frame_count"] == 4 and json.loads(line)["margin_px"] == 3.0
    assert sorted(p.name for p in (tmp_path / "removed").iterdir()) == [f"{n:06d}.png" for n in range(4)]


def test_command_line_clean_plate_writes_the_plate_and_its_confidence_map(vos, tmp_path, capsys):
    # In this process (engine.__main__.main is what python -m engine runs): spares a second start-up.
    out = tmp_path / "plate" / "TENNIS_plate.png"
    status = engine_cli.main(["clean-plate", "--frames", str(vos / "tennis" / "frames"),
                              "--masks", str(vos / "tennis" / "masks"), "--out", str(out), "--max-frames", "6"])
    assert status == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["reference_frame"] == 35
    assert cv2.imread(str(out)).shape == (240, 432, 3)
    assert cv2.imread(str(tmp_path / "plate" / "TENNIS_plate_confidence.png"), cv2.IMREAD_GRAYSCALE).shape == (240, 432)


def test_command_line_remove_with_a_missing_mask_folder_exits_2_and_writes_nothing(vos, tmp_path, capsys):
    status = engine_cli.main(["remove", "--frames", str(vos / "tennis" / "frames"),
                              "--masks", str(tmp_path / "nowhere"), "--out", str(tmp_path / "never")])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "" and "nowhere" in captured.err
    assert not (tmp_path / "never").exists()

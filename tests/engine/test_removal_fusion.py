"""Object removal's confidence-aware fusion (engine.ops.fusion, engine.fixes.remove) and the
inpainting model learned per production (engine.models.inpaint), on real footage.

Small frames and few steps keep the module fast; bench/heldout_removal.py has the figures.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import __main__ as engine_cli
from engine.errors import Cancelled, ParameterError
from engine.fixes import remove
from engine.media.decode import FrameSource
from engine.models import inpaint
from engine.ops import fusion, region


@pytest.fixture(scope="module")
def tennis(footage: Path) -> Path:
    return footage / "vos" / "tennis" / "frames"


def _in_hole_psnr(outputs, truth, holes) -> float:
    squared = sum(((o.astype(np.float64) - t)[h] ** 2).sum() for o, t, h in zip(outputs, truth, holes))
    count = sum(int(h.sum()) * 3 for h in holes)
    return 10 * np.log10(255 ** 2 * count / squared)


def _static_hole(shape) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(mask, (250, 110), (35, 48), -15, 0, 360, 1, -1)
    return mask > 0


def test_removal_is_not_below_the_classical_fills_on_a_hole_no_frame_reveals(tennis, tmp_path):
    """A static hole on tennis (the camera barely moves over 6 frames: nothing behind it is
    revealed): flow-guided propagation alone lost to Telea here (issue #19); the fusion weighs
    the spatial fill and the temporal median by their measured errors, so it is at least as
    good as the best of Telea, Navier-Stokes and the temporal median, and changes nothing
    outside the hole."""
    truth = [frame for _, frame in FrameSource(tennis, 0, 6).frames()]
    mask = _static_hole(truth[0].shape[:2])
    hole = region.dilate(mask, 4)
    for number, frame in enumerate(truth):
        hidden = frame.copy()
        hidden[hole] = 0
        cv2.imwrite(str(tmp_path / f"{number:05d}.png"), cv2.cvtColor(hidden, cv2.COLOR_RGB2BGR))
    outputs = []
    remove.run(shot=FrameSource(tmp_path), masks=mask, sink=lambda _n, _b, after: outputs.append(after))
    hidden = [f for _, f in FrameSource(tmp_path).frames()]
    telea = [cv2.inpaint(f, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA) for f in hidden]
    ns = [cv2.inpaint(f, hole.astype(np.uint8), 3, cv2.INPAINT_NS) for f in hidden]
    ours = _in_hole_psnr(outputs, truth, [hole] * 6)
    best = max(_in_hole_psnr(telea, truth, [hole] * 6), _in_hole_psnr(ns, truth, [hole] * 6))
    assert ours >= best, (ours, best)
    for output, source in zip(outputs, hidden):
        assert np.array_equal(output[~hole], source[~hole])


def test_fusion_follows_the_source_whose_measured_error_is_lower(tennis):
    """Two fills of a real frame's hole: the truth itself and a flat grey. With the errors
    measured for each, the fused value sits next to the truth; with no usable error for a
    source, that source is ignored."""
    frame = next(FrameSource(tennis, 0, 1).frames())[1].astype(np.float32)
    hole = _static_hole(frame.shape[:2])
    truth = frame[hole]
    grey = np.full_like(truth, 128.0)
    count = len(truth)
    fused = fusion.fuse([grey, truth], [np.full(count, 2500.0, np.float32), np.zeros(count, np.float32)])
    assert np.abs(fused - truth).mean() < 0.01 * np.abs(grey - truth).mean()
    ignored = fusion.fuse([grey, truth], [np.full(count, np.inf, np.float32), np.full(count, 1e6, np.float32)])
    assert np.allclose(ignored, truth)
    with pytest.raises(ParameterError):
        fusion.fuse([grey], [])


def test_the_diffusion_fill_of_float_frames_matches_the_8bit_one(tennis):
    """OpenCV's float Telea assumes 8-bit code units; 0..1 frames are scaled for it (without
    that it overshot to -1..2 on this frame)."""
    frame = next(FrameSource(tennis, 0, 1).frames())[1]
    hole = _static_hole(frame.shape[:2])
    eight = fusion.diffusion_fill(frame, hole)
    unit = fusion.diffusion_fill(frame.astype(np.float32) / 255, hole, white=1.0) * 255
    assert np.abs(eight[hole] - unit[hole]).mean() < 3.0
    assert np.array_equal(unit[~hole], (frame.astype(np.float32) / 255)[~hole] * 255)
    assert 0 <= unit[hole].min() and unit[hole].max() <= 255.5


@pytest.fixture(scope="module")
def trained(tennis, tmp_path_factory) -> tuple[inpaint.InpaintModel, Path]:
    params = inpaint.InpaintTrainParams(steps=6, batch=2, crop_px=32, frames_per_clip=5, heldout_every=5)
    steps = []
    model = inpaint.train_inpaint([FrameSource(tennis, 20, 70)], params, progress=lambda d, t: steps.append((d, t)))
    assert steps[-1] == (6, 6)
    path = model.save(tmp_path_factory.mktemp("model") / "inpaint.pt")
    return model, path


def test_the_inpainting_model_records_its_lineage_and_held_out_figures(trained, tennis):
    model, path = trained
    loaded = inpaint.InpaintModel.load(path)
    (clip,) = loaded.lineage["clips"]
    assert clip["clip"] == str(tennis)
    assert clip["heldout_frames"] and clip["trained_frames"]
    assert not set(clip["heldout_frames"]) & set(clip["trained_frames"])
    assert all(20 <= n < 70 for n in clip["heldout_frames"] + clip["trained_frames"])
    assert loaded.lineage["steps_done"] == 6 and loaded.lineage["params"]["steps"] == 6
    held = loaded.heldout
    assert held["frames"] == len(clip["heldout_frames"])
    assert 5 < held["psnr_classical_db"] < 50 and 5 < held["psnr_model_db"] < 50
    assert held["beats_classical"] == int(held["psnr_model_db"] > held["psnr_classical_db"])
    # The same weights: the same fill.
    frame = next(FrameSource(tennis, 0, 1).frames())[1].astype(np.float32) / 255
    hole = _static_hole(frame.shape[:2])
    assert np.allclose(loaded.fill(frame, hole), model.fill(frame, hole), atol=1e-5)
    assert np.array_equal(loaded.fill(frame, hole)[~hole], frame[~hole])


def test_training_can_be_cancelled_and_bad_model_files_are_refused(tennis, tmp_path):
    with pytest.raises(Cancelled):
        inpaint.train_inpaint([FrameSource(tennis, 0, 10)], inpaint.InpaintTrainParams(steps=5),
                              should_cancel=lambda: True)
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(b"not a model")
    with pytest.raises(ParameterError, match="not a Loupe inpainting model"):
        inpaint.InpaintModel.load(foreign)
    with pytest.raises(ParameterError, match="does not exist"):
        remove.run(shot=FrameSource(tennis, 0, 2), masks=np.ones((240, 432), bool), sink=lambda *_: None,
                   params=remove.RemovalParams(inpaint_model=str(tmp_path / "missing.pt")))
    with pytest.raises(ParameterError, match="crop_px"):
        inpaint.InpaintTrainParams(crop_px=50)


def test_the_command_line_trains_a_model_and_removal_takes_it(tennis, footage, tmp_path, capsys):
    model_path = tmp_path / "model.pt"
    assert engine_cli.main(["inpaint", "train", "--frames", str(tennis), "--range", "40:50", "--steps", "3", "--frames-per-clip", "5",
                            "--out", str(model_path)]) == 0
    assert model_path.is_file()
    capsys.readouterr()
    out = tmp_path / "out"
    masks = footage / "vos" / "tennis" / "masks"
    assert engine_cli.main(["remove", "--frames", str(tennis), "--masks", str(masks), "--range", "0:4",
                            "--out", str(out), "--model", str(model_path)]) == 0
    result = capsys.readouterr().out
    used = inpaint.InpaintModel.load(model_path).beats_classical
    assert f'"inpaint_model_used": {float(used)}' in result
    for number in range(4):
        after = cv2.imread(str(out / f"{number:06d}.png"))
        source = cv2.imread(str(tennis / f"{number:05d}.png"))
        mask = cv2.imread(str(masks / f"{number:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        hole = region.dilate(mask, 4)
        assert np.array_equal(after[~hole], source[~hole])


def test_the_self_check_measures_the_spatial_fill_as_deep_as_the_hole(tennis):
    """The spatial fill's error read on a band just outside a hole is optimistic deep inside it
    (issue #19's losses on holes nothing reveals). The self-check fills holes of the same
    shape placed where the frame is known: on two real tennis frames its expected error is
    within a factor of 2.5 of the true in-hole error of the mix it chose, where the band read
    less than 0.6 of it; the copies never touch the hole grown by the band."""
    fillers = [lambda f, w: fusion.diffusion_fills(f, w)[0], lambda f, w: fusion.diffusion_fills(f, w)[1],
               fusion.membrane_fill]
    for number in (0, 5):
        frame = next(FrameSource(tennis, number, number + 1).frames())[1]
        hole = region.dilate(_static_hole(frame.shape[:2]), 4)
        hidden = frame.copy()
        hidden[hole] = 0
        clear = fusion.region_grow(hole, 6)
        places = fusion.synthetic_holes(hole, clear, 3)
        assert len(places) == 3 and not any((p & clear).any() for p in places)
        assert all(abs(int(p.sum()) - int(hole.sum())) <= 0.1 * hole.sum() for p in places)
        check = fusion.self_check(hidden, hole, fillers, copies=3, clear_px=6)
        values, expected = check.apply([f(hidden, hole) for f in fillers], hole)
        actual = ((values - frame[hole]) ** 2).mean()
        assert 1 / 2.5 < expected.mean() / actual < 2.5, (number, expected.mean(), actual)
        assert np.allclose(check.weights.sum(axis=1), 1)
        band = region.dilate(hole, 6) & ~hole
        on_band = ((fusion.diffusion_fills(hidden, hole | band)[0][band] - frame[band]) ** 2).mean()
        assert on_band < 0.6 * actual, (number, on_band, actual)

"""Camera originals at source precision (issue #21): real footage converted in the test through
OCIO to ARRI LogC3 and written as 10-bit ProRes 4444 and as a half-float EXR sequence; probed,
decoded and written back at source depth; looks, shot matches, relight and frame rebuild run on
them without an 8-bit step; non-media files refused with the engine's media error.
"""

import json

import cv2
import numpy as np
import PyOpenColorIO as ocio
import pytest
import torch

from engine.__main__ import main as cli_main
from engine.errors import FrameSourceError
from engine.fixes.look import look_function
from engine.media import colour
from engine.media.decode import FrameSource, read_frame
from engine.media.encode import FrameWriter
from engine.media.images import image_info, read_image
from engine.media.probe import Encoding, probe
from engine.media.proxy import write_review_proxy
from engine.ops.lut3d import load_look

from tests.camera_originals import FRAMES, LOGC3, SIZE
from tests.camera_originals import camera_original as _camera_original


@pytest.fixture(scope="module")
def prores(cups, tmp_path_factory):
    return _camera_original(cups, tmp_path_factory.mktemp("prores") / "cups_logc3.mov", Encoding(10, "uint"))


@pytest.fixture(scope="module")
def exr(cups, tmp_path_factory):
    return _camera_original(cups, tmp_path_factory.mktemp("exr") / "cups_logc3", Encoding(16, "half"))


@pytest.fixture(scope="module")
def reference_prores(coffee, tmp_path_factory):
    return _camera_original(coffee, tmp_path_factory.mktemp("ref") / "coffee_logc3.mov", Encoding(10, "uint"))


def _cli(capsys, *argv):
    assert cli_main([str(a) for a in argv]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _distinct_codes(folder):
    images = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(folder.glob("*.png"))]
    return images, [len(np.unique(np.stack(images)[..., c])) for c in range(3)]


def test_probe_reports_depth_and_colour_space_of_camera_originals(prores, exr):
    movie = probe(prores)
    assert movie.codec == "prores" and movie.pixel_format.startswith("yuv444p1")
    assert movie.bit_depth >= 10 and movie.sample_type == "uint" and not movie.encoding.is_8bit
    assert movie.colorspace_tag == LOGC3 and colour.input_colorspace(movie) == LOGC3
    sequence = probe(exr)
    assert (sequence.codec, sequence.sample_type, sequence.bit_depth) == ("exr", "half", 16)
    assert (sequence.width, sequence.height, sequence.frame_count) == (*SIZE, FRAMES)
    assert colour.input_colorspace(sequence) == LOGC3
    assert FrameSource(exr).colorspace == LOGC3
    # A person's choice wins over the file's tag; an unknown name is refused with the config's names.
    assert FrameSource(exr, input_colorspace="ACEScct").colorspace == "ACEScct"
    with pytest.raises(FrameSourceError, match="unknown colour space 'LogC9'"):
        FrameSource(exr, input_colorspace="LogC9")


def test_frames_written_back_at_source_depth_are_bit_identical(prores, exr, tmp_path):
    for clip, out in ((prores, tmp_path / "prores_frames"), (exr, tmp_path / "exr_frames")):
        source = FrameSource(clip)
        with FrameWriter(out, encoding=source.encoding) as writer:
            for number, frame in source.frames(as_float=True):
                writer.write(number, frame)
        again = [frame for _, frame in FrameSource(out).frames(as_float=True)]
        assert all(np.array_equal(a, b) for a, (_, b) in zip(again, source.frames(as_float=True), strict=True))
    assert probe(tmp_path / "prores_frames").pixel_format == "rgb48"  # 16-bit PNG for a 10-bit source
    assert probe(tmp_path / "exr_frames").sample_type == "half"
    # More than 8 bits survive: the LogC3 frame has codes between the 8-bit steps.
    frame = read_frame(tmp_path / "prores_frames", 0, as_float=True)
    assert np.abs(frame * 255 - np.rint(frame * 255)).max() > 0.1


def test_look_apply_on_camera_originals_writes_source_depth(prores, exr, footage, tmp_path, capsys):
    lut = footage / "luts" / "ocio_lustre_33x33x33.3dl"
    result = _cli(capsys, "look", "apply", "--look", lut, prores, tmp_path / "graded")
    assert result["frame_count"] == FRAMES
    images, distinct = _distinct_codes(tmp_path / "graded")
    assert images[0].dtype == np.uint16 and min(distinct) > 256
    # The same LUT through OpenColorIO's own float processor, to the nearest 16-bit code.
    expected = colour.Transform(ocio.Config.CreateRaw().getProcessor(
        ocio.FileTransform(src=str(lut), interpolation=ocio.INTERP_LINEAR)))
    source = read_frame(prores, 0, as_float=True)
    want = np.clip(np.rint(expected(source) * 65535), 0, 65535)
    got = cv2.cvtColor(images[0], cv2.COLOR_BGR2RGB).astype(np.float64)
    assert np.abs(got - want).max() <= 1
    _cli(capsys, "look", "apply", "--look", lut, exr, tmp_path / "graded_exr")
    assert probe(tmp_path / "graded_exr").sample_type == "half"


def test_a_smooth_16_bit_gradient_keeps_its_code_values_through_look_apply(footage, tmp_path, capsys):
    ramp = np.linspace(0.0, 1.0, 4096, dtype=np.float32)
    gradient = np.stack([ramp, ramp[::-1], 0.25 + 0.5 * ramp], axis=1)[None].repeat(8, axis=0)
    with FrameWriter(tmp_path / "gradient", encoding=Encoding(16, "uint")) as writer:
        writer.write(0, np.ascontiguousarray(gradient))
    lut = footage / "luts" / "ocio_lustre_33x33x33.3dl"
    _cli(capsys, "look", "apply", "--look", lut, tmp_path / "gradient", tmp_path / "graded")
    _, distinct = _distinct_codes(tmp_path / "graded")
    assert min(distinct) >= 1000, distinct


def test_shot_match_on_camera_originals_in_acescct(prores, exr, reference_prores, tmp_path, capsys):
    result = _cli(capsys, "match", "--reference", reference_prores, "--shot", prores, "--out", tmp_path / "matched",
                  "--sample-stride", 1)
    assert result["frame_count"] == FRAMES
    assert result["delta_e2000_after"] < result["delta_e2000_before"] / 2, result
    images, distinct = _distinct_codes(tmp_path / "matched")
    assert images[0].dtype == np.uint16 and min(distinct) > 256
    # The half-float EXR original: matched, and written back as half-float EXR.
    result = _cli(capsys, "match", "--reference", reference_prores, "--shot", exr, "--out", tmp_path / "matched_exr",
                  "--sample-stride", 1)
    assert result["delta_e2000_after"] < result["delta_e2000_before"] / 2, result
    assert probe(tmp_path / "matched_exr").sample_type == "half"
    matched = read_frame(tmp_path / "matched_exr", 0, as_float=True)
    assert not np.array_equal(matched, read_frame(exr, 0, as_float=True))


@pytest.mark.parametrize("which,out", [("prores", "plate.png"), ("exr", "plate.exr")])
def test_clean_plate_of_camera_originals_at_source_depth(which, out, request, tmp_path, capsys):
    # Estimated in scene-linear ACEScg and written at the source's depth: 16-bit PNG, half EXR.
    clip = request.getfixturevalue(which)
    result = _cli(capsys, "clean-plate", "--frames", clip, "--out", tmp_path / out, "--no-align")
    info = image_info(tmp_path / out)
    assert (info.sample_type, info.bit_depth) == (("uint", 16) if which == "prores" else ("half", 16))
    frame = read_image(tmp_path / out)
    reference = read_frame(clip, result["reference_frame"], as_float=True)
    assert np.abs(frame - reference).mean() < 0.02  # a nearly still shot: the plate is its background
    assert result["reference_mean_abs_difference"] < 5  # 8-bit code units of the clip's encoding
    codes = frame * 255
    assert np.abs(codes - np.rint(codes)).max() > 0.1  # not on 8-bit steps


@pytest.mark.parametrize("name", ["drawing.svg", "drawing.mov"])
def test_a_file_that_is_not_media_is_refused_with_the_media_error(tmp_path, name):
    path = tmp_path / name
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>')
    with pytest.raises(FrameSourceError, match="not video footage"):
        probe(path)
    with pytest.raises(FrameSourceError, match="not video footage"):
        read_frame(path, 0)


@pytest.mark.parametrize("which", ["prores", "exr"])
def test_object_removal_keeps_every_pixel_outside_the_hole_at_source_depth(which, request, tmp_path, capsys):
    clip = request.getfixturevalue(which)
    masks = tmp_path / "masks"
    masks.mkdir()
    for number in range(FRAMES):  # a box that moves a little, as an object would
        mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
        mask[70:110, 140 + 3 * number:190 + 3 * number] = 255
        cv2.imwrite(str(masks / f"{number:06d}.png"), mask)
    out = tmp_path / "removed"
    result = _cli(capsys, "remove", "--frames", clip, "--masks", masks, "--out", out, "--margin", 4)
    assert result["frame_count"] == FRAMES
    source = FrameSource(clip)
    assert probe(out).encoding == source.encoding or probe(out).pixel_format == "rgb48"
    for (number, before), (_, after) in zip(source.frames(as_float=True), FrameSource(out).frames(as_float=True),
                                            strict=True):
        mask = cv2.imread(str(masks / f"{number:06d}.png"), cv2.IMREAD_GRAYSCALE) > 0
        hole = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))) > 0
        assert np.array_equal(after[~hole], before[~hole])  # bit-identical at source depth
        assert not np.array_equal(after[mask], before[mask])  # the object was filled
        filled = after[mask] * 255
        assert np.abs(filled - np.rint(filled)).max() > 0.1  # not on 8-bit steps


def _levels(frames):
    """Fewest distinct values of a channel over float32 [H, W, 3] frames."""
    stacked = np.stack(frames)
    return min(len(np.unique(stacked[..., c])) for c in range(3))


def test_relight_of_a_camera_original_in_acescct_at_source_depth(prores, exr, cups, tmp_path, capsys):
    # A copy of the EXR original one stop darker and tinted (gains in scene-linear ACEScg), relit
    # onto the original: the ACEScct CDL undoes it, written back as half-float EXR.
    to_linear, to_log = colour.colorspace_transform(LOGC3, "ACEScg"), colour.colorspace_transform("ACEScg", LOGC3)
    originals = [frame for _, frame in FrameSource(exr).frames(as_float=True)]
    with FrameWriter(tmp_path / "darker", encoding=Encoding(16, "half"), colorspace=LOGC3) as writer:
        for number, frame in enumerate(originals):
            writer.write(number, to_log(to_linear(frame) * np.float32([0.4, 0.5, 0.6])))
    result = _cli(capsys, "relight", "--reference", exr, "--shot", tmp_path / "darker", "--out", tmp_path / "relit",
                  "--smoothing-frames", 0)
    assert result["frame_count"] == FRAMES and result["cdl"]["working_space"] == "ACEScct"
    # In ACEScct a gain g is the offset −log2(g) / 17.52 (one stop = 1/17.52), contrast the slope.
    assert np.allclose(result["cdl"]["offset"], -np.log2([0.4, 0.5, 0.6]) / 17.52, atol=2e-3), result["cdl"]
    assert np.allclose(result["cdl"]["slope"], 1.0, atol=0.01) and result["cdl"]["power"] == [1.0, 1.0, 1.0]
    assert 0.9 < result["exposure_stops"] < 1.3  # ≈ 1 stop; luminance-weighted over the tint
    assert probe(tmp_path / "relit").sample_type == "half"
    relit = [frame for _, frame in FrameSource(tmp_path / "relit").frames(as_float=True)]
    darker = [frame for _, frame in FrameSource(tmp_path / "darker").frames(as_float=True)]
    before = np.mean([np.abs(d - o).mean() for d, o in zip(darker, originals, strict=True)])
    after = np.mean([np.abs(r - o).mean() for r, o in zip(relit, originals, strict=True)])
    assert after < before / 10, (before, after)
    assert _levels(originals) > 256 and _levels(relit) > 256
    # A 10-bit ProRes 4444 original relit onto an 8-bit reference: 16-bit PNGs, no 8-bit step.
    result = _cli(capsys, "relight", "--reference", cups, "--shot", prores, "--out", tmp_path / "relit_prores")
    assert result["frame_count"] == FRAMES and result["cdl"]["working_space"] == "ACEScct"
    images, distinct = _distinct_codes(tmp_path / "relit_prores")
    assert images[0].dtype == np.uint16 and min(distinct) > 256
    assert _levels([frame for _, frame in FrameSource(prores).frames(as_float=True)]) > 256
    shifted = FrameSource(tmp_path / "relit_prores").frames(as_float=True)
    assert not np.array_equal(next(shifted)[1], read_frame(prores, 0, as_float=True))


@pytest.mark.parametrize("which", ["prores", "exr"])
def test_frame_rebuild_of_a_camera_original_keeps_every_other_frame_bit_identical(which, request, tmp_path, capsys):
    clip = request.getfixturevalue(which)
    source = [frame for _, frame in FrameSource(clip).frames(as_float=True)]
    result = _cli(capsys, "rebuild", "--frames", clip, "--missing", "1,2", "--out", tmp_path / "rebuilt")
    assert (result["frame_count"], result["frames_interpolated"]) == (FRAMES, 2)
    out = probe(tmp_path / "rebuilt")
    assert out.sample_type == "half" if which == "exr" else out.pixel_format == "rgb48"
    rebuilt = [frame for _, frame in FrameSource(tmp_path / "rebuilt").frames(as_float=True)]
    for number in (0, 3):
        assert np.array_equal(rebuilt[number], source[number])  # bit-identical at source depth
    for number in (1, 2):
        assert not np.array_equal(rebuilt[number], source[number])  # new, from frames 0 and 3
        assert np.abs(rebuilt[number] - source[number]).mean() < 0.02  # a nearly still shot
        codes = rebuilt[number] * 255
        assert np.abs(codes - np.rint(codes)).max() > 0.1  # not on 8-bit steps
    assert _levels(source[1:3]) > 256 and _levels(rebuilt[1:3]) > 256
    if which == "exr":  # retiming ×2: the source frames land on the even output frames, untouched
        result = _cli(capsys, "rebuild", "--frames", clip, "--retime", 2, "--out", tmp_path / "retimed")
        retimed = [frame for _, frame in FrameSource(tmp_path / "retimed").frames(as_float=True)]
        assert result["frames_out"] == len(retimed) == 2 * FRAMES - 1
        assert all(np.array_equal(retimed[2 * n], source[n]) for n in range(FRAMES))


def test_the_review_proxy_of_a_log_original_shows_it_through_the_display_transform(prores, tmp_path):
    source = FrameSource(prores)
    assert write_review_proxy(source, tmp_path / "proxy.mp4", max_width=SIZE[0]) == FRAMES
    shown = read_frame(tmp_path / "proxy.mp4", 1).astype(np.float32)
    wanted = colour.display_codes(read_frame(prores, 1, as_float=True), LOGC3).astype(np.float32)
    flat_log = np.rint(read_frame(prores, 1, as_float=True) * 255)
    assert np.abs(shown - wanted).mean() < 3  # H.264 at review quality
    assert np.abs(shown - flat_log).mean() > 3 * np.abs(shown - wanted).mean()


def test_a_trained_look_applies_to_float_frames_as_its_lattice_interpolates(exr, footage):
    lut = load_look(footage / "luts" / "ocio_lustre_33x33x33.3dl").to_lut3d(17)
    frame = read_frame(exr, 0, as_float=True)
    got = look_function(lut)(frame)  # through OpenColorIO's Lut3DTransform
    want = lut.apply_float(torch.from_numpy(frame.reshape(-1, 3))).numpy().reshape(frame.shape)  # PyTorch trilinear
    assert got.dtype == np.float32 and np.abs(got - want).max() < 1e-4

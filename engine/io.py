"""Reading and writing footage: probing clips, frame-accurate reading, atomic writing.

A clip is either a video file (anything FFmpeg demuxes, read through PyAV) or a folder
of numbered images (``00000.png``, ``frame_0001.jpg``, …). Frames are counted from 0 at
the start of the clip, whatever the clip's start timecode, and frame ranges are
half-open ``[first, stop)`` like CMX3600 / OpenTimelineIO out points. In a folder, frame
N is the N-th image in numeric order of the file names (the numbers order the images;
they need not start at 0 or be contiguous).

Colour: video frames are converted to 8-bit RGB by libswscale using the YUV matrix and
range the stream is tagged with (BT.709, BT.601, …; untagged streams get FFmpeg's
default, BT.601). Video written by :class:`FrameWriter` is H.264 yuv420p, limited range,
encoded with and tagged as BT.709 (ITU-R BT.709-6) so players decode it back the same way.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import cv2
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from engine.errors import FrameSourceError, FrameWriteError, ParameterError

log = logging.getLogger(__name__)

#: Image extensions read as numbered frames of a folder clip (lower case, no dot).
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "tif", "tiff", "bmp"})
#: Frame rate assumed for a folder of images, which carries none (frames per second).
IMAGE_SEQUENCE_FRAME_RATE = Fraction(24)
#: Output extensions that FrameWriter encodes as a video file, with their container format.
VIDEO_OUTPUT_FORMATS = {".mp4": "mp4", ".mov": "mov"}

_NUMBERED_IMAGE = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)$")
_TIMECODE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;.]\d{2}$")
_PIXEL_FORMATS = {
    (np.dtype(np.uint8), 1): "gray",
    (np.dtype(np.uint8), 3): "rgb24",
    (np.dtype(np.uint8), 4): "rgba",
    (np.dtype(np.uint16), 1): "gray16",
    (np.dtype(np.uint16), 3): "rgb48",
    (np.dtype(np.uint16), 4): "rgba64",
}


# --------------------------------------------------------------------------- probing


@dataclass(frozen=True)
class ClipProbe:
    """What a clip is: codec, picture size, frame rate, exact frame count, timecode.

    Attributes:
        codec: FFmpeg decoder name (``"h264"``, ``"prores"``) or, for a folder of
            images, the image extension (``"png"``).
        pixel_format: FFmpeg pixel format name (``"yuv420p"``, ``"rgb24"``).
        width, height: picture size in pixels.
        frame_rate: frames per second, exact (``Fraction(30000, 1001)`` for 29.97).
        frame_count: number of frames in the clip; frames are numbered 0..frame_count-1.
        start_timecode: SMPTE ``HH:MM:SS:FF`` (``;`` before FF for drop-frame) from the
            stream's or container's ``timecode`` tag, or None when the clip has none.
        container_format: FFmpeg demuxer name(s) (``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"mxf"``),
            or ``"image_sequence"`` for a folder of images.
        pixel_aspect: sample (pixel) aspect ratio, width/height of one pixel; 1 when the
            stream declares none.
        bit_depth: bits per colour component of the decoded pixel format (8, 10, 12, 16),
            or None when unknown.
        color_primaries, color_transfer, color_matrix: the stream's colour tags as
            ITU-T H.273 names (``"bt709"``, ``"smpte2084"``, ``"bt470bg"``); None when
            untagged (H.273 code 2, "unspecified").
        color_range: ``"limited"`` (MPEG/TV), ``"full"`` (JPEG/PC) or None when untagged.
        reel: reel/tape name from a ``reel_name``/``reel``/``tape`` tag, or None.
        audio_streams: one dict per audio stream: ``codec``, ``channels``,
            ``sample_rate_hz``.
    """

    codec: str
    pixel_format: str
    width: int
    height: int
    frame_rate: Fraction
    frame_count: int
    start_timecode: str | None
    container_format: str = ""
    pixel_aspect: Fraction = Fraction(1)
    bit_depth: int | None = None
    color_primaries: str | None = None
    color_transfer: str | None = None
    color_matrix: str | None = None
    color_range: str | None = None
    reel: str | None = None
    audio_streams: tuple[dict, ...] = ()


def probe(path: str | os.PathLike) -> ClipProbe:
    """Probe a video file (via PyAV/FFmpeg) or a folder of numbered images.

    For a video, ``frame_count`` is the container's declared frame count
    (``stream.frames``) when it has one, else the number of video packets (demuxed,
    not decoded). For a folder, it is the number of numbered images, the frame rate is
    :data:`IMAGE_SEQUENCE_FRAME_RATE` and the codec is the image extension.

    Raises:
        FrameSourceError: the path does not exist, is not a readable video or image
            folder, has no video stream, has no frame rate, or holds no numbered images.
    """
    path = Path(path)
    if not path.exists():
        raise FrameSourceError(f"{path} does not exist")
    if path.is_dir():
        return _probe_image_folder(path)
    return _probe_video(path)


def _probe_video(path: Path) -> ClipProbe:
    with _open_video(path) as container:
        stream = _video_stream(container, path)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise FrameSourceError(f"{path.name} declares no frame rate for its video stream")
        frame_count = stream.frames
        if frame_count <= 0:
            frame_count = _count_packets(container, stream, path)
        if frame_count <= 0:
            raise FrameSourceError(f"{path.name} has a video stream with no frames")
        context = stream.codec_context
        pixel_format = context.format.name if context.format is not None else (context.pix_fmt or "unknown")
        return ClipProbe(
            codec=context.name,
            pixel_format=pixel_format,
            width=int(stream.width),
            height=int(stream.height),
            frame_rate=Fraction(rate),
            frame_count=int(frame_count),
            start_timecode=_find_timecode(container, stream),
            container_format=container.format.name,
            pixel_aspect=Fraction(stream.sample_aspect_ratio or context.sample_aspect_ratio or 1),
            bit_depth=_bit_depth(context.format),
            color_primaries=_H273_PRIMARIES.get(context.color_primaries),
            color_transfer=_H273_TRANSFER.get(context.color_trc),
            color_matrix=_H273_MATRIX.get(context.colorspace),
            color_range={1: "limited", 2: "full"}.get(context.color_range),
            reel=_find_tag(container, stream, ("reel_name", "reel", "tape")),
            audio_streams=tuple(
                {"codec": audio.codec_context.name, "channels": audio.codec_context.channels,
                 "sample_rate_hz": audio.codec_context.sample_rate}
                for audio in container.streams.audio
            ),
        )


# ITU-T H.273 code points → names (FFmpeg's names for them); 2 ("unspecified") is left out.
_H273_PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film",
                   9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213"}
_H273_TRANSFER = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
                  11: "iec61966-2-4", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
                  16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}
_H273_MATRIX = {0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco",
                9: "bt2020nc", 10: "bt2020c", 14: "ictcp"}


def _bit_depth(pixel_format: av.VideoFormat | None) -> int | None:
    if pixel_format is None or not pixel_format.components:
        return None
    return max(component.bits for component in pixel_format.components)


def _find_tag(container: av.container.InputContainer, stream: av.VideoStream, names: tuple[str, ...]) -> str | None:
    for metadata in (stream.metadata, container.metadata, *(s.metadata for s in container.streams)):
        for name in names:
            value = (metadata or {}).get(name, "").strip()
            if value:
                return value
    return None


def _count_packets(container: av.container.InputContainer, stream: av.VideoStream, path: Path) -> int:
    count = 0
    try:
        for packet in container.demux(stream):
            if packet.size > 0:
                count += 1
    except av.error.FFmpegError as exc:
        raise FrameSourceError(f"{path.name} could not be read to count its frames: {exc}") from exc
    return count


def _find_timecode(container: av.container.InputContainer, stream: av.VideoStream) -> str | None:
    # FFmpeg puts a MOV/MP4 tmcd track's start on the video stream, the container or
    # the tmcd (data) stream itself, depending on the muxer that wrote the file.
    candidates = [stream.metadata, container.metadata, *(s.metadata for s in container.streams)]
    for metadata in candidates:
        value = (metadata or {}).get("timecode")
        if value and _TIMECODE.match(value.strip()):
            return value.strip()
    return None


def _open_video(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise FrameSourceError(f"{path.name} is not a readable video file: {exc}") from exc
    except OSError as exc:
        raise FrameSourceError(f"{path} cannot be opened: {exc}") from exc


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    if not container.streams.video:
        raise FrameSourceError(f"{path.name} has no video stream")
    return container.streams.video[0]


@dataclass(frozen=True)
class _ImageFolder:
    """The numbered images of a folder clip, in frame order."""

    files: tuple[Path, ...]
    extension: str


def _list_image_folder(folder: Path) -> _ImageFolder:
    groups: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise FrameSourceError(f"folder {folder} cannot be listed: {exc}") from exc
    for entry in entries:
        extension = entry.suffix.lower().lstrip(".")
        if entry.name.startswith(".") or extension not in IMAGE_EXTENSIONS or not entry.is_file():
            continue
        match = _NUMBERED_IMAGE.match(entry.stem)
        if match is None:
            continue
        groups.setdefault((match["prefix"], extension), []).append((int(match["number"]), entry))
    if not groups:
        raise FrameSourceError(
            f"folder {folder} holds no numbered images "
            f"(expected files like 000000.png; extensions read: {', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    if len(groups) > 1:
        found = ", ".join(
            f"{prefix}<number>.{ext} ({len(files)} files)" for (prefix, ext), files in groups.items()
        )
        raise FrameSourceError(f"folder {folder} holds more than one image sequence: {found}; keep one per folder")
    [((_, extension), numbered)] = groups.items()
    numbered.sort(key=lambda item: item[0])
    duplicates = sorted(n for n, times in Counter(n for n, _ in numbered).items() if times > 1)
    if duplicates:
        raise FrameSourceError(
            f"folder {folder} has several images numbered {', '.join(map(str, duplicates[:5]))} "
            f"(e.g. 7.png and 0007.png); frame order would be ambiguous"
        )
    return _ImageFolder(files=tuple(p for _, p in numbered), extension=extension)


def _probe_image_folder(folder: Path) -> ClipProbe:
    images = _list_image_folder(folder)
    first = cv2.imread(str(images.files[0]), cv2.IMREAD_UNCHANGED)
    if first is None:
        raise FrameSourceError(f"{images.files[0]} is not a readable image")
    channels = 1 if first.ndim == 2 else first.shape[2]
    return ClipProbe(
        codec=images.extension,
        pixel_format=_PIXEL_FORMATS.get((first.dtype, channels), f"{first.dtype.name}x{channels}"),
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        frame_rate=IMAGE_SEQUENCE_FRAME_RATE,
        frame_count=len(images.files),
        start_timecode=None,
        container_format="image_sequence",
        bit_depth=int(first.dtype.itemsize * 8),
    )


# --------------------------------------------------------------------------- reading


class _IrregularTimestamps(Exception):
    """Seeking cannot be trusted for this clip; decode sequentially instead."""


@dataclass(frozen=True)
class FrameSource:
    """A frame range ``[first, stop)`` of one clip, readable any number of times.

    Construction probes the clip (see :func:`probe`) and validates the range.
    ``frames()`` re-opens the clip on every call, so nothing is held between passes.

    Frame accuracy: frame N is the N-th frame of a full sequential decode. For
    ``first > 0`` a video is seeked to the keyframe at or before ``first`` and frames
    are numbered from their presentation timestamp, ``round((pts - start_time) ×
    time_base × average_rate)``; every following frame must land on the next number,
    and if timestamps are missing or irregular (variable frame rate, gaps) the clip is
    decoded sequentially from frame 0 instead.

    Attributes:
        path: video file or folder of numbered images.
        first: first frame of the range (0-based, from the start of the clip).
        stop: frame after the last one (exclusive); None for the end of the clip.

    Raises:
        FrameSourceError: the clip cannot be probed, or the range is empty or outside
            the clip (the message names the file and its frame count).
    """

    path: Path
    first: int = 0
    stop: int | None = None
    _probe: ClipProbe = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        for name in ("first", "stop"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise FrameSourceError(f"frame range {name} must be an integer frame number, got {value!r}")
        object.__setattr__(self, "first", int(self.first))
        if self.stop is not None:
            object.__setattr__(self, "stop", int(self.stop))
        clip = probe(self.path)
        object.__setattr__(self, "_probe", clip)
        count = clip.frame_count
        stop = count if self.stop is None else self.stop
        shown = f"{self.first}–{stop}"
        if self.first < 0:
            raise FrameSourceError(f"frame range {shown} of {self.path.name} starts before frame 0")
        if stop <= self.first:
            raise FrameSourceError(
                f"frame range {shown} of {self.path.name} is empty; stop is exclusive and must be greater than first"
            )
        if stop > count:
            raise FrameSourceError(
                f"frame range {shown} is outside {self.path.name}, which has {count} frames (0–{count - 1})"
            )

    @property
    def clip_probe(self) -> ClipProbe:
        """The :class:`ClipProbe` of the whole clip (taken when this source was made)."""
        return self._probe

    @property
    def frame_range(self) -> range:
        """The frame numbers of this source, ``range(first, stop)`` with stop resolved."""
        stop = self._probe.frame_count if self.stop is None else self.stop
        return range(self.first, stop)

    def __len__(self) -> int:
        """Number of frames in the range."""
        return len(self.frame_range)

    def frames(self, *, step: int = 1) -> Iterator[tuple[int, np.ndarray]]:
        """Decode the range in order.

        Args:
            step: yield every ``step``-th frame of the range (first, first+step, …);
                the others are still decoded (video) but not converted to RGB.

        Yields:
            ``(frame_number, frame)``: frame_number counted from 0 at the start of the
            clip; frame uint8 [H, W, 3] RGB, C-contiguous.

        Raises:
            ParameterError: ``step`` is not a positive integer.
            FrameSourceError: the clip cannot be decoded, ends before ``stop``, or an
                image of a folder is unreadable or of another size.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ParameterError(f"step must be a positive integer, got {step!r}")
        if self.path.is_dir():
            yield from self._image_frames(step)
        else:
            yield from self._video_frames(step)

    def _image_frames(self, step: int) -> Iterator[tuple[int, np.ndarray]]:
        images = _list_image_folder(self.path)
        expected = (self._probe.height, self._probe.width)
        for number in self.frame_range[::step]:
            if number >= len(images.files):
                raise FrameSourceError(
                    f"folder {self.path} now holds {len(images.files)} images; frame {number} is gone"
                )
            file = images.files[number]
            rgb = cv2.imread(str(file), cv2.IMREAD_COLOR_RGB)
            if rgb is None:
                raise FrameSourceError(f"{file} (frame {number} of {self.path.name}) is not a readable image")
            if rgb.shape[:2] != expected:
                raise FrameSourceError(
                    f"{file.name} is {rgb.shape[1]}x{rgb.shape[0]} but frame 0 of {self.path.name} is "
                    f"{expected[1]}x{expected[0]}; every frame of a clip must have the same size"
                )
            yield number, np.ascontiguousarray(rgb)

    def _video_frames(self, step: int) -> Iterator[tuple[int, np.ndarray]]:
        frame_range = self.frame_range
        next_number = frame_range.start
        seek = next_number > 0
        while next_number < frame_range.stop:
            try:
                for number, frame in self._decode(next_number, frame_range.stop, seek=seek):
                    if (number - frame_range.start) % step == 0:
                        yield number, _to_rgb(frame, self.path, number)
                    next_number = number + 1
                return
            except _IrregularTimestamps as reason:
                log.info("%s: %s; decoding sequentially from frame 0 instead of seeking", self.path.name, reason)
                seek = False

    def _decode(self, start: int, stop: int, *, seek: bool) -> Iterator[tuple[int, av.VideoFrame]]:
        """Yield ``(frame_number, av.VideoFrame)`` for start <= frame_number < stop."""
        with _open_video(self.path) as container:
            stream = _video_stream(container, self.path)
            stream.thread_type = "AUTO"
            rate = Fraction(stream.average_rate) if stream.average_rate else None
            time_base = Fraction(stream.time_base) if stream.time_base else None
            if seek and (rate is None or time_base is None or stream.start_time is None):
                raise _IrregularTimestamps("the stream has no average rate, time base or start time")
            start_pts = stream.start_time or 0

            def pts_to_number(pts: int) -> int:
                return round((pts - start_pts) * time_base * rate)

            if seek:
                target = start_pts + round(Fraction(start) / rate / time_base)
                try:
                    container.seek(target, stream=stream, backward=True, any_frame=False)
                except av.error.FFmpegError as exc:
                    raise _IrregularTimestamps(f"seeking failed ({exc})") from exc
            number: int | None = None if seek else -1
            try:
                for frame in container.decode(stream):
                    if seek:
                        if frame.pts is None:
                            raise _IrregularTimestamps("a frame has no timestamp")
                        from_pts = pts_to_number(frame.pts)
                        if number is None:
                            if from_pts > start:
                                raise _IrregularTimestamps(f"the seek for frame {start} landed on frame {from_pts}")
                            log.debug(
                                "%s: seeked to keyframe at frame %d for frame %d", self.path.name, from_pts, start
                            )
                            number = from_pts
                        else:
                            number += 1
                            if from_pts != number:
                                raise _IrregularTimestamps(
                                    f"frame {number} has the timestamp of frame {from_pts}"
                                )
                    else:
                        number += 1
                    if number < start:
                        continue
                    if number >= stop:
                        return
                    yield number, frame
            except av.error.FFmpegError as exc:
                raise FrameSourceError(f"{self.path.name}: decoding failed after frame {number}: {exc}") from exc
            decoded = -1 if number is None else number
            if decoded >= stop - 1:
                return
            raise FrameSourceError(
                f"{self.path.name} ended after frame {decoded}, before frame {stop - 1} "
                f"(it declares {self._probe.frame_count} frames); the file may be truncated"
            )


def _to_rgb(frame: av.VideoFrame, path: Path, number: int) -> np.ndarray:
    try:
        rgb = frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, ValueError) as exc:
        raise FrameSourceError(f"{path.name}: frame {number} cannot be converted to RGB: {exc}") from exc
    return np.ascontiguousarray(rgb)


def read_frame(path: str | os.PathLike, frame_number: int) -> np.ndarray:
    """Read one frame of a clip.

    Returns:
        uint8 [H, W, 3] RGB, frame ``frame_number`` (0-based from the start of the clip).

    Raises:
        FrameSourceError: as :class:`FrameSource` (missing file, frame outside the clip).
    """
    source = FrameSource(Path(path), first=frame_number, stop=frame_number + 1)
    for _, frame in source.frames():
        return frame
    raise FrameSourceError(f"{Path(path).name} yielded no frame {frame_number}")  # unreachable by contract


# --------------------------------------------------------------------------- writing


class FrameWriter:
    """Write output frames atomically, as a folder of PNGs or as an H.264 video file.

    If ``out`` ends in ``.mp4`` or ``.mov`` the frames are encoded as H.264 (libx264,
    yuv420p, BT.709; by default CRF 12, preset medium — ``encoder_options`` overrides these
    libx264 options) at ``frame_rate``; frame numbers must then be consecutive.
    Otherwise ``out`` is a folder and frame N is written to ``{N:06d}.png`` (OpenCV,
    PNG compression level 1); frame numbers must increase.

    Everything is written under a hidden temporary name beside ``out`` and renamed
    into place by :meth:`close` (an existing ``out`` is replaced). On an exception
    inside ``with`` (or :meth:`abort`) the partial output is removed, so ``out`` is
    either complete or untouched. A process killed mid-write can leave a hidden
    ``.<name>.partial-*`` entry beside ``out``.

    Args:
        out: output folder or video file path; parent folders are created.
        frame_rate: frames per second of a video output (ignored for PNG folders);
            pass the exact Fraction, e.g. ``ClipProbe.frame_rate`` (30000/1001).
        encoder_options: libx264 options (FFmpeg names, string values) for a video
            output, e.g. ``{"preset": "veryfast", "crf": "20", "g": "12"}``.

    Raises:
        FrameWriteError: a frame rate that is not positive; and see :meth:`write`,
            :meth:`close`.
    """

    def __init__(self, out: str | os.PathLike, frame_rate: Fraction = Fraction(24),
                 encoder_options: dict[str, str] | None = None) -> None:
        self.out = Path(out)
        self._encoder_options = {"crf": "12", "preset": "medium", **(encoder_options or {})}
        # Bound the denominator: a float such as 29.97 would otherwise become a
        # 50-bit fraction that no encoder time base can hold.
        self.frame_rate = Fraction(frame_rate).limit_denominator(100_000)
        if self.frame_rate <= 0:
            raise FrameWriteError(f"frame rate for {self.out.name} must be positive, got {frame_rate}")
        self._format = VIDEO_OUTPUT_FORMATS.get(self.out.suffix.lower())
        self._temp: Path | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._shape: tuple[int, ...] | None = None
        self._last_number: int | None = None
        self._written = 0
        self._closed = False

    @property
    def is_video(self) -> bool:
        """True when the output is a video file, False for a folder of PNGs."""
        return self._format is not None

    @property
    def frames_written(self) -> int:
        """Number of frames written so far."""
        return self._written

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame_number: int, frame: np.ndarray) -> None:
        """Write one frame.

        Args:
            frame_number: the frame's number in its clip (names the PNG file).
            frame: uint8 [H, W, 3] RGB, the same size for every frame.

        Raises:
            FrameWriteError: the writer is closed; the frame is not uint8 [H, W, 3] or
                changes size; the number does not follow the previous one (increasing
                for PNG folders, consecutive for video); odd width/height for video;
                the file cannot be written or encoded.
        """
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            described = f"{frame.dtype} {list(frame.shape)}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise FrameWriteError(f"frame {frame_number} must be uint8 [H, W, 3] RGB, got {described}")
        self._write(frame_number, frame, frame.shape)

    def write_picture(self, frame_number: int, picture: av.VideoFrame) -> None:
        """Write one decoded picture, already yuv420p at the output size, to a video output —
        without a round trip through RGB (review proxies: decode, scale, encode).

        The picture's colour tags are taken as they are (pass the source's: a proxy keeps the
        original's matrix and range). Raises as :meth:`write`, and ``FrameWriteError`` for a
        PNG-folder output or a picture that is not yuv420p.
        """
        if not self.is_video:
            raise FrameWriteError(f"{self.out.name} is a folder of PNGs; write RGB frames with write()")
        if picture.format.name != "yuv420p":
            raise FrameWriteError(f"frame {frame_number} must be a yuv420p picture, got {picture.format.name}")
        self._write(frame_number, picture, (picture.height, picture.width, 3))

    def _write(self, frame_number, frame: np.ndarray | av.VideoFrame, shape: tuple[int, ...]) -> None:
        if self._closed:
            raise FrameWriteError(f"writer for {self.out.name} is already closed")
        if isinstance(frame_number, bool) or not isinstance(frame_number, (int, np.integer)) or frame_number < 0:
            raise FrameWriteError(f"frame number must be a non-negative integer, got {frame_number!r}")
        frame_number = int(frame_number)
        if self._shape is not None and shape != self._shape:
            raise FrameWriteError(
                f"frame {frame_number} is {shape[1]}x{shape[0]} but earlier frames of "
                f"{self.out.name} are {self._shape[1]}x{self._shape[0]}"
            )
        if self._last_number is not None:
            if self.is_video and frame_number != self._last_number + 1:
                raise FrameWriteError(
                    f"video {self.out.name} needs consecutive frames: got frame {frame_number} "
                    f"after frame {self._last_number}"
                )
            if frame_number <= self._last_number:
                raise FrameWriteError(
                    f"frames of {self.out.name} must be written in increasing order: got frame "
                    f"{frame_number} after frame {self._last_number}"
                )
        if self._temp is None:
            self._start(shape[0], shape[1])
        try:
            if isinstance(frame, av.VideoFrame):
                self._encode_picture(frame)
            elif self.is_video:
                self._encode(frame)
            else:
                self._write_png(frame_number, frame)
        except (av.error.FFmpegError, OSError, cv2.error) as exc:
            raise FrameWriteError(f"frame {frame_number} could not be written to {self.out.name}: {exc}") from exc
        self._shape = shape
        self._last_number = frame_number
        self._written += 1

    def close(self) -> None:
        """Finish the output and rename it into place.

        Raises:
            FrameWriteError: no frame was written, the encoder failed on flush, or the
                output cannot be moved into place (the partial output is removed).
        """
        if self._closed:
            return
        if self._written == 0:
            self.abort()
            raise FrameWriteError(f"no frames were written to {self.out.name}; nothing to save")
        try:
            if self._container is not None:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                self._container.close()
                self._container = None
            self._move_into_place()
        except FrameWriteError:
            self.abort()
            raise
        except (av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise FrameWriteError(f"{self.out} could not be finished: {exc}") from exc
        self._closed = True

    def abort(self) -> None:
        """Discard everything written so far; ``out`` is left as it was."""
        self._closed = True
        if self._container is not None:
            try:
                self._container.close()
            except av.error.FFmpegError:
                pass  # the file is deleted next; a failed trailer write does not matter
            self._container = None
        if self._temp is not None:
            _remove(self._temp)
            self._temp = None

    def _start(self, height: int, width: int) -> None:
        if self.is_video and (width % 2 or height % 2):
            raise FrameWriteError(
                f"H.264 yuv420p needs an even width and height, but the frames are {width}x{height}; "
                f"write a PNG folder instead or crop the frames"
            )
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FrameWriteError(f"output folder {self.out.parent} cannot be created: {exc}") from exc
        token = uuid.uuid4().hex[:12]
        if self.is_video:
            temp = self.out.parent / f".{self.out.stem}.partial-{token}{self.out.suffix}"
            container = None
            try:
                container = av.open(str(temp), mode="w", format=self._format)
                stream = container.add_stream("libx264", rate=self.frame_rate)
                stream.width, stream.height = width, height
                stream.pix_fmt = "yuv420p"
                stream.time_base = Fraction(1) / self.frame_rate
                stream.codec_context.time_base = Fraction(1) / self.frame_rate
                stream.codec_context.colorspace = Colorspace.ITU709
                stream.codec_context.color_range = ColorRange.MPEG
                stream.codec_context.color_primaries = 1  # AVCOL_PRI_BT709
                stream.codec_context.color_trc = 1  # AVCOL_TRC_BT709
                stream.options = dict(self._encoder_options)
            except (av.error.FFmpegError, OSError) as exc:
                if container is not None:
                    container.close()
                _remove(temp)
                raise FrameWriteError(f"video {self.out} cannot be created: {exc}") from exc
            self._temp, self._container, self._stream = temp, container, stream
        else:
            temp = self.out.parent / f".{self.out.name}.partial-{token}"
            try:
                temp.mkdir()
            except OSError as exc:
                raise FrameWriteError(f"output folder {self.out} cannot be created: {exc}") from exc
            self._temp = temp

    def _encode(self, frame: np.ndarray) -> None:
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        video_frame = video_frame.reformat(
            format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )
        self._encode_picture(video_frame)

    def _encode_picture(self, picture: av.VideoFrame) -> None:
        picture.pts = self._written
        picture.time_base = Fraction(1) / self.frame_rate
        for packet in self._stream.encode(picture):
            self._container.mux(packet)

    def _write_png(self, frame_number: int, frame: np.ndarray) -> None:
        target = self._temp / f"{frame_number:06d}.png"
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(target), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise FrameWriteError(f"{target} could not be written (disk full or no permission?)")

    def _move_into_place(self) -> None:
        if self.is_video:
            if self.out.is_dir():
                raise FrameWriteError(f"{self.out} is a folder; cannot replace it with a video file")
            os.replace(self._temp, self.out)
        elif self.out.exists() and not self.out.is_dir():
            raise FrameWriteError(f"{self.out} is a file; cannot replace it with a folder of PNG frames")
        elif self.out.exists():
            # A non-empty folder cannot be replaced in one rename: move the old one aside
            # first. `out` is briefly absent, but never holds a mix of old and new frames.
            old = self.out.parent / f".{self.out.name}.replaced-{uuid.uuid4().hex[:12]}"
            os.replace(self.out, old)
            os.replace(self._temp, self.out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self._temp, self.out)
        self._temp = None


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

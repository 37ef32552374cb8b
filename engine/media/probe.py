"""Probing footage: what a clip is (codec, size, exact frame rate and count, timecode, encoding).

A clip is either a video file (anything FFmpeg demuxes, read through PyAV) or a folder
of numbered images (``00000.png``, ``frame_0001.jpg``, …). Frames are counted from 0 at
the start of the clip, whatever the clip's start timecode, and frame ranges are
half-open ``[first, stop)`` like CMX3600 / OpenTimelineIO out points. In a folder, frame
N is the N-th image in numeric order of the file names (the numbers order the images;
they need not start at 0 or be contiguous).

A probe records the clip's *encoding* (:class:`Encoding`: bits per sample and whether samples
are integer code values or half/float) and its colour-space tag where the file carries one
(an EXR's ``colorInteropID``, a movie's ``ocio_colorspace`` metadata); which OCIO colour space
the engine reads the clip in is decided by :func:`engine.media.colour.input_colorspace`.

Reading frames is :mod:`engine.media.decode`; writing them, :mod:`engine.media.encode`.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error

from engine.errors import FrameSourceError

log = logging.getLogger(__name__)

#: Image extensions read as numbered frames of a folder clip (lower case, no dot).
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "tif", "tiff", "bmp", "exr", "dpx"})
#: Frame rate assumed for a folder of images, which carries none (frames per second).
IMAGE_SEQUENCE_FRAME_RATE = Fraction(24)

_NUMBERED_IMAGE = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)$")
_TIMECODE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;.]\d{2}$")


#: Metadata keys of a movie that name its OCIO colour space (written by FrameWriter).
COLORSPACE_TAGS = ("ocio_colorspace", "ocio:colorspace")


@dataclass(frozen=True)
class Encoding:
    """How a clip stores its samples — what a fix's output keeps.

    Attributes:
        bit_depth: bits per colour sample (8, 10, 12, 16 for integers; 16 for half, 32 for float).
        sample_type: ``"uint"`` (integer code values), ``"half"`` or ``"float"``.
    """

    bit_depth: int = 8
    sample_type: str = "uint"

    @property
    def is_8bit(self) -> bool:
        """True for 8-bit integer sources, the engine's 8-bit fast paths apply."""
        return self.sample_type == "uint" and self.bit_depth <= 8


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
        sample_type: ``"uint"`` (integer code values), ``"half"`` or ``"float"`` (EXR).
        colorspace_tag: the colour space the file names (EXR ``colorInteropID``, movie metadata
            ``ocio_colorspace``), as written; None when it names none.
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
    sample_type: str = "uint"
    colorspace_tag: str | None = None

    @property
    def encoding(self) -> Encoding:
        """The clip's :class:`Encoding` (8-bit integer when the bit depth is unknown)."""
        return Encoding(bit_depth=self.bit_depth or 8, sample_type=self.sample_type)


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
    with open_video(path) as container:
        stream = video_stream(container, path)
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
            colorspace_tag=_find_tag(container, stream, COLORSPACE_TAGS),
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


def open_video(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise FrameSourceError(f"{path.name} is not a readable video file: {exc}") from exc
    except OSError as exc:
        raise FrameSourceError(f"{path} cannot be opened: {exc}") from exc


def video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    """The first video stream of an open container.

    Raises:
        FrameSourceError: no video stream, or one FFmpeg has no decoder for (e.g. an SVG or
            another still format read as a one-picture stream, whatever its extension).
    """
    if not container.streams.video:
        raise FrameSourceError(f"{path.name} has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.width or not stream.height:
        raise FrameSourceError(
            f"{path.name} is not video footage Loupe can decode (FFmpeg reads it as "
            f"{container.format.name!r} with no usable video decoder)"
        )
    return stream


@dataclass(frozen=True)
class ImageFolder:
    """The numbered images of a folder clip, in frame order."""

    files: tuple[Path, ...]
    extension: str


def list_image_folder(folder: Path) -> ImageFolder:
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
    return ImageFolder(files=tuple(p for _, p in numbered), extension=extension)


def _probe_image_folder(folder: Path) -> ClipProbe:
    from engine.media.images import image_info  # OpenImageIO, for image sequences only: probing a video needs PyAV alone

    images = list_image_folder(folder)
    info = image_info(images.files[0])
    return ClipProbe(
        codec=images.extension,
        pixel_format=_image_pixel_format(info.channels, info.sample_type, info.bit_depth),
        width=info.width,
        height=info.height,
        frame_rate=IMAGE_SEQUENCE_FRAME_RATE,
        frame_count=len(images.files),
        start_timecode=None,
        container_format="image_sequence",
        bit_depth=info.bit_depth,
        sample_type=info.sample_type,
        colorspace_tag=info.colorspace_tag,
    )


def _image_pixel_format(channels: int, sample_type: str, bits: int) -> str:
    """An FFmpeg-style pixel format name for an image's samples (``rgb24``, ``rgb48``, ``rgbhalf``)."""
    layout = {1: "gray", 3: "rgb", 4: "rgba"}.get(channels, f"{channels}ch")
    if sample_type == "uint" and bits <= 8:
        return {1: "gray", 3: "rgb24", 4: "rgba"}.get(channels, f"{layout}8")
    if sample_type == "uint":
        return {1: "gray16", 3: "rgb48", 4: "rgba64"}.get(channels, f"{layout}16")
    return f"{layout}{'f16' if sample_type == 'half' else 'f32'}"

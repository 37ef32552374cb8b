"""Decoding footage: frame-accurate reading of a clip's frames (:class:`FrameSource`).

Clips and frame numbering are as in :mod:`engine.media.probe`.

Two views of the same frames:

- ``frames()``: uint8 [H, W, 3] RGB — exactly the stored codes of 8-bit sources (the engine's
  8-bit fast paths), a rounded 8-bit view of others (analysis only: no fix writes it for a
  high-bit-depth source).
- ``frames(as_float=True)``: float32 [H, W, 3] RGB at source precision — integer sources as
  code value / (2^n − 1) (video through 16-bit RGB, so 10- and 12-bit codes survive), EXR half
  and float samples as stored. :class:`engine.media.encode.FrameWriter` with the source's
  :class:`~engine.media.probe.Encoding` writes them back to the same codes.

Colour: video frames are converted to RGB by libswscale using the YUV matrix and range the
stream is tagged with (BT.709, BT.601, …; untagged streams get FFmpeg's default, BT.601).
Image sequences other than 8-bit PNG/JPEG/BMP (EXR, DPX, 16-bit PNG and TIFF) are read through
OpenImageIO (:mod:`engine.media.images`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from engine.errors import FrameSourceError, ParameterError
from engine.media.probe import ClipProbe, Encoding, list_image_folder, open_video, probe, video_stream

#: Image extensions read through OpenCV when 8-bit (faster than OpenImageIO for these).
_OPENCV_8BIT = frozenset({"png", "jpg", "jpeg", "bmp"})

log = logging.getLogger(__name__)


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
        input_colorspace: the OCIO colour space a person chose for the clip
            (``--input-colorspace``, the clip's setting in the portal); None to take it from
            the file (see :attr:`colorspace`).

    Raises:
        FrameSourceError: the clip cannot be probed, or the range is empty or outside
            the clip (the message names the file and its frame count).
    """

    path: Path
    first: int = 0
    stop: int | None = None
    input_colorspace: str | None = None
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
        if self.input_colorspace is not None:
            from engine.media.colour import input_colorspace  # OpenColorIO: reading a video needs PyAV alone

            try:
                resolved = input_colorspace(clip, self.input_colorspace)
            except ParameterError as exc:
                raise FrameSourceError(f"{self.path.name}: {exc}") from exc
            object.__setattr__(self, "input_colorspace", resolved)
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

    def require_8bit(self, fix: str) -> None:
        """For fixes that work on 8-bit frames only so far: refuse a deeper clip rather than
        write an 8-bit version of it (issue #21: no 8-bit step for high-bit-depth sources).

        Raises:
            ParameterError: the clip is deeper than 8 bits (the message names it and the fix).
        """
        if not self.encoding.is_8bit:
            encoding = self.encoding
            kind = "integer" if encoding.sample_type == "uint" else encoding.sample_type
            raise ParameterError(
                f"{fix} works on 8-bit footage only so far, and {self.path.name} is {encoding.bit_depth}-bit "
                f"{kind}; run it on an 8-bit transcode, or use a fix that keeps source precision "
                f"(shot match, look, object removal)"
            )

    @property
    def frame_range(self) -> range:
        """The frame numbers of this source, ``range(first, stop)`` with stop resolved."""
        stop = self._probe.frame_count if self.stop is None else self.stop
        return range(self.first, stop)

    def __len__(self) -> int:
        """Number of frames in the range."""
        return len(self.frame_range)

    @property
    def colorspace(self) -> str:
        """The OCIO colour space the frames are in: :attr:`input_colorspace` when given, else
        what the file names or implies, else Rec.709 (:func:`engine.media.colour.input_colorspace`)."""
        from engine.media.colour import input_colorspace  # OpenColorIO: reading a video needs PyAV alone

        return self.input_colorspace or input_colorspace(self._probe)

    @property
    def encoding(self) -> Encoding:
        """The clip's :class:`~engine.media.probe.Encoding` (what an output keeps)."""
        return self._probe.encoding

    def frames(self, *, step: int = 1, as_float: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        """Decode the range in order.

        Args:
            step: yield every ``step``-th frame of the range (first, first+step, …);
                the others are still decoded (video) but not converted to RGB.
            as_float: yield float32 frames at source precision instead of uint8 (see the
                module docstring).

        Yields:
            ``(frame_number, frame)``: frame_number counted from 0 at the start of the
            clip; frame uint8 (or, ``as_float``, float32) [H, W, 3] RGB, C-contiguous.

        Raises:
            ParameterError: ``step`` is not a positive integer.
            FrameSourceError: the clip cannot be decoded, ends before ``stop``, or an
                image of a folder is unreadable or of another size.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ParameterError(f"step must be a positive integer, got {step!r}")
        if self.path.is_dir():
            yield from self._image_frames(step, as_float)
        else:
            yield from self._video_frames(step, as_float)

    def _image_frames(self, step: int, as_float: bool) -> Iterator[tuple[int, np.ndarray]]:
        # OpenCV and OpenImageIO for image sequences only: a web process reads a video's frame with PyAV alone
        import cv2

        from engine.media.images import quantise, read_image

        images = list_image_folder(self.path)
        expected = (self._probe.height, self._probe.width)
        for number in self.frame_range[::step]:
            if number >= len(images.files):
                raise FrameSourceError(
                    f"folder {self.path} now holds {len(images.files)} images; frame {number} is gone"
                )
            file = images.files[number]
            if self.encoding.is_8bit and images.extension in _OPENCV_8BIT:
                rgb = cv2.imread(str(file), cv2.IMREAD_COLOR_RGB)
                if rgb is None:
                    raise FrameSourceError(f"{file} (frame {number} of {self.path.name}) is not a readable image")
                if as_float:
                    rgb = rgb.astype(np.float32) / np.float32(255)
            else:
                rgb = read_image(file)
                if not as_float:
                    rgb = quantise(rgb, np.uint8)
            if rgb.shape[:2] != expected:
                raise FrameSourceError(
                    f"{file.name} is {rgb.shape[1]}x{rgb.shape[0]} but frame 0 of {self.path.name} is "
                    f"{expected[1]}x{expected[0]}; every frame of a clip must have the same size"
                )
            yield number, np.ascontiguousarray(rgb)

    def _video_frames(self, step: int, as_float: bool) -> Iterator[tuple[int, np.ndarray]]:
        deep = as_float and not self.encoding.is_8bit
        frame_range = self.frame_range
        next_number = frame_range.start
        seek = next_number > 0
        while next_number < frame_range.stop:
            try:
                for number, frame in self._decode(next_number, frame_range.stop, seek=seek):
                    if (number - frame_range.start) % step == 0:
                        yield number, _to_rgb(frame, self.path, number, deep=deep, as_float=as_float)
                    next_number = number + 1
                return
            except _IrregularTimestamps as reason:
                log.info("%s: %s; decoding sequentially from frame 0 instead of seeking", self.path.name, reason)
                seek = False

    def _decode(self, start: int, stop: int, *, seek: bool) -> Iterator[tuple[int, av.VideoFrame]]:
        """Yield ``(frame_number, av.VideoFrame)`` for start <= frame_number < stop."""
        with open_video(self.path) as container:
            stream = video_stream(container, self.path)
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


def _to_rgb(frame: av.VideoFrame, path: Path, number: int, *, deep: bool = False, as_float: bool = False) -> np.ndarray:
    """uint8 RGB of a decoded picture; with ``as_float`` float32 code value / (2^n − 1), through
    16-bit RGB when ``deep`` (a source of more than 8 bits)."""
    try:
        rgb = frame.to_ndarray(format="rgb48le" if deep else "rgb24")
    except (av.error.FFmpegError, ValueError) as exc:
        raise FrameSourceError(f"{path.name}: frame {number} cannot be converted to RGB: {exc}") from exc
    if as_float:
        return rgb.astype(np.float32) / np.float32(65535 if deep else 255)
    return np.ascontiguousarray(rgb)


def read_frame(path: str | os.PathLike, frame_number: int, *, as_float: bool = False) -> np.ndarray:
    """Read one frame of a clip.

    Returns:
        uint8 [H, W, 3] RGB (float32 at source precision with ``as_float``), frame
        ``frame_number`` (0-based from the start of the clip).

    Raises:
        FrameSourceError: as :class:`FrameSource` (missing file, frame outside the clip).
    """
    source = FrameSource(Path(path), first=frame_number, stop=frame_number + 1)
    for _, frame in source.frames(as_float=as_float):
        return frame
    raise FrameSourceError(f"{Path(path).name} yielded no frame {frame_number}")  # unreachable by contract


# --------------------------------------------------------------------------- writing

"""Encoding frames: atomic writing of a fix's output as a folder of PNGs or a video file.

Output keeps the source's precision (its :class:`~engine.media.probe.Encoding`):

| source | frame folder | ``.mov`` / ``.mp4`` |
| --- | --- | --- |
| 8-bit integer | 8-bit PNG | H.264 yuv420p (8-bit) |
| 10–16-bit integer | 16-bit PNG | ``.mov``: ProRes 4444 (yuv444p10le, prores_ks profile 4) |
| half / float (EXR) | EXR half / float (zip) | ``.mov``: ProRes 4444 |

Video is limited range and encoded with and tagged as BT.709 (ITU-R BT.709-6) so players
decode it back the same way (and so :mod:`engine.media.decode` reads it back as it was
written); the OCIO colour space of the frames, when given, is recorded (EXR
``colorInteropID``, movie metadata ``ocio_colorspace``) so that a probe names it again.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import cv2
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from engine.errors import FrameWriteError
from engine.media.images import quantise, write_image
from engine.media.probe import COLORSPACE_TAGS, Encoding

log = logging.getLogger(__name__)

#: Output extensions that FrameWriter encodes as a video file, with their container format.
VIDEO_OUTPUT_FORMATS = {".mp4": "mp4", ".mov": "mov"}


class FrameWriter:
    """Write output frames atomically, as a folder of images or as a video file, at the
    precision of ``encoding`` (see the module docstring).

    If ``out`` ends in ``.mp4`` or ``.mov`` the frames are encoded (8-bit: H.264 — libx264,
    yuv420p, BT.709; by default CRF 12, preset medium — ``encoder_options`` overrides these
    libx264 options; deeper: ProRes 4444 in ``.mov``) at ``frame_rate``; frame numbers must
    then be consecutive. Otherwise ``out`` is a folder and frame N is written to
    ``{N:06d}.png`` (OpenCV, PNG compression level 1; 16-bit for deep integer sources) or
    ``{N:06d}.exr`` (half/float sources); frame numbers must increase.

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
        encoding: the source's :class:`~engine.media.probe.Encoding`; None for 8-bit.
        colorspace: OCIO colour-space name of the frames, recorded in the output; or None.

    Raises:
        FrameWriteError: a frame rate that is not positive; and see :meth:`write`,
            :meth:`close`.
    """

    def __init__(self, out: str | os.PathLike, frame_rate: Fraction = Fraction(24),
                 encoder_options: dict[str, str] | None = None, *, encoding: Encoding | None = None,
                 colorspace: str | None = None) -> None:
        self.out = Path(out)
        self.encoding = encoding if encoding is not None else Encoding()
        self.colorspace = colorspace
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
            frame_number: the frame's number in its clip (names the image file).
            frame: [H, W, 3] RGB, the same size for every frame: uint8 codes for the 8-bit
                encoding; for deeper ones float32 at source precision (code value / (2^n − 1),
                or scene values for half/float encodings) as ``FrameSource.frames(as_float=True)``
                gives them — rounded to the nearest code of the output.

        Raises:
            FrameWriteError: the writer is closed; the frame is not uint8 [H, W, 3] (8-bit
                encoding) or float32 [H, W, 3] (deeper encodings) or changes size; the number does not follow the previous one (increasing
                for PNG folders, consecutive for video); odd width/height for video;
                the file cannot be written or encoded.
        """
        allowed = (np.uint8,) if self.encoding.is_8bit else (np.float32,)
        if (not isinstance(frame, np.ndarray) or frame.dtype not in allowed or frame.ndim != 3
                or frame.shape[2] != 3):
            described = f"{frame.dtype} {list(frame.shape)}" if isinstance(frame, np.ndarray) else type(frame).__name__
            wanted = " or ".join(np.dtype(t).name for t in allowed)
            raise FrameWriteError(f"frame {frame_number} must be {wanted} [H, W, 3] RGB, got {described}")
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
                self._write_image(frame_number, frame)
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
                f"{self._codec()[0]} needs an even width and height, but the frames are {width}x{height}; "
                f"write a frame folder instead or crop the frames"
            )
        if self.is_video and not self.encoding.is_8bit and self._format != "mov":
            raise FrameWriteError(
                f"{self.out.name}: a {self.encoding.bit_depth}-bit source is written as ProRes 4444, "
                f"which needs a .mov file (or write a frame folder)"
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
                codec, pixel_format, options = self._codec()
                container = av.open(str(temp), mode="w", format=self._format,
                                    options={"movflags": "use_metadata_tags"} if self._format == "mov" else {})
                if self.colorspace:
                    container.metadata[COLORSPACE_TAGS[0]] = self.colorspace
                stream = container.add_stream(codec, rate=self.frame_rate)
                stream.width, stream.height = width, height
                stream.pix_fmt = pixel_format
                stream.time_base = Fraction(1) / self.frame_rate
                stream.codec_context.time_base = Fraction(1) / self.frame_rate
                stream.codec_context.colorspace = Colorspace.ITU709
                stream.codec_context.color_range = ColorRange.MPEG
                stream.codec_context.color_primaries = 1  # AVCOL_PRI_BT709
                stream.codec_context.color_trc = 1  # AVCOL_TRC_BT709
                stream.options = options
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

    def _codec(self) -> tuple[str, str, dict[str, str]]:
        """(FFmpeg encoder, pixel format, options) for this writer's encoding."""
        if self.encoding.is_8bit:
            return "libx264", "yuv420p", dict(self._encoder_options)
        return "prores_ks", "yuv444p10le", {"profile": "4", "vendor": "apl0"}

    def _encode(self, frame: np.ndarray) -> None:
        if self.encoding.is_8bit:
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        else:
            video_frame = av.VideoFrame.from_ndarray(quantise(frame, np.uint16), format="rgb48le")
        video_frame = video_frame.reformat(
            format=self._stream.pix_fmt, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )
        self._encode_picture(video_frame)

    def _encode_picture(self, picture: av.VideoFrame) -> None:
        picture.pts = self._written
        picture.time_base = Fraction(1) / self.frame_rate
        for packet in self._stream.encode(picture):
            self._container.mux(packet)

    def _write_image(self, frame_number: int, frame: np.ndarray) -> None:
        encoding = self.encoding
        if encoding.sample_type in ("half", "float"):
            write_image(self._temp / f"{frame_number:06d}.exr", frame, sample_type=encoding.sample_type,
                        colorspace=self.colorspace)
            return
        target = self._temp / f"{frame_number:06d}.png"
        if frame.dtype == np.float32:
            frame = quantise(frame, np.uint16)
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

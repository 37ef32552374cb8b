"""Browser review proxies: a clip re-encoded as H.264 at review resolution, frame for frame.

A proxy has exactly the original's frames, in order, at the original's exact frame rate
(a rational such as 30000/1001), so that frame N of the proxy is frame N of the original —
the property review tools most often lose (a dropped or doubled frame shifts every note after
it). A video is decoded from its first frame to its last, in order (frame N is the N-th
decoded frame, as :class:`engine.media.decode.FrameSource` numbers them), each picture scaled with area
averaging straight into yuv420p (no round trip through RGB, which would cost more than the
encode), and encoded through PyAV's libx264 (ITU-T H.264, BT.709 limited range) with a keyframe
every ``KEYFRAME_INTERVAL`` frames so that a player seeks to any frame quickly. An image
sequence goes through FrameSource's RGB frames, and so does a clip whose colour space is not a
display-referred video encoding (camera log, scene-linear, ACES — :mod:`engine.media.colour`):
its frames are read at source precision and shown through the display transform, as a viewer
would see them, not as flat log. Memory is one frame at a time.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import cv2
from av.video.reformatter import ColorRange, Colorspace

from engine.errors import Cancelled, FrameSourceError, ParameterError
from engine.media import colour
from engine.media.decode import FrameSource
from engine.media.encode import FrameWriter

#: A keyframe every this many frames: seeking decodes at most this many frames.
KEYFRAME_INTERVAL = 12
#: libx264 settings of a review proxy: visually lossless at review size, faster than real time.
PROXY_ENCODER_OPTIONS = {"preset": "veryfast", "crf": "18", "g": str(KEYFRAME_INTERVAL),
                         "keyint_min": str(KEYFRAME_INTERVAL), "sc_threshold": "0"}


def proxy_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """(width, height) of a proxy no wider than ``max_width``, the aspect kept, both even
    (yuv420p needs even sizes).

    Raises:
        ParameterError: a size or ``max_width`` below 2 pixels.
    """
    if min(width, height, max_width) < 2:
        raise ParameterError(f"cannot make a proxy of {width}x{height} no wider than {max_width} pixels")
    scale = min(1.0, max_width / width)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def write_review_proxy(source: FrameSource, out: Path, *, max_width: int,
                       progress: Callable[[int, int], None] = lambda done, total: None,
                       should_cancel: Callable[[], bool] = lambda: False) -> int:
    """Encode every frame of ``source`` into the H.264 file ``out`` (``.mp4``), no wider than
    ``max_width`` pixels, at the source's exact frame rate.

    Args:
        source: the original (a video file or image sequence), read-only.
        out: the proxy file; written atomically (complete, or not at all).
        max_width: largest proxy width in pixels.
        progress: called as ``progress(frames_done, frames_total)`` after each frame.
        should_cancel: polled between frames; True stops the encode.

    Returns:
        The number of frames written (equal to ``len(source)``).

    Raises:
        Cancelled: ``should_cancel`` answered True (nothing is left at ``out``).
        FrameSourceError / FrameWriteError: the original cannot be read or the proxy written.
        ParameterError: see :func:`proxy_size`.
    """
    probe = source.clip_probe
    size = proxy_size(probe.width, probe.height, max_width)
    total = len(source)
    with FrameWriter(out, frame_rate=probe.frame_rate, encoder_options=PROXY_ENCODER_OPTIONS) as writer:
        if not colour.is_display_video(source.colorspace):
            # Camera log, scene-linear, ACES: shown through the display transform, as a viewer sees it.
            frames = ((number, colour.display_codes(_resized(frame, size), source.colorspace))
                      for number, frame in source.frames(as_float=True))
        elif source.path.is_dir():
            frames = ((number, _resized(frame, size)) for number, frame in source.frames())
        else:
            frames = _scaled_pictures(source, size)
        for done, (number, frame) in enumerate(frames, start=1):
            if should_cancel():
                raise Cancelled(f"proxy of {source.path.name} cancelled at frame {number}")
            if isinstance(frame, av.VideoFrame):
                writer.write_picture(number, frame)
            else:
                writer.write(number, frame)
            progress(done, total)
        if writer.frames_written != total:
            raise FrameSourceError(f"{source.path.name} ended after {writer.frames_written} of its {total} frames")
    return writer.frames_written


def _resized(frame, size: tuple[int, int]):
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _scaled_pictures(source: FrameSource, size: tuple[int, int]):
    """(frame number, yuv420p BT.709 limited-range picture of ``size``) for every frame of the
    video ``source``, decoded in order on FFmpeg's threads.

    Raises:
        FrameSourceError: FFmpeg cannot read the file (named) or a frame of it.
    """
    width, height = size
    number = source.first
    try:
        with av.open(str(source.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for picture in container.decode(stream):
                if number >= source.frame_range.stop:
                    return
                if number >= source.first:
                    yield number, picture.reformat(width=width, height=height, format="yuv420p",
                                                   interpolation="AREA", dst_colorspace=Colorspace.ITU709,
                                                   dst_color_range=ColorRange.MPEG)
                number += 1
    except av.error.FFmpegError as error:
        raise FrameSourceError(f"{source.path.name}: frame {number} cannot be decoded: {error}") from error

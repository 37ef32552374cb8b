"""Deliverable media: an approved version's frames encoded at delivery specification with PyAV
(FFmpeg) — QuickTime ProRes 4444, ProRes 422 HQ or DNxHR HQX with a timecode track (``tmcd``)
carrying the source's start timecode and reel name, or an OpenEXR / DPX image sequence numbered
by source timecode.

Precision: a version's stored frames are 8-bit RGB (``reviews.media``: lossless PNG), so every
deliverable holds 8-bit pictures in a 10-bit (ProRes, DNxHR, DPX) or float (EXR) container
until the colour-managed pipeline stores them at source precision; ``PRECISION_NOTE`` says so in
the delivery notes. Values are Rec.709-encoded as stored (EXR too: not linearised).

Nothing is left half-written: media are written under a hidden temporary name beside the
destination and renamed into place when complete.
"""
from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
from av.video.reformatter import ColorRange, Colorspace


class DeliverableError(Exception):
    """A deliverable cannot be written in the asked format (the message says why and what to do)."""


@dataclass(frozen=True)
class DeliveryFormat:
    """A delivery format: FFmpeg encoder, pixel format and options; ``sequence`` formats write
    one image a frame into a folder, the others one QuickTime file."""

    name: str
    label: str
    codec: str
    pixel_format: str
    extension: str
    sequence: bool = False
    options: dict[str, str] = field(default_factory=dict)
    #: Smallest picture (width, height) the encoder accepts.
    minimum_size: tuple[int, int] = (2, 2)


DELIVERY_FORMATS: dict[str, DeliveryFormat] = {
    "prores_4444": DeliveryFormat("prores_4444", "Apple ProRes 4444", "prores_ks", "yuv444p10le", ".mov",
                                  options={"profile": "4444", "vendor": "apl0"}),
    "prores_422_hq": DeliveryFormat("prores_422_hq", "Apple ProRes 422 HQ", "prores_ks", "yuv422p10le", ".mov",
                                    options={"profile": "hq", "vendor": "apl0"}),
    "dnxhr_hqx": DeliveryFormat("dnxhr_hqx", "Avid DNxHR HQX", "dnxhd", "yuv422p10le", ".mov",
                                options={"profile": "dnxhr_hqx"}, minimum_size=(256, 120)),
    "exr": DeliveryFormat("exr", "OpenEXR sequence (float)", "exr", "gbrpf32le", ".exr", sequence=True),
    "dpx": DeliveryFormat("dpx", "DPX sequence (10-bit)", "dpx", "gbrp10le", ".dpx", sequence=True),
}
DEFAULT_FORMAT = "prores_4444"
PRECISION_NOTE = ("Precision: rendered at 8 bits per component (the versions' stored frames), in a container of "
                  "the format's depth; source bit depth and colour encoding follow once the colour-managed "
                  "pipeline stores versions at source precision.")


def timecode_frame_number(start_timecode: str, frame_rate: Fraction) -> int:
    """The frame count of a timecode at its rate (image sequences are numbered by it)."""
    return round(otio.opentime.from_timecode(start_timecode, float(frame_rate)).value)


def deliverable_write(*, folder: Path, name: str, delivery_format: DeliveryFormat, frames: Iterable[np.ndarray],
                      width: int, height: int, frame_rate: Fraction, start_timecode: str, reel: str) -> list[Path]:
    """Encode ``frames`` (uint8 [H, W, 3] RGB, ``height`` × ``width``, in order) as the
    deliverable ``name`` in ``folder``: ``name.mov`` with a ``tmcd`` track starting at
    ``start_timecode`` named ``reel``, or ``name/name.NNNNNNN.exr|dpx`` numbered from the
    timecode's frame count. Returns the files written, relative to ``folder``.

    Raises ``DeliverableError`` for a picture smaller than the format accepts or an encoder
    failure; nothing is left behind then.
    """
    minimum = delivery_format.minimum_size
    if width < minimum[0] or height < minimum[1]:
        raise DeliverableError(f"{delivery_format.label} needs pictures of at least {minimum[0]}×{minimum[1]}; "
                               f"{name} is {width}×{height}. Deliver it as ProRes, EXR or DPX.")
    token = uuid.uuid4().hex[:12]
    if delivery_format.sequence:
        final = folder / name
        temp = folder / f".{name}.partial-{token}"
        temp.mkdir(parents=True)
        target = temp / f"{name}.%07d{delivery_format.extension}"
        container = av.open(str(target), mode="w", format="image2",
                            options={"start_number": str(timecode_frame_number(start_timecode, frame_rate))})
    else:
        final = folder / f"{name}{delivery_format.extension}"
        temp = folder / f".{name}.partial-{token}{delivery_format.extension}"
        container = av.open(str(temp), mode="w", format="mov")
        container.metadata["timecode"] = start_timecode  # the mov muxer writes it as a tmcd track
    try:
        _encode(container, delivery_format, frames, width, height, frame_rate, reel)
    except (av.error.FFmpegError, ValueError, OSError) as error:
        _remove(temp)
        raise DeliverableError(f"{name} could not be encoded as {delivery_format.label}: {error}") from error
    except BaseException:
        _remove(temp)
        raise
    _remove(final)
    temp.rename(final)
    if delivery_format.sequence:
        return sorted(path.relative_to(folder) for path in final.iterdir())
    return [final.relative_to(folder)]


def _encode(container, delivery_format: DeliveryFormat, frames: Iterable[np.ndarray], width: int, height: int,
            frame_rate: Fraction, reel: str) -> None:
    try:
        stream = container.add_stream(delivery_format.codec, rate=frame_rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = delivery_format.pixel_format
        stream.time_base = Fraction(1) / frame_rate
        stream.options = dict(delivery_format.options)
        yuv = delivery_format.pixel_format.startswith("yuv")
        if yuv:
            stream.codec_context.colorspace = Colorspace.ITU709
            stream.codec_context.color_range = ColorRange.MPEG
        stream.codec_context.color_primaries = 1  # BT.709, as the stored frames are encoded
        stream.codec_context.color_trc = 1
        if reel:
            stream.metadata["reel_name"] = reel  # the mov muxer puts it on the tmcd track
        for index, frame in enumerate(frames):
            if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                raise ValueError(f"frame {index} is {frame.dtype} {frame.shape}, not uint8 {(height, width, 3)}")
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            if yuv:
                picture = picture.reformat(format=delivery_format.pixel_format, dst_colorspace=Colorspace.ITU709,
                                           dst_color_range=ColorRange.MPEG)
            else:
                picture = picture.reformat(format=delivery_format.pixel_format)
            picture.pts = index
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

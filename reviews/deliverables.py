"""Deliverable media: an approved version's frames encoded at delivery specification —
QuickTime ProRes 4444, ProRes 422 HQ or DNxHR HQX through PyAV (FFmpeg), with a timecode track
(``tmcd``) carrying the source's start timecode and reel name; or an OpenEXR (half float) / DPX
(10-bit) image sequence through OpenImageIO, numbered by source timecode, each image's header
carrying its SMPTE timecode (EXR ``timeCode``, DPX television header) and the reel (EXR
``reelName``, DPX input device).

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

import numpy as np
import opentimelineio as otio


class DeliverableError(Exception):
    """A deliverable cannot be written in the asked format (the message says why and what to do)."""


@dataclass(frozen=True)
class DeliveryFormat:
    """A delivery format: FFmpeg encoder, pixel format and options for a QuickTime file; for a
    ``sequence`` (one image a frame into a folder), OpenImageIO's pixel type in ``codec`` and
    its attributes in ``options``."""

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
    "exr": DeliveryFormat("exr", "OpenEXR sequence (half float)", "half", "", ".exr", sequence=True),
    "dpx": DeliveryFormat("dpx", "DPX sequence (10-bit)", "uint16", "", ".dpx", sequence=True,
                          options={"oiio:BitsPerSample": "10"}),
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
    # on the worker only: web processes start without OpenImageIO or PyAV (docs/adr/0010-light-web-processes.md)
    import av

    minimum = delivery_format.minimum_size
    if width < minimum[0] or height < minimum[1]:
        raise DeliverableError(f"{delivery_format.label} needs pictures of at least {minimum[0]}×{minimum[1]}; "
                               f"{name} is {width}×{height}. Deliver it as ProRes, EXR or DPX.")
    token = uuid.uuid4().hex[:12]
    if delivery_format.sequence:
        final = folder / name
        temp = folder / f".{name}.partial-{token}"
    else:
        final = folder / f"{name}{delivery_format.extension}"
        temp = folder / f".{name}.partial-{token}{delivery_format.extension}"
    try:
        if delivery_format.sequence:
            temp.mkdir(parents=True)
            _write_images(temp, name, delivery_format, frames, width, height, frame_rate, start_timecode, reel)
        else:
            container = av.open(str(temp), mode="w", format="mov")
            container.metadata["timecode"] = start_timecode  # the mov muxer writes it as a tmcd track
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


def smpte_timecode(timecode: str) -> int:
    """A timecode as the SMPTE ST 12-1 time address packed in BCD (``0xHHMMSSFF``, bit 6 of the
    frames byte set for drop-frame), as EXR and DPX headers hold it."""
    hours, minutes, seconds, frames = (int(part) for part in timecode.replace(";", ":").split(":"))
    packed = 0
    for value in (hours, minutes, seconds, frames):
        packed = (packed << 8) | ((value // 10) << 4) | (value % 10)
    return packed | (0x40 if ";" in timecode else 0)


def _check(index: int, frame: np.ndarray, width: int, height: int) -> None:
    if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
        raise ValueError(f"frame {index} is {frame.dtype} {frame.shape}, not uint8 {(height, width, 3)}")


def _write_images(folder: Path, name: str, delivery_format: DeliveryFormat, frames: Iterable[np.ndarray],
                  width: int, height: int, frame_rate: Fraction, start_timecode: str, reel: str) -> None:
    # on the worker only: web processes start without OpenImageIO or PyAV (docs/adr/0010-light-web-processes.md)
    import OpenImageIO as oiio

    rate = float(frame_rate)
    drop_frame = ";" in start_timecode
    start = otio.opentime.from_timecode(start_timecode, rate)
    first = timecode_frame_number(start_timecode, frame_rate)
    for index, frame in enumerate(frames):
        _check(index, frame, width, height)
        spec = oiio.ImageSpec(width, height, 3, delivery_format.codec)
        for attribute, value in delivery_format.options.items():
            spec.attribute(attribute, int(value))
        timecode = otio.opentime.to_timecode(start + otio.opentime.RationalTime(index, rate), rate, drop_frame)
        spec.attribute("smpte:TimeCode", oiio.TypeTimeCode, (smpte_timecode(timecode), 0))
        spec.attribute("FramesPerSecond", oiio.TypeRational, (frame_rate.numerator, frame_rate.denominator))
        if reel:
            spec.attribute("reelName", reel)  # EXR
            spec.attribute("dpx:InputDevice", reel)  # DPX
        path = folder / f"{name}.{first + index:07d}{delivery_format.extension}"
        output = oiio.ImageOutput.create(str(path))
        if output is None or not output.open(str(path), spec):
            raise OSError(f"{path.name} cannot be written: {oiio.geterror() if output is None else output.geterror()}")
        written = output.write_image(frame.astype(np.float32) / 255.0)
        output.close()
        if not written:
            raise OSError(f"{path.name} cannot be written: {output.geterror()}")


def _encode(container, delivery_format: DeliveryFormat, frames: Iterable[np.ndarray], width: int, height: int,
            frame_rate: Fraction, reel: str) -> None:
    # on the worker only: web processes start without OpenImageIO or PyAV (docs/adr/0010-light-web-processes.md)
    import av
    from av.video.reformatter import ColorRange, Colorspace

    try:
        stream = container.add_stream(delivery_format.codec, rate=frame_rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = delivery_format.pixel_format
        stream.time_base = Fraction(1) / frame_rate
        stream.options = dict(delivery_format.options)
        stream.codec_context.colorspace = Colorspace.ITU709
        stream.codec_context.color_range = ColorRange.MPEG
        stream.codec_context.color_primaries = 1  # BT.709, as the stored frames are encoded
        stream.codec_context.color_trc = 1
        if reel:
            stream.metadata["reel_name"] = reel  # the mov muxer puts it on the tmcd track
        for index, frame in enumerate(frames):
            _check(index, frame, width, height)
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24").reformat(
                format=delivery_format.pixel_format, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
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

"""Deliverable media: an approved version's frames encoded at delivery specification —
QuickTime ProRes 4444, ProRes 422 HQ or DNxHR HQX through PyAV (FFmpeg), with a timecode track
(``tmcd``) carrying the source's start timecode and reel name; or an OpenEXR (half float) / DPX
(10-bit) image sequence through OpenImageIO, numbered by source timecode, each image's header
carrying its SMPTE timecode (EXR ``timeCode``, DPX television header) and the reel (EXR
``reelName``, DPX input device).

Precision (issue #21, the colour-managed pipeline): a deliverable is written at its source's
precision, with no 8-bit step for a deeper source. Frames come as the engine's frame type
(``engine.media.decode.FrameSource``): uint8 RGB for an 8-bit source (written as today: 8-bit
pictures in the format's container); float32 RGB at source precision for a deeper one (integer
code value / (2^n − 1), or EXR scene values) — quantised once, to the nearest code of the
output: 10 bits for ProRes 4444 / 422 HQ and DNxHR HQX (FFmpeg's ``prores_ks`` and ``dnxhd``
take no deeper input), 10, 12 or 16 bits for DPX after the source (``dpx_bits``), half float for
EXR (exact for codes of up to 10 bits; deeper codes round to half's 11 significant bits).
``delivered_precision`` is the sentence the delivery notes give each version.

Colour encoding: the source's, unconverted — the delivered codes are the source's codes as the
fix wrote them (a LogC3 original is delivered as LogC3, EXR scene values stay scene values).
QuickTime files carry the source's ITU-T H.273 colour tags (primaries, transfer, matrix, range;
BT.709 limited range where the source has none), the YUV matrix used to encode is the tagged
one, and the OCIO colour space is recorded (movie metadata ``ocio_colorspace``, EXR
``colorInteropID``) so that Loupe's probe names it again.

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
    # 10 bits per component, 12 or 16 for deeper sources (dpx_bits)
    "dpx": DeliveryFormat("dpx", "DPX sequence (10-bit)", "uint16", "", ".dpx", sequence=True),
}
DEFAULT_FORMAT = "prores_4444"
#: Bits per component a QuickTime format is encoded at (its pixel format's depth).
_QUICKTIME_BITS = 10
#: The delivery notes' statement of what "precision" means; each version's line gives its own.
PRECISION_NOTE = ("Precision: each version at its source's bit depth and colour encoding (the delivered codes are "
                  "the source's codes as the fix wrote them, no colour conversion and no 8-bit step); per version "
                  "below.")

# ITU-T H.273 names (as ``engine.media.probe`` records them on a clip) → code points.
_PRIMARIES = {"bt709": 1, "bt470m": 4, "bt470bg": 5, "smpte170m": 6, "smpte240m": 7, "film": 8, "bt2020": 9,
              "smpte428": 10, "smpte431": 11, "smpte432": 12, "ebu3213": 22}
_TRANSFER = {"bt709": 1, "gamma22": 4, "gamma28": 5, "smpte170m": 6, "smpte240m": 7, "linear": 8,
             "iec61966-2-4": 11, "iec61966-2-1": 13, "bt2020-10": 14, "bt2020-12": 15, "smpte2084": 16,
             "smpte428": 17, "arib-std-b67": 18}
#: YUV matrices libswscale encodes with: H.273 name → (code point, swscale colour space).
_MATRICES = {"bt709": (1, 1), "fcc": (4, 4), "bt470bg": (5, 5), "smpte170m": (6, 5), "smpte240m": (7, 7),
             "bt2020nc": (9, 9)}


@dataclass(frozen=True)
class SourceColour:
    """A source's colour encoding, kept by its deliverables (names as ``engine.media.probe``'s
    ``ClipProbe`` gives them; empty where the source states none).

    Attributes:
        bit_depth: bits per sample (8, 10, 12, 16 integer; 16 half, 32 float).
        sample_type: ``"uint"``, ``"half"`` or ``"float"``.
        primaries, transfer, matrix, range: ITU-T H.273 names (``"bt709"``; range ``"limited"``/``"full"``).
        colorspace: the OCIO colour space the clip is read in (``Clip.input_colorspace``), or empty.
    """

    bit_depth: int = 8
    sample_type: str = "uint"
    primaries: str = ""
    transfer: str = ""
    matrix: str = ""
    range: str = ""
    colorspace: str = ""

    @property
    def is_8bit(self) -> bool:
        """An 8-bit integer source: frames are uint8 and take today's 8-bit path."""
        return self.sample_type == "uint" and self.bit_depth <= 8

    @property
    def described(self) -> str:
        """``10-bit integer``, ``half float``, …"""
        if self.sample_type == "uint":
            return f"{self.bit_depth}-bit integer"
        return "half float" if self.sample_type == "half" else f"{self.bit_depth}-bit float"


def dpx_bits(source: SourceColour) -> int:
    """A DPX deliverable's bits per component: 10 for sources of up to 10 bits, 12 for 12-bit
    sources, 16 for deeper integer and for half/float sources."""
    if source.sample_type == "uint" and source.bit_depth <= 10:
        return 10
    if source.sample_type == "uint" and source.bit_depth <= 12:
        return 12
    return 16


def delivered_precision(delivery_format: DeliveryFormat, source: SourceColour, *, stored_bits: int | None = None) -> str:
    """What the delivery notes say of one version's precision: the source's depth and colour
    encoding and the depth of the delivered pictures. ``stored_bits``: the depth of the
    version's stored rendered frames when it is below the source's (a version rendered before
    the colour-managed pipeline kept 8-bit frames), which then bounds its fixed frames."""
    if delivery_format.name == "exr":
        container = "half float"
    elif delivery_format.sequence:
        container = f"{dpx_bits(source)}-bit"
    else:
        container = f"{_QUICKTIME_BITS}-bit"
    colour = source.colorspace or "as tagged"
    tags = "/".join(tag for tag in (source.primaries, source.transfer, source.matrix, source.range) if tag)
    colour += f", tags {tags}" if tags else ""
    if source.is_8bit:
        text = f"8 bits per component (the source's), in a {container} {delivery_format.label} container"
    else:
        text = f"source {source.described}, delivered {container}"
        if delivery_format.name == "exr" and source.sample_type == "uint" and source.bit_depth > 10:
            text += " (codes beyond 10 bits rounded to half's 11 significant bits)"
        elif not delivery_format.sequence and source.bit_depth > _QUICKTIME_BITS:
            text += f" (reduced to {_QUICKTIME_BITS} bits: {delivery_format.label}'s encoder takes no deeper input)"
        elif delivery_format.name == "dpx" and source.sample_type != "uint":
            text += " (float values clipped to 0–1)"
    if stored_bits is not None and (source.sample_type != "uint" or stored_bits < source.bit_depth):
        text += (f"; the fixed frames as stored at {stored_bits} bits" + (" (rendered before source precision)"
                                                                       if stored_bits == 8 else ", clipped to 0–1"))
    return f"{text}; colour encoding the source's ({colour}), not converted"


def timecode_frame_number(start_timecode: str, frame_rate: Fraction) -> int:
    """The frame count of a timecode at its rate (image sequences are numbered by it)."""
    return round(otio.opentime.from_timecode(start_timecode, float(frame_rate)).value)


def deliverable_write(*, folder: Path, name: str, delivery_format: DeliveryFormat, frames: Iterable[np.ndarray],
                      width: int, height: int, frame_rate: Fraction, start_timecode: str, reel: str,
                      source: SourceColour | None = None) -> list[Path]:
    """Encode ``frames`` (``height`` × ``width`` [H, W, 3] RGB, in order: uint8 for an 8-bit
    ``source``, float32 at source precision for a deeper one — see the module docstring) as
    the deliverable ``name`` in ``folder``: ``name.mov`` with a ``tmcd`` track starting at
    ``start_timecode`` named ``reel``, or ``name/name.NNNNNNN.exr|dpx`` numbered from the
    timecode's frame count, at the source's precision and in its colour encoding (``source``;
    None: an 8-bit BT.709 source). Returns the files written, relative to ``folder``.

    Raises ``DeliverableError`` for a picture smaller than the format accepts, a frame of
    another size or type, or an encoder failure; nothing is left behind then.
    """
    source = source or SourceColour()
    # on the worker only: web processes start without OpenImageIO or PyAV (docs/adr/0010-light-web-processes.md)
    import av

    from engine.media.probe import COLORSPACE_TAGS

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
            _write_images(temp, name, delivery_format, frames, width, height, frame_rate, start_timecode, reel,
                          source)
        else:
            container = av.open(str(temp), mode="w", format="mov",
                                options={"movflags": "use_metadata_tags"} if source.colorspace else {})
            container.metadata["timecode"] = start_timecode  # the mov muxer writes it as a tmcd track
            if source.colorspace:
                container.metadata[COLORSPACE_TAGS[0]] = source.colorspace
            _encode(container, delivery_format, frames, width, height, frame_rate, reel, source)
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


def _check(index: int, frame: np.ndarray, width: int, height: int, source: SourceColour) -> None:
    wanted = np.uint8 if source.is_8bit else np.float32
    if frame.shape != (height, width, 3) or frame.dtype != wanted:
        raise ValueError(f"frame {index} is {frame.dtype} {frame.shape}, not {np.dtype(wanted).name} "
                         f"{(height, width, 3)}")


def _image_samples(frame: np.ndarray, delivery_format: DeliveryFormat, source: SourceColour) -> np.ndarray:
    """float32 samples for OpenImageIO: EXR values as they are (8-bit codes / 255); for DPX the
    nearest code of its depth, as code / (2^n − 1), which OpenImageIO writes as that code."""
    if source.is_8bit:
        return frame.astype(np.float32) / np.float32(255)
    if delivery_format.name == "exr":
        return frame
    top = (1 << dpx_bits(source)) - 1
    return (np.clip(np.rint(frame * np.float32(top)), 0, top) / np.float32(top)).astype(np.float32)


def _write_images(folder: Path, name: str, delivery_format: DeliveryFormat, frames: Iterable[np.ndarray],
                  width: int, height: int, frame_rate: Fraction, start_timecode: str, reel: str,
                  source: SourceColour) -> None:
    # on the worker only: web processes start without OpenImageIO or PyAV (docs/adr/0010-light-web-processes.md)
    import OpenImageIO as oiio

    rate = float(frame_rate)
    drop_frame = ";" in start_timecode
    start = otio.opentime.from_timecode(start_timecode, rate)
    first = timecode_frame_number(start_timecode, frame_rate)
    for index, frame in enumerate(frames):
        _check(index, frame, width, height, source)
        spec = oiio.ImageSpec(width, height, 3, delivery_format.codec)
        if delivery_format.name == "dpx":
            spec.attribute("oiio:BitsPerSample", dpx_bits(source))
        elif source.colorspace:
            spec.attribute("colorInteropID", source.colorspace)  # EXR: the OCIO colour space, as FrameWriter writes it
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
        written = output.write_image(_image_samples(frame, delivery_format, source))
        output.close()
        if not written:
            raise OSError(f"{path.name} cannot be written: {output.geterror()}")


def _encode(container, delivery_format: DeliveryFormat, frames: Iterable[np.ndarray], width: int, height: int,
            frame_rate: Fraction, reel: str, source: SourceColour) -> None:
    # on the worker only: web processes start without OpenImageIO or PyAV (docs/adr/0010-light-web-processes.md)
    import av
    from av.video.reformatter import ColorRange, Colorspace

    from engine.media.images import quantise

    try:
        stream = container.add_stream(delivery_format.codec, rate=frame_rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = delivery_format.pixel_format
        stream.time_base = Fraction(1) / frame_rate
        stream.options = dict(delivery_format.options)
        # The source's tags (BT.709, limited range where it has none), and its matrix to encode with.
        matrix, swscale_matrix = _MATRICES.get(source.matrix, _MATRICES["bt709"])
        color_range = ColorRange.JPEG if source.range == "full" else ColorRange.MPEG
        stream.codec_context.colorspace = matrix
        stream.codec_context.color_range = color_range
        stream.codec_context.color_primaries = _PRIMARIES.get(source.primaries, 1)
        stream.codec_context.color_trc = _TRANSFER.get(source.transfer, 1)
        if reel:
            stream.metadata["reel_name"] = reel  # the mov muxer puts it on the tmcd track
        for index, frame in enumerate(frames):
            _check(index, frame, width, height, source)
            if source.is_8bit:
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            else:  # 16-bit RGB into the encoder's 10-bit YUV: one rounding, to the output's codes
                picture = av.VideoFrame.from_ndarray(quantise(frame, np.uint16), format="rgb48le")
            picture = picture.reformat(format=delivery_format.pixel_format, dst_colorspace=Colorspace(swscale_matrix),
                                       dst_color_range=color_range)
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

"""Still images at source precision through OpenImageIO: EXR (half, float), DPX (10/12/16-bit),
TIFF and PNG (8/16-bit), JPEG — what a folder clip's numbered frames may be.

Samples come back as float32 [H, W, 3] RGB: integer images as code value / (2^n − 1) of their
stored type (OpenImageIO widens 10- and 12-bit DPX to 16 bits by bit replication, so a 10-bit
code c reads as (c·64 + c//16) / 65535), half and float images as stored (scene-linear values
above 1 and below 0 are kept). Grey images are repeated into R, G and B; alpha and further
channels are dropped.

OpenImageIO (Gritz et al., Academy Software Foundation) reads and writes the files; its
``oiio:ColorSpace`` attribute (from EXR's ``colorInteropID``, a PNG's sRGB chunk, …) is reported
as the image's colour-space tag for EXR files (for other formats it is OpenImageIO's guess, not
the file's statement, and is left out).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from engine.errors import FrameSourceError, FrameWriteError

#: OpenImageIO's base type names → (sample type, bits).
_TYPES = {"uint8": ("uint", 8), "uint16": ("uint", 16), "half": ("half", 16), "float": ("float", 32),
          "uint32": ("uint", 32), "double": ("float", 64)}


@dataclass(frozen=True)
class ImageInfo:
    """What one image file holds.

    Attributes:
        width, height: picture size in pixels.
        channels: stored channels (1 grey, 3 RGB, 4 RGBA, …).
        sample_type: ``"uint"`` (integer code values), ``"half"`` or ``"float"``.
        bit_depth: bits per stored sample (8, 10, 12, 16, 32); a 10-bit DPX reports 10.
        colorspace_tag: the file's colour-space attribute as written, or None.
    """

    width: int
    height: int
    channels: int
    sample_type: str
    bit_depth: int
    colorspace_tag: str | None


def _open(path: Path) -> oiio.ImageInput:
    image = oiio.ImageInput.open(str(path))
    if image is None:
        raise FrameSourceError(f"{path.name} is not a readable image: {oiio.geterror() or 'unknown format'}")
    return image


def image_info(path: str | os.PathLike) -> ImageInfo:
    """Read the header of one image.

    Raises:
        FrameSourceError: the file is missing or not an image OpenImageIO reads.
    """
    path = Path(path)
    image = _open(path)
    try:
        spec = image.spec()
        sample_type, bits = _TYPES.get(str(spec.format), ("float", 32))
        stored_bits = spec.get_int_attribute("oiio:BitsPerSample", 0)
        if sample_type == "uint" and 0 < stored_bits < bits:
            bits = stored_bits
        # Only EXR states its colour space; for PNG, TIFF or DPX OpenImageIO reports a guess.
        tag = (spec.get_string_attribute("oiio:ColorSpace", "") or None) if image.format_name() == "openexr" else None
        return ImageInfo(width=spec.width, height=spec.height, channels=spec.nchannels,
                         sample_type=sample_type, bit_depth=bits, colorspace_tag=tag)
    finally:
        image.close()


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read one image at its stored precision.

    Returns:
        float32 [H, W, 3] RGB, C-contiguous (see the module docstring for the scale).

    Raises:
        FrameSourceError: unreadable or truncated file, or no pixels.
    """
    path = Path(path)
    image = _open(path)
    try:
        pixels = image.read_image(format="unknown")
        if pixels is None or pixels.size == 0:
            raise FrameSourceError(f"{path.name} could not be decoded: {image.geterror() or oiio.geterror()}")
    finally:
        image.close()
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if np.issubdtype(pixels.dtype, np.integer):
        rgb = pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)
    else:
        rgb = pixels.astype(np.float32)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return np.ascontiguousarray(rgb[..., :3])


def quantise(frame: np.ndarray, dtype: type) -> np.ndarray:
    """Integer codes (uint8 or uint16) of a float32 frame holding code value / (2^n − 1):
    rounded to the nearest code, clipped to the type's range — the inverse of :func:`read_image`'s
    scaling, so a frame read and written unchanged keeps its codes."""
    top = np.iinfo(dtype).max
    return np.clip(np.rint(frame * np.float32(top)), 0, top).astype(dtype)


def write_image(path: str | os.PathLike, frame: np.ndarray, *, sample_type: str,
                colorspace: str | None = None) -> None:
    """Write one RGB image at a given precision.

    Args:
        path: file to write; its extension chooses the format (``.png``, ``.tif``, ``.exr``, ``.dpx``).
        frame: [H, W, 3] RGB — uint8 or uint16 code values written as they are, or float32
            (code value / (2^n − 1) for integer outputs, rounded to the nearest code and clipped
            to the range; scene values as they are for EXR).
        sample_type: ``"uint8"``, ``"uint16"``, ``"half"`` or ``"float"``.
        colorspace: OCIO colour-space name recorded in the file (EXR ``colorInteropID``), or None.

    Raises:
        FrameWriteError: an unsupported type or a file that cannot be written.
    """
    path = Path(path)
    if sample_type in ("uint8", "uint16"):
        if frame.dtype != np.dtype(sample_type):
            frame = quantise(frame, np.dtype(sample_type).type)
    elif sample_type in ("half", "float"):
        frame = frame.astype(np.float32)
    else:
        raise FrameWriteError(f"{path.name}: unknown sample type {sample_type!r}")
    spec = oiio.ImageSpec(int(frame.shape[1]), int(frame.shape[0]), 3, sample_type)
    if path.suffix.lower() == ".exr":
        spec.attribute("compression", "zip")
        if colorspace:
            spec.attribute("colorInteropID", colorspace)
    elif path.suffix.lower() == ".png":
        spec.attribute("png:compressionLevel", 1)
    output = oiio.ImageOutput.create(str(path))
    if output is None:
        raise FrameWriteError(f"{path.name}: no writer for this format ({oiio.geterror()})")
    try:
        if not output.open(str(path), spec) or not output.write_image(np.ascontiguousarray(frame)):
            raise FrameWriteError(f"{path} could not be written: {output.geterror()}")
    finally:
        output.close()

"""Camera originals made in a test from shared footage (issue #21): frames of a real Rec.709
clip, scaled down, converted through OCIO to ARRI LogC3 and written at source precision — as
10-bit ProRes 4444 (``.mov``) or as a half-float EXR sequence (a folder) — tagged LogC3, as a
supervisor ingests a camera original."""
from pathlib import Path

import cv2

from engine.media import colour
from engine.media.decode import FrameSource
from engine.media.encode import FrameWriter
from engine.media.probe import Encoding

LOGC3 = "ARRI LogC3 (EI800)"
FRAMES = 4
SIZE = (320, 180)  # small: the tests are about precision, not resolution


def camera_original(clip: Path, out: Path, encoding: Encoding = Encoding(10, "uint"), *, frames: int = FRAMES,
                    size: tuple[int, int] = SIZE) -> Path:
    """The first ``frames`` frames of ``clip`` scaled to ``size`` (width, height) with area
    averaging, converted from Rec.709 to ARRI LogC3 and written to ``out`` at ``encoding``
    (10-bit → ProRes 4444 .mov; half → EXR folder). Returns ``out``."""
    to_logc = colour.colorspace_transform(colour.REC709, LOGC3)
    with FrameWriter(out, encoding=encoding, colorspace=LOGC3) as writer:
        for number, frame in FrameSource(clip, 0, frames).frames(as_float=True):
            writer.write(number, to_logc(cv2.resize(frame, size, interpolation=cv2.INTER_AREA)))
    return out

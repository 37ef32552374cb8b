"""Likeness screening: does a fix region hold a performer's face?

The portal asks this of every fix request so that a fix touching a performer's likeness is
flagged for the guild-consent workflow (SAG-AFTRA 2023: a digital alteration of a performer's
likeness or performance needs their informed consent). The engine only suggests; the post
supervisor classifies.

Detector: OpenCV's frontal-face LBP cascade (``lbpcascade_frontalface``, Liao et al., "Learning
Multi-scale Block Local Binary Patterns for Face Recognition", ICB 2007; boosted cascade after
Viola & Jones, CVPR 2001), as shipped inside scikit-image (``skimage.data``) and evaluated by
``skimage.feature.Cascade``. OpenCV 5's Python wheels no longer carry the ``objdetect`` cascades,
so scikit-image's copy is the one a registry package ships. Nothing is downloaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from engine.errors import ParameterError
from engine.media.decode import FrameSource

#: Frames are scanned at this width (px); faces smaller than MIN_FACE_PX at this width are missed.
SCAN_WIDTH_PX = 480
MIN_FACE_PX = 24
#: A detection counts only where at least this share of its box lies inside the fix region.
MIN_INSIDE_FRACTION = 0.5
#: Neighbouring windows that must agree before a face is reported (the cascade's false-alarm guard).
MIN_NEIGHBOURS = 3
METHOD = "engine.ops.likeness — LBP frontal-face cascade (Liao et al. 2007), via scikit-image"


@dataclass(frozen=True)
class FaceBox:
    """One detected face, in pixels of the original frame: top-left ``x``, ``y``, ``width``, ``height``."""

    frame: int
    x: int
    y: int
    width: int
    height: int

    def to_dict(self) -> dict:
        return {"frame": self.frame, "x": self.x, "y": self.y, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class LikenessScreening:
    """What a screening found: the frames scanned and the faces inside the fix region."""

    frames_scanned: list[int]
    faces: list[FaceBox] = field(default_factory=list)
    method: str = METHOD

    @property
    def flagged(self) -> bool:
        """True when a face was found inside the fix region on any scanned frame."""
        return bool(self.faces)

    def to_dict(self) -> dict:
        return {"method": self.method, "frames_scanned": self.frames_scanned, "flagged": self.flagged,
                "faces": [face.to_dict() for face in self.faces]}


@lru_cache(maxsize=1)
def _cascade():
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def detect_faces(frame: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal faces in one frame.

    Args:
        frame: uint8 [H, W, 3] RGB.

    Returns:
        ``(x, y, width, height)`` boxes in pixels of ``frame``.

    Raises:
        ParameterError: ``frame`` is not uint8 [H, W, 3].
    """
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ParameterError(f"a frame must be uint8 [H, W, 3] RGB, got {frame.dtype} {list(frame.shape)}")
    height, width = frame.shape[:2]
    scale = SCAN_WIDTH_PX / width
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    scan_height = max(MIN_FACE_PX, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    grey = cv2.resize(grey, (SCAN_WIDTH_PX, scan_height), interpolation=interpolation)
    found = _cascade().detect_multi_scale(
        img=grey.astype(np.float32) / 255.0, scale_factor=1.2, step_ratio=1,
        min_size=(MIN_FACE_PX, MIN_FACE_PX), max_size=(scan_height, scan_height),
        min_neighbor_number=MIN_NEIGHBOURS)
    return [(round(box["c"] / scale), round(box["r"] / scale), round(box["width"] / scale),
             round(box["height"] / scale)) for box in found]


def screen(source: FrameSource, *, region: np.ndarray | None = None, samples: int = 8) -> LikenessScreening:
    """Look for faces inside the fix region on ``samples`` frames spread evenly over ``source``.

    Args:
        source: the fix request's frames.
        region: bool [H, W], True where the fix may change pixels; None for the whole frame
            (shot match, relight and look transfer change the whole frame).
        samples: how many frames to scan (at least 1; fewer when the range is shorter).

    Returns:
        A :class:`LikenessScreening`; ``flagged`` when any face box lies at least
        ``MIN_INSIDE_FRACTION`` inside the region.

    Raises:
        ParameterError: ``samples`` is not a positive integer, or ``region`` does not match
            the frame size.
        FrameSourceError: the footage cannot be decoded.
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ParameterError(f"samples must be a positive integer, got {samples!r}")
    step = max(1, len(source) // samples)
    scanned, faces = [], []
    for number, frame in source.frames(step=step):
        if len(scanned) == samples:
            break
        scanned.append(number)
        if region is not None and region.shape != frame.shape[:2]:
            raise ParameterError(f"region is {list(region.shape)} but frames are {list(frame.shape[:2])}")
        for x, y, width, height in detect_faces(frame):
            if region is not None:
                inside = region[max(0, y):y + height, max(0, x):x + width].mean() if width and height else 0.0
                if inside < MIN_INSIDE_FRACTION:
                    continue
            faces.append(FaceBox(frame=number, x=x, y=y, width=width, height=height))
    return LikenessScreening(frames_scanned=scanned, faces=faces)

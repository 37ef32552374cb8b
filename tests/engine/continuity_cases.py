"""Continuity cases made from real footage by real edits, shared by the tests and bench/continuity.py.

Two takes of one setup are two stretches of one real clip (people move, a handheld camera moves
between them). A change is made by pasting a real object — the red cup of ``sam2_02_cups.mp4``,
cut out along its own colour — into every frame of one take at a known place (or at two places,
one per take, for a moved prop), or by a real exposure change of one take. The takes are written
as folders of PNGs at ``WIDTH`` pixels wide, only the frames the check samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.media.decode import FrameSource, read_frame
from engine.media.encode import FrameWriter

#: Width of the written takes (pixels).
WIDTH = 480


@dataclass(frozen=True)
class Case:
    """A pair of takes and the change between them.

    Attributes:
        name: short label.
        clip: file name in footage/clips.
        frames_a, frames_b: frame numbers of the clip written as take A and take B.
        kind: the finding expected ("appeared", "disappeared", "moved", "light") or None.
        place_a, place_b: (x, y) where the cup is pasted into A / B (WIDTH-wide pixels), or None.
        gain_b: factor on B's linear-light values (an exposure change), 1 for none.
    """

    name: str
    clip: str
    frames_a: range
    frames_b: range
    kind: str | None
    place_a: tuple[int, int] | None = None
    place_b: tuple[int, int] | None = None
    gain_b: float = 1.0


JUGGLE = "sam2_05_default_juggle.mp4"   # static camera, a man juggling
DOG = "sam2_01_dog.mp4"                  # handheld, a woman and a dog running
BEDROOM = "sam2_bedroom.mp4"             # children jumping on a bed

CASES = (
    Case("juggle appeared", JUGGLE, range(0, 48, 8), range(120, 168, 8), "appeared", place_b=(60, 170)),
    Case("juggle disappeared", JUGGLE, range(0, 48, 8), range(120, 168, 8), "disappeared", place_a=(360, 175)),
    Case("juggle moved", JUGGLE, range(0, 48, 8), range(120, 168, 8), "moved", place_a=(60, 170), place_b=(370, 170)),
    Case("dog appeared (handheld)", DOG, range(0, 42, 7), range(60, 102, 7), "appeared", place_b=(350, 170)),
    Case("juggle light", JUGGLE, range(0, 48, 8), range(120, 168, 8), "light", gain_b=2.0),
    Case("juggle no change", JUGGLE, range(0, 48, 8), range(120, 168, 8), None),
    Case("dog no change (handheld)", DOG, range(0, 42, 7), range(60, 102, 7), None),
    Case("bedroom no change", BEDROOM, range(0, 60, 10), range(100, 160, 10), None),
)


def cup(footage: Path) -> tuple[np.ndarray, np.ndarray]:
    """The middle red cup of sam2_02_cups.mp4 frame 0, cut out along its colour, at a third of its
    size: (uint8 [h, w, 3] RGB, float32 [h, w] alpha 0..1)."""
    frame = read_frame(footage / "clips" / "sam2_02_cups.mp4", 0)[280:560, 560:750]
    r, g, b = (frame[..., i].astype(np.int16) for i in range(3))
    alpha = ((r > 110) & (g < 60) & (b < 80)).astype(np.uint8) * 255
    alpha = cv2.morphologyEx(alpha, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(alpha)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = stats[biggest, :4]
    picture = frame[y:y + h, x:x + w]
    alpha = (labels[y:y + h, x:x + w] == biggest).astype(np.float32)
    size = (round(w / 3), round(h / 3))
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA), cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)


def _paste(frame: np.ndarray, thing: tuple[np.ndarray, np.ndarray], place: tuple[int, int]) -> tuple[int, int, int, int]:
    picture, alpha = thing
    x, y = place
    h, w = alpha.shape
    under = frame[y:y + h, x:x + w].astype(np.float32)
    frame[y:y + h, x:x + w] = (picture * alpha[..., None] + under * (1 - alpha[..., None]) + 0.5).astype(np.uint8)
    ys, xs = np.nonzero(alpha > 0.5)
    return x + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def _write_take(footage: Path, clip: str, numbers: range, out: Path, thing, place, gain: float):
    box = None
    frames = FrameSource(footage / "clips" / clip, first=numbers.start, stop=numbers.stop).frames(step=numbers.step)
    with FrameWriter(out) as writer:
        for index, (_, frame) in enumerate(frames):
            height = round(frame.shape[0] * WIDTH / frame.shape[1])
            frame = cv2.resize(frame, (WIDTH, height), interpolation=cv2.INTER_AREA)
            if gain != 1.0:  # exposure in linear light (sRGB decoded and re-encoded)
                linear = (frame.astype(np.float32) / 255.0) ** 2.2 * gain
                frame = (np.clip(linear, 0, 1) ** (1 / 2.2) * 255.0 + 0.5).astype(np.uint8)
            if place is not None:
                box = _paste(frame, thing, place)
            writer.write(index, frame)
    return box


def make_case(footage: Path, case: Case, folder: Path) -> tuple[Path, Path, tuple[int, int, int, int] | None]:
    """Write the case's takes under ``folder``; returns (take A, take B, the box where the change
    is in B's pixels — for "disappeared" where it was in A, same framing — or None)."""
    thing = cup(footage)
    take_a, take_b = folder / "a", folder / "b"
    box_a = _write_take(footage, case.clip, case.frames_a, take_a, thing, case.place_a, 1.0)
    box_b = _write_take(footage, case.clip, case.frames_b, take_b, thing, case.place_b, case.gain_b)
    return take_a, take_b, box_b if box_b is not None else box_a


def iou(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, width, height) boxes."""
    x0, y0 = max(box[0], other[0]), max(box[1], other[1])
    x1 = min(box[0] + box[2], other[0] + other[2])
    y1 = min(box[1] + box[3], other[1] + other[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (box[2] * box[3] + other[2] * other[3] - inter)

"""Continuity cases made from real footage by real edits, shared by the tests and bench/continuity.py.

Take A is a stretch of a real clip (people move in it). Take B is the same stretch seen with a
small camera shift (a similarity warp: a few pixels of translation, a fraction of a degree of
roll, a percent of zoom), then one change:

- ``appeared``: a real object is pasted into every frame of B (none in A);
- ``disappeared``: the object is pasted into every frame of A (none in B);
- ``moved``: the object is in A at one place and in B at another;
- ``light``: B is exposed brighter (a gain in linear light);
- ``shift`` (clean): nothing else;
- ``noise`` (clean): B gets sensor-like noise (Gaussian, independent per frame).

The objects are cut out of other real pictures along their real masks from the shared footage
(``matting/harmonizer_images``: a cat and a bowl of food with their hand-made masks;
``vos/schoolgirls``: one girl of the DAVIS instance masks). The object's mask in B's framing
(for ``disappeared``, where it was in A, carried into B's framing by the known camera shift) is
the ground truth for the finding's mask. The takes are written as folders of PNGs, ``WIDTH``
pixels wide.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.media.decode import FrameSource
from engine.media.encode import FrameWriter

#: Width and height of the written takes (pixels).
WIDTH, HEIGHT = 480, 270
#: Extra border (pixels, at WIDTH scale) read around take A so that B's shifted view stays inside the picture.
MARGIN = 16
#: The variants, as the finding kind expected (None for the two clean ones).
VARIANTS = {"appeared": "appeared", "disappeared": "disappeared", "moved": "moved", "light": "light",
            "clean shift": None, "clean noise": None}
#: Linear-light gain of the light variant (0.68 stop brighter).
LIGHT_GAIN = 1.6
#: Standard deviation of the noise variant (8-bit code values).
NOISE_SIGMA = 6.0


@dataclass(frozen=True)
class Scene:
    """A clip stretch and where an object can be put in it.

    Attributes:
        name: short label.
        clip: file name in footage/clips.
        frames: frame numbers of the clip written as each take.
        thing: the object pasted ("cat", "bowl", "girl").
        place, other_place: (x, y) top-left corner of the object in a take's framing (WIDTH
            pixels); ``moved`` puts it at ``place`` in A and ``other_place`` in B.
        shift: (dx, dy, degrees, scale) of B's camera against A's.
    """

    name: str
    clip: str
    frames: range
    thing: str
    place: tuple[int, int]
    other_place: tuple[int, int]
    shift: tuple[float, float, float, float] = (5.0, -3.0, 0.4, 1.01)


SCENES = (
    Scene("juggle", "sam2_05_default_juggle.mp4", range(0, 48, 8), "cat", (20, 150), (350, 140)),
    Scene("bedroom", "sam2_bedroom.mp4", range(0, 60, 10), "bowl", (270, 170), (380, 40), (-4.0, 3.0, -0.3, 0.99)),
    Scene("dog", "sam2_01_dog.mp4", range(0, 42, 7), "girl", (380, 140), (20, 10), (3.0, 4.0, 0.5, 1.01)),
    Scene("coffee", "sam2_04_coffee.mp4", range(0, 48, 8), "cat", (10, 170), (380, 10), (-5.0, -2.0, 0.3, 1.0)),
    Scene("cups", "sam2_02_cups.mp4", range(0, 48, 8), "bowl", (20, 165), (370, 170), (4.0, 2.0, -0.4, 1.01)),
)
#: Constants are chosen on these scenes only ...
TUNING = ("juggle", "bedroom")
#: ... and judged on these.
EVALUATION = ("dog", "coffee", "cups")


@dataclass(frozen=True)
class Case:
    """One scene and one variant.

    Attributes:
        scene: the :class:`Scene`.
        variant: a key of :data:`VARIANTS`.
    """

    scene: Scene
    variant: str

    @property
    def name(self) -> str:
        return f"{self.scene.name} {self.variant}"

    @property
    def kind(self) -> str | None:
        """The finding expected, or None for a clean pair."""
        return VARIANTS[self.variant]


CASES = tuple(Case(scene, variant) for scene in SCENES for variant in VARIANTS)


@dataclass
class Made:
    """A case written to disk.

    Attributes:
        take_a, take_b: folders of PNG frames.
        mask_b: bool [HEIGHT, WIDTH], the object in B's framing (where it is in B; for
            ``disappeared`` where it was in A), or None.
        mask_a: bool [HEIGHT, WIDTH], for ``moved`` where the object was in A, in B's framing.
    """

    take_a: Path
    take_b: Path
    mask_b: np.ndarray | None = None
    mask_a: np.ndarray | None = None


@functools.lru_cache(maxsize=None)
def thing(footage: Path, name: str, height: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A real object cut out along its real mask, ``height`` pixels tall:
    (uint8 [h, w, 3] RGB, float32 [h, w] alpha 0..1)."""
    if name in ("cat", "bowl"):
        stem = {"cat": "a0196_1.jpg", "bowl": "f855_1.jpg"}[name]
        folder = footage / "matting" / "harmonizer_images"
        picture = cv2.cvtColor(cv2.imread(str(folder / "composite" / stem)), cv2.COLOR_BGR2RGB)
        alpha = cv2.imread(str(folder / "mask" / stem), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
    elif name == "girl":
        root = footage / "vos" / "schoolgirls"
        picture = cv2.cvtColor(cv2.imread(str(root / "frames" / "00000.jpg")), cv2.COLOR_BGR2RGB)
        codes = cv2.imread(str(root / "masks" / "00000.png")).astype(np.int32)
        codes = codes[..., 0] * 65536 + codes[..., 1] * 256 + codes[..., 2]
        values, counts = np.unique(codes[codes > 0], return_counts=True)
        alpha = (codes == values[np.argmax(counts)]).astype(np.float32)
        height = max(height, 100)
    else:
        raise ValueError(f"unknown object {name!r}")
    ys, xs = np.nonzero(alpha > 0.5)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    picture, alpha = picture[y0:y1, x0:x1], alpha[y0:y1, x0:x1]
    size = (max(1, round((x1 - x0) * height / (y1 - y0))), height)
    return (cv2.resize(picture, size, interpolation=cv2.INTER_AREA),
            np.clip(cv2.resize(alpha, size, interpolation=cv2.INTER_AREA), 0, 1))


def _paste(frame: np.ndarray, cut: tuple[np.ndarray, np.ndarray], place: tuple[int, int]) -> np.ndarray:
    """Composite ``cut`` over ``frame`` (in place) at ``place``; returns its bool mask in the frame."""
    picture, alpha = cut
    x, y = place
    h, w = alpha.shape
    h, w = min(h, frame.shape[0] - y), min(w, frame.shape[1] - x)
    picture, alpha = picture[:h, :w], alpha[:h, :w, None]
    under = frame[y:y + h, x:x + w].astype(np.float32)
    frame[y:y + h, x:x + w] = (picture * alpha + under * (1 - alpha) + 0.5).astype(np.uint8)
    mask = np.zeros(frame.shape[:2], bool)
    mask[y:y + h, x:x + w] = alpha[..., 0] > 0.5
    return mask


def _views(shift: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """2×3 affine maps from the enlarged source picture to take A's and take B's framing."""
    to_a = np.float32([[1, 0, -MARGIN], [0, 1, -MARGIN]])
    dx, dy, degrees, scale = shift
    centre = (WIDTH / 2 + MARGIN, HEIGHT / 2 + MARGIN)
    to_b = cv2.getRotationMatrix2D(centre, degrees, scale).astype(np.float32)
    to_b[:, 2] += (-MARGIN + dx, -MARGIN + dy)
    return to_a, to_b


def _a_to_b(to_b: np.ndarray) -> np.ndarray:
    """2×3 affine map from take A's framing to take B's."""
    a_to_source = np.float32([[1, 0, MARGIN], [0, 1, MARGIN], [0, 0, 1]])
    return (to_b @ a_to_source).astype(np.float32)


def make_case(footage: Path, case: Case, folder: Path, frames: int | None = None) -> Made:
    """Write the case's takes under ``folder`` (``frames``: only the first few of the scene's)."""
    scene, variant = case.scene, case.variant
    to_a, to_b = _views(scene.shift)
    cut = thing(footage, scene.thing)
    numbers = scene.frames if frames is None else scene.frames[:frames]
    rng = np.random.default_rng(len(folder.name) + numbers.start)
    made = Made(folder / "a", folder / "b")
    source = FrameSource(footage / "clips" / scene.clip, first=numbers.start, stop=numbers.stop)
    with FrameWriter(made.take_a) as writer_a, FrameWriter(made.take_b) as writer_b:
        for index, (_, frame) in enumerate(source.frames(step=numbers.step)):
            big_size = (WIDTH + 2 * MARGIN, round((WIDTH + 2 * MARGIN) * frame.shape[0] / frame.shape[1]))
            big = cv2.resize(frame, big_size, interpolation=cv2.INTER_AREA)
            a = cv2.warpAffine(big, to_a, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
            b = cv2.warpAffine(big, to_b, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
            if variant in ("disappeared", "moved"):
                mask_in_a = _paste(a, cut, scene.place)
                carried = cv2.warpAffine(mask_in_a.astype(np.float32), _a_to_b(to_b), (WIDTH, HEIGHT)) > 0.5
                if variant == "disappeared":
                    made.mask_b = carried
                else:
                    made.mask_a = carried
            if variant == "appeared":
                made.mask_b = _paste(b, cut, scene.other_place)
            elif variant == "moved":
                made.mask_b = _paste(b, cut, scene.other_place)
            elif variant == "light":  # exposure in linear light (sRGB ~ gamma 2.2 decoded and re-encoded)
                linear = (b.astype(np.float32) / 255.0) ** 2.2 * LIGHT_GAIN
                b = (np.clip(linear, 0, 1) ** (1 / 2.2) * 255.0 + 0.5).astype(np.uint8)
            elif variant == "clean noise":
                b = np.clip(b + rng.normal(0.0, NOISE_SIGMA, b.shape), 0, 255).round().astype(np.uint8)
            writer_a.write(index, a)
            writer_b.write(index, b)
    return made


def mask_iou(mask: np.ndarray | None, truth: np.ndarray | None) -> float:
    """Intersection over union of two bool masks (0 when either is missing or both are empty)."""
    if mask is None or truth is None:
        return 0.0
    union = np.logical_or(mask, truth).sum()
    return float(np.logical_and(mask, truth).sum() / union) if union else 0.0

"""The object behind a difference between two aligned pictures of one setup: which picture holds
it, and its whole mask there.

Two plates of one setup, aligned (take A seen from take B's framing, colour matched to B), and a
per-pixel difference between them (CIELAB ΔE*ab) give *seeds*: connected regions where they
differ. A seed is rarely the whole object — where the object's colour is close to what lies
behind it in the other picture the difference is small — and by itself it does not say on
which side the object is. This module answers both:

1. **Which picture holds it** (:func:`holder`). The pixels around the seed that did not change
   (difference at most ``MATCH_SHARE`` of the threshold) show the background both pictures
   share. In the picture without the object, the seed's pixels continue that background; in
   the picture with it, they are the object's own colours. Per picture, the *novelty* of the
   seed is the median, over its pixels, of the CIELAB distance to the nearest colour of that
   background band (nearest-neighbour colour distance: a textured background such as grass or
   stripes is many colours, each explains its own pixels). The picture whose seed is more novel
   holds the object.
2. **Its mask** (:func:`segment`). GrabCut (Rother, Kolmogorov & Blake, SIGGRAPH 2004; OpenCV's
   implementation: Gaussian-mixture colour models of object and background, refined alternately
   with a graph cut) on the holding picture, in a window around the seed grown by
   ``MARGIN_SHARE`` of its size, initialised from the difference: strongly differing pixels
   (beyond ``STRONG`` thresholds) are certainly the object, the other differing ones probably,
   the rest probably background and the window's border certainly background. The difference
   used here is the plain per-pixel one (no tolerance for parallax): the seed, found with that
   tolerance, says where an object surely is; around it, the plain difference recovers the
   parts whose colour falls inside a textured background's range (an orange cat on grass
   and earth). The result is
   the component(s) touching the seed, holes filled.
3. **The same object at two places** (:func:`similarity`): the Bhattacharyya coefficient of the
   CIELAB colour histograms of two object masks (each in its own picture), 1 for the same
   colours.

All inputs are analysis-size pictures (a few hundred pixels wide); nothing here is learned
beyond the two pictures at hand.
"""
from __future__ import annotations

import cv2
import numpy as np

#: Pixels whose difference is at most this share of the threshold show the shared background.
MATCH_SHARE = 0.5
#: Background band around a seed for :func:`holder`, analysis pixels beyond the seed (from, to).
BAND_PX = (3, 15)
#: At most this many pixels of the seed and of the band enter the nearest-colour search.
NOVELTY_SAMPLES = 1500
#: Differences beyond this many thresholds are certainly the object (GrabCut's sure foreground).
STRONG = 2.0
#: GrabCut's window: the seed's bounding box grown by this share of its size on each side ...
MARGIN_SHARE = 0.6
#: ... and by at least this many analysis pixels.
MARGIN_MIN_PX = 12
#: GrabCut iterations.
GRABCUT_ITERATIONS = 4
#: Bins per CIELAB axis of :func:`similarity`'s histograms.
SIMILARITY_BINS = 8


def _subsample(values: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    if len(values) <= count:
        return values
    return values[rng.choice(len(values), count, replace=False)]


def band(seed: np.ndarray, unchanged: np.ndarray) -> np.ndarray:
    """bool [h, w]: the unchanged pixels between ``BAND_PX[0]`` and ``BAND_PX[1]`` analysis pixels
    from ``seed`` (bool [h, w]); ``unchanged`` bool [h, w]."""
    distance = cv2.distanceTransform((~seed).astype(np.uint8), cv2.DIST_L2, 3)
    ring = (distance > BAND_PX[0]) & (distance <= BAND_PX[1]) & unchanged
    if ring.sum() < 30:  # a seed in a busy place: look farther out
        ring = (distance > BAND_PX[0]) & (distance <= 3 * BAND_PX[1]) & unchanged
    return ring


def novelty(lab: np.ndarray, seed: np.ndarray, ring: np.ndarray, *, seed_value: int = 0) -> float:
    """Median over the seed's pixels of the CIELAB distance (ΔE*ab) to the nearest colour of the
    ring's pixels, in one picture (``lab`` float32 [h, w, 3]; ``seed``, ``ring`` bool [h, w]).
    0 when the ring is empty. Deterministic (fixed subsampling seed ``seed_value``)."""
    if not ring.any() or not seed.any():
        return 0.0
    rng = np.random.default_rng(seed_value)
    inside = _subsample(lab[seed], NOVELTY_SAMPLES, rng)
    around = _subsample(lab[ring], NOVELTY_SAMPLES, rng)
    # |p − r|² = |p|² + |r|² − 2 p·r, in blocks of the seed's pixels (memory stays ~ 1500²).
    squared = (inside * inside).sum(1)[:, None] + (around * around).sum(1)[None, :] - 2.0 * inside @ around.T
    return float(np.median(np.sqrt(np.maximum(squared.min(axis=1), 0.0))))


def holder(lab_a: np.ndarray, lab_b: np.ndarray, seed: np.ndarray, unchanged: np.ndarray) -> tuple[str, float, float]:
    """Which of two aligned pictures holds the object behind ``seed``.

    Args:
        lab_a, lab_b: float32 [h, w, 3] CIELAB of the two pictures (A colour-matched to B).
        seed: bool [h, w], where they differ.
        unchanged: bool [h, w], where they show the same thing (the shared background).

    Returns:
        ``("a" | "b", novelty_a, novelty_b)``: the holding picture and each picture's
        :func:`novelty` (ΔE*ab) of the seed against the shared background band.
    """
    ring = band(seed, unchanged)
    in_a = novelty(lab_a, seed, ring)
    in_b = novelty(lab_b, seed, ring)
    return ("b" if in_b >= in_a else "a"), in_a, in_b


def segment(image: np.ndarray, difference: np.ndarray, seed: np.ndarray, threshold: float) -> np.ndarray:
    """The whole object behind a seed, in the picture that holds it.

    Args:
        image: uint8 [h, w, 3] RGB, the picture holding the object.
        difference: float32 [h, w], the plain per-pixel difference to the other picture
            (ΔE*ab, no tolerance; 0 where not compared).
        seed: bool [h, w], one connected region where the pictures surely differ.
        threshold: the difference threshold (ΔE*ab).

    Returns:
        bool [h, w], the object's mask (GrabCut in a window around the seed, see the module
        docstring); the seed itself if GrabCut leaves nothing touching it.
    """
    height, width = seed.shape
    x, y, w, h = cv2.boundingRect(seed.astype(np.uint8))
    margin = max(MARGIN_MIN_PX, round(MARGIN_SHARE * max(w, h)))
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(width, x + w + margin), min(height, y + h + margin)
    window = (slice(y0, y1), slice(x0, x1))
    seed_w, difference_w = seed[window], difference[window]
    labels = np.full(seed_w.shape, cv2.GC_PR_BGD, np.uint8)
    labels[(difference_w > threshold) | seed_w] = cv2.GC_PR_FGD
    sure = (difference_w > STRONG * threshold) & seed_w
    sure = cv2.erode(sure.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    labels[sure] = cv2.GC_FGD
    # The window's border is background, except where the picture's own edge cuts the object.
    border = np.zeros(seed_w.shape, bool)
    if y0 > 0:
        border[0, :] = True
    if y1 < height:
        border[-1, :] = True
    if x0 > 0:
        border[:, 0] = True
    if x1 < width:
        border[:, -1] = True
    labels[border & ~seed_w] = cv2.GC_BGD
    if not ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).any() or (labels == cv2.GC_BGD).all():
        return seed.copy()
    models = (np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64))
    try:
        cv2.grabCut(np.ascontiguousarray(image[window]), labels, None, *models, GRABCUT_ITERATIONS,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # one of the two colour models has too few pixels to fit
        return seed.copy()
    found = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    count, components = cv2.connectedComponents(found.astype(np.uint8), connectivity=8)
    touching = np.unique(components[found & seed_w])
    found = np.isin(components, touching[touching > 0])
    if not found.any():
        return seed.copy()
    found = _fill_holes(found)
    mask = np.zeros_like(seed)
    mask[window] = found
    return mask


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """bool [h, w] with the holes (background not connected to the border) filled."""
    padded = np.pad(mask, 1).astype(np.uint8)
    flood = padded.copy()
    cv2.floodFill(flood, np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8), (0, 0), 1)
    return (padded | (flood == 0))[1:-1, 1:-1].astype(bool)


def similarity(image_a: np.ndarray, mask_a: np.ndarray, image_b: np.ndarray, mask_b: np.ndarray) -> float:
    """Bhattacharyya coefficient (0..1) of the CIELAB colour histograms (``SIMILARITY_BINS`` per
    axis) of ``image_a`` under ``mask_a`` and ``image_b`` under ``mask_b`` (uint8 [h, w, 3] RGB,
    bool [h, w]): 1 for the same colours in the same proportions."""
    histograms = []
    for image, mask in ((image_a, mask_a), (image_b, mask_b)):
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)[mask].astype(np.int32) * SIMILARITY_BINS >> 8
        codes = (lab[:, 0] * SIMILARITY_BINS + lab[:, 1]) * SIMILARITY_BINS + lab[:, 2]
        counts = np.bincount(codes, minlength=SIMILARITY_BINS ** 3).astype(np.float64)
        histograms.append(counts / max(1.0, counts.sum()))
    return float(np.sqrt(histograms[0] * histograms[1]).sum())

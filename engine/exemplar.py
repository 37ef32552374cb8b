"""Exemplar-based image inpainting: fill a hole by copying patches from the rest of the frame.

Method: A. Criminisi, P. Pérez, K. Toyama, "Region Filling and Object Removal by
Exemplar-Based Image Inpainting", IEEE Trans. Image Processing 13(9), 2004. The hole is
filled from its border inwards, one patch at a time; the next patch is the one on the
fill front with the highest priority ``P(p) = C(p) · D(p)`` — C the confidence (the share
of already-trusted pixels in the patch, decaying as the fill goes inwards), D the strength
of the isophote (the image's level line) flowing into the front, so that edges and
structure are continued into the hole before flat texture. The patch is filled with the
known patch nearby that best matches its known pixels (sum of squared differences,
through ``cv2.matchTemplate`` with a mask), searched within ``search_radius`` pixels.

Unlike diffusion (``cv2.inpaint``, Telea 2004), which blurs texture into a smooth smear,
copied patches keep the plate's texture and grain.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.errors import ParameterError

#: Side of the square patches copied (pixels, odd).
PATCH_PX = 9
#: Candidate patches are searched this far from the patch being filled (pixels).
SEARCH_RADIUS_PX = 40


def exemplar_fill(image: np.ndarray, hole: np.ndarray, *, patch_px: int = PATCH_PX,
                  search_radius: int = SEARCH_RADIUS_PX) -> np.ndarray:
    """Fill ``hole`` in ``image`` with patches of the image (Criminisi et al. 2004).

    Args:
        image: uint8 [H, W, 3] RGB; values inside ``hole`` are ignored.
        hole: bool [H, W], True where pixels are to be made.
        patch_px: odd patch side, pixels.
        search_radius: how far from the patch candidates are sought, pixels; where no
            fully known patch lies within it the search widens to the whole frame.

    Returns:
        uint8 [H, W, 3]: ``image`` outside ``hole`` (unchanged), filled inside it. A hole
        covering the whole frame is returned as it was (nothing to copy from).

    Raises:
        ParameterError: shapes disagree, or ``patch_px`` is not an odd integer >= 3.
    """
    if image.shape[:2] != hole.shape or image.ndim != 3:
        raise ParameterError(f"image {image.shape} and hole {hole.shape} disagree")
    if patch_px < 3 or patch_px % 2 == 0:
        raise ParameterError(f"patch_px must be an odd integer >= 3, got {patch_px}")
    out = image.copy()
    if not hole.any() or hole.all():
        return out
    half = patch_px // 2
    height, width = hole.shape
    # Work on the hole's bounding box grown by the search radius; the rest is never read.
    ys, xs = np.nonzero(hole)
    margin = search_radius + patch_px
    top, left = max(0, ys.min() - margin), max(0, xs.min() - margin)
    bottom, right = min(height, ys.max() + 1 + margin), min(width, xs.max() + 1 + margin)
    work = out[top:bottom, left:right].copy()
    missing = hole[top:bottom, left:right].copy()
    pad = ((half, half), (half, half))
    # Padded copies so that a patch centred on the border is still a full patch; padded
    # pixels are neither trusted nor copied.
    padded = np.pad(work, pad + ((0, 0),), mode="edge")
    unknown = np.pad(missing, pad, constant_values=True)
    confidence = np.pad((~missing).astype(np.float32), pad)
    kernel = np.ones((3, 3), np.uint8)
    box = (patch_px, patch_px)
    while True:
        inner_unknown = unknown[half:-half, half:-half]
        if not inner_unknown.any():
            break
        front = inner_unknown & (cv2.dilate((~unknown).astype(np.uint8), kernel)[half:-half, half:-half] > 0)
        if not front.any():  # unreachable unless the crop is entirely unknown
            break
        patch_confidence = cv2.boxFilter(confidence, -1, box, normalize=True)[half:-half, half:-half]
        data = _data_term(padded, unknown)[half:-half, half:-half]
        priority = np.where(front, patch_confidence * (data + 1e-3), -1.0)
        cy, cx = np.unravel_index(int(np.argmax(priority)), priority.shape)
        # (cy, cx) in crop coordinates == top-left of its patch in padded coordinates.
        target = padded[cy:cy + patch_px, cx:cx + patch_px]
        target_unknown = unknown[cy:cy + patch_px, cx:cx + patch_px]
        sy, sx = _best_source(padded, unknown, cy, cx, patch_px, search_radius)
        source = padded[sy:sy + patch_px, sx:sx + patch_px]
        target[target_unknown] = source[target_unknown]
        confidence[cy:cy + patch_px, cx:cx + patch_px][target_unknown] = patch_confidence[cy, cx]
        target_unknown[:] = False
    work = padded[half:-half, half:-half]
    out[top:bottom, left:right][missing] = work[missing]
    return out


def _data_term(padded: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """|isophote · front normal| / 255 at every pixel (Criminisi et al. 2004, eq. 2)."""
    grey = cv2.cvtColor(padded, cv2.COLOR_RGB2GRAY).astype(np.float32)
    known = (~unknown).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0) * known
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1) * known
    nx = cv2.Sobel(known, cv2.CV_32F, 1, 0)
    ny = cv2.Sobel(known, cv2.CV_32F, 0, 1)
    norm = np.sqrt(nx * nx + ny * ny) + 1e-6
    # The isophote is the gradient turned by 90°: (-gy, gx).
    return np.abs(-gy * nx / norm + gx * ny / norm) / 255.0


def _best_source(padded: np.ndarray, unknown: np.ndarray, cy: int, cx: int, patch_px: int,
                 search_radius: int) -> tuple[int, int]:
    """Top-left (padded coordinates) of the fully known patch that best matches the known
    pixels of the patch at (cy, cx); searched in a window, widened to everything if needed."""
    height, width = unknown.shape
    radius = search_radius
    while True:
        y0, x0 = max(0, cy - radius), max(0, cx - radius)
        y1, x1 = min(height, cy + radius + patch_px), min(width, cx + radius + patch_px)
        window = padded[y0:y1, x0:x1]
        window_unknown = unknown[y0:y1, x0:x1].astype(np.float32)
        target = padded[cy:cy + patch_px, cx:cx + patch_px]
        weight = np.repeat((~unknown[cy:cy + patch_px, cx:cx + patch_px]).astype(np.uint8)[..., None], 3, axis=2)
        cost = cv2.matchTemplate(window, target, cv2.TM_SQDIFF, mask=weight)
        touched = cv2.boxFilter(window_unknown, -1, (patch_px, patch_px), normalize=False,
                                anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)[:cost.shape[0], :cost.shape[1]]
        cost = np.where(touched > 0.5, np.inf, cost)
        if np.isfinite(cost).any():
            # Among equals, prefer the nearer patch (ties are common in flat areas).
            gy, gx = np.mgrid[0:cost.shape[0], 0:cost.shape[1]]
            distance = (gy + y0 - cy) ** 2 + (gx + x0 - cx) ** 2
            best = np.argmin(cost + 1e-3 * distance)
            by, bx = np.unravel_index(int(best), cost.shape)
            return int(by + y0), int(bx + x0)
        if y0 == 0 and x0 == 0 and y1 == height and x1 == width:
            raise ParameterError("no fully known patch to copy from: the hole covers nearly the whole frame")
        radius *= 2

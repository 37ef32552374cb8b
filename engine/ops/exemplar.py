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

Large frames are filled on a scaled-down copy (at most ``max_side`` pixels along the longer
side) and brought back to full resolution through the *offset field* of the fill — where
each filled pixel was copied from — scaled up, so that full-resolution pixels are copied
from the same places (the coarse-to-fine nearest-neighbour-field upsampling of Wexler,
Shechtman & Irani, "Space-Time Completion of Video", PAMI 2007, and of PatchMatch, Barnes
et al. 2009). The cost then no longer grows with the frame's resolution.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.errors import ParameterError

#: Side of the square patches copied (pixels, odd).
PATCH_PX = 9
#: Candidate patches are searched this far from the patch being filled (pixels).
SEARCH_RADIUS_PX = 40
#: Frames larger than this (pixels, longer side) are filled on a scaled-down copy.
MAX_SIDE_PX = 480


def exemplar_fill(image: np.ndarray, hole: np.ndarray, *, patch_px: int = PATCH_PX,
                  search_radius: int = SEARCH_RADIUS_PX, max_side: int | None = MAX_SIDE_PX) -> np.ndarray:
    """Fill ``hole`` in ``image`` with patches of the image (Criminisi et al. 2004).

    Args:
        image: uint8 [H, W, 3] RGB; values inside ``hole`` are ignored.
        hole: bool [H, W], True where pixels are to be made.
        patch_px: odd patch side, pixels (of the scaled copy when one is used).
        search_radius: how far from the patch candidates are sought, pixels (ditto); where
            no fully known patch lies within it the search widens to the whole frame.
        max_side: frames whose longer side exceeds this many pixels are filled on a copy
            scaled down to it, then copied at full resolution from the places the scaled
            fill copied from (module docstring); None = always at full resolution.

    Returns:
        uint8 [H, W, 3]: ``image`` outside ``hole`` (unchanged), filled inside it. A hole
        covering the whole frame is returned as it was (nothing to copy from).

    Raises:
        ParameterError: shapes disagree, ``patch_px`` is not an odd integer >= 3, or
            ``max_side`` is below 16.
    """
    if image.shape[:2] != hole.shape or image.ndim != 3:
        raise ParameterError(f"image {image.shape} and hole {hole.shape} disagree")
    if patch_px < 3 or patch_px % 2 == 0:
        raise ParameterError(f"patch_px must be an odd integer >= 3, got {patch_px}")
    if max_side is not None and max_side < 16:
        raise ParameterError(f"max_side must be at least 16 pixels, got {max_side}")
    out = image.copy()
    if not hole.any() or hole.all():
        return out
    height, width = hole.shape
    scale = 1.0 if max_side is None else min(1.0, max_side / max(height, width))
    if scale == 1.0:
        filled, _ = _fill(image, hole, patch_px, search_radius)
        out[hole] = filled[hole]
        return out
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    # A coarse pixel is to be made when any full-resolution pixel under it is.
    small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    if small_hole.all():
        return out
    small_filled, origin = _fill(small, small_hole, patch_px, search_radius)
    # Every full-resolution hole pixel copies the pixel its coarse pixel's source lies on,
    # at the same offset; where that lands in the hole (the coarse and fine holes differ
    # at their borders), the scaled-up coarse fill is used instead.
    ys, xs = np.nonzero(hole)
    sy = np.clip(((ys + 0.5) * size[1] / height).astype(np.intp), 0, size[1] - 1)
    sx = np.clip(((xs + 0.5) * size[0] / width).astype(np.intp), 0, size[0] - 1)
    oy = (origin[sy, sx, 0] - sy) * (height / size[1])
    ox = (origin[sy, sx, 1] - sx) * (width / size[0])
    ty = np.clip(np.rint(ys + oy).astype(np.intp), 0, height - 1)
    tx = np.clip(np.rint(xs + ox).astype(np.intp), 0, width - 1)
    usable = ~hole[ty, tx]
    coarse = cv2.resize(small_filled, (width, height), interpolation=cv2.INTER_LINEAR)
    out[ys, xs] = np.where(usable[:, None], image[ty, tx], coarse[ys, xs])
    return out


def _fill(image: np.ndarray, hole: np.ndarray, patch_px: int, search_radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Criminisi fill at the image's own resolution.

    Returns (uint8 [H, W, 3] filled image, int32 [H, W, 2] origin): for every pixel the
    (y, x) of the known pixel of ``image`` whose value it holds (itself outside the hole).
    """
    out = image.copy()
    half = patch_px // 2
    height, width = hole.shape
    origin = np.stack(np.mgrid[0:height, 0:width], axis=2).astype(np.int32)
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
    padded_origin = np.pad(origin[top:bottom, left:right], pad + ((0, 0),), mode="edge")
    inner = (slice(half, -half), slice(half, -half))
    values = padded.astype(np.float32)
    squares = (values * values).sum(axis=2)
    # Priority P = C · D on the fill front, kept up to date around each patch filled.
    priority = _priority(padded, unknown, confidence, patch_px)[inner]
    while True:
        cy, cx = np.unravel_index(int(np.argmax(priority)), priority.shape)
        if priority[cy, cx] < 0:  # no front left: filled (or the crop is entirely unknown)
            break
        # (cy, cx) in crop coordinates == top-left of its patch in padded coordinates.
        patch_confidence = float(confidence[cy:cy + patch_px, cx:cx + patch_px].mean())
        target_unknown = unknown[cy:cy + patch_px, cx:cx + patch_px].copy()
        sy, sx = _best_source(values, squares, unknown, cy, cx, patch_px, search_radius)
        target = (slice(cy, cy + patch_px), slice(cx, cx + patch_px))
        source = (slice(sy, sy + patch_px), slice(sx, sx + patch_px))
        padded[target][target_unknown] = padded[source][target_unknown]
        padded_origin[target][target_unknown] = padded_origin[source][target_unknown]
        values[target][target_unknown] = values[source][target_unknown]
        squares[target][target_unknown] = squares[source][target_unknown]
        confidence[target][target_unknown] = patch_confidence
        unknown[target][target_unknown] = False
        # The priorities that changed: centres within half a patch (+ the 3x3 filters) of
        # the pixels just filled; recomputed on a window wide enough for the filters.
        extent = half + 2
        ky0, ky1 = max(half, cy - extent), min(unknown.shape[0] - half, cy + patch_px + extent)
        kx0, kx1 = max(half, cx - extent), min(unknown.shape[1] - half, cx + patch_px + extent)
        wy0, wy1 = max(0, ky0 - extent), min(unknown.shape[0], ky1 + extent)
        wx0, wx1 = max(0, kx0 - extent), min(unknown.shape[1], kx1 + extent)
        local = _priority(padded[wy0:wy1, wx0:wx1], unknown[wy0:wy1, wx0:wx1], confidence[wy0:wy1, wx0:wx1],
                          patch_px)
        priority[ky0 - half:ky1 - half, kx0 - half:kx1 - half] = local[ky0 - wy0:ky1 - wy0, kx0 - wx0:kx1 - wx0]
    work = padded[inner]
    out[top:bottom, left:right][missing] = work[missing]
    region_origin = origin[top:bottom, left:right]
    region_origin[missing] = padded_origin[inner][missing]
    return out, origin


def _priority(padded: np.ndarray, unknown: np.ndarray, confidence: np.ndarray, patch_px: int) -> np.ndarray:
    """Criminisi priority C(p) · D(p) on the fill front, -1 elsewhere (same shape as ``unknown``)."""
    kernel = np.ones((3, 3), np.uint8)
    front = unknown & (cv2.dilate((~unknown).astype(np.uint8), kernel) > 0)
    patch_confidence = cv2.boxFilter(confidence, -1, (patch_px, patch_px), normalize=True)
    data = _data_term(padded, unknown)
    return np.where(front, patch_confidence * (data + 1e-3), -1.0).astype(np.float32)

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


def _best_source(values: np.ndarray, squares: np.ndarray, unknown: np.ndarray, cy: int, cx: int, patch_px: int,
                 search_radius: int) -> tuple[int, int]:
    """Top-left (padded coordinates) of the fully known patch that best matches the known
    pixels of the patch at (cy, cx); searched in a window, widened to everything if needed.

    ``values`` is the padded image as float32 [H, W, 3] and ``squares`` its per-pixel sum of
    squares over the channels, float32 [H, W]. The masked sum of squared differences
    ``Σ w (S − T)² = Σ w S² − 2 Σ w S·T + Σ w T²`` is computed with two plain correlations
    (the last term does not depend on the candidate)."""
    height, width = unknown.shape
    known = (~unknown[cy:cy + patch_px, cx:cx + patch_px]).astype(np.float32)
    target = values[cy:cy + patch_px, cx:cx + patch_px] * known[..., None]
    radius = search_radius
    while True:
        y0, x0 = max(0, cy - radius), max(0, cx - radius)
        y1, x1 = min(height, cy + radius + patch_px), min(width, cx + radius + patch_px)
        cost = (cv2.matchTemplate(squares[y0:y1, x0:x1], known, cv2.TM_CCORR)
                - 2.0 * cv2.matchTemplate(values[y0:y1, x0:x1], target, cv2.TM_CCORR))
        touched = cv2.boxFilter(unknown[y0:y1, x0:x1].astype(np.float32), -1, (patch_px, patch_px), normalize=False,
                                anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)[:cost.shape[0], :cost.shape[1]]
        cost[touched > 0.5] = np.inf
        if np.isfinite(cost).any():
            # Among equals, prefer the nearer patch (ties are common in flat areas).
            gy, gx = np.ogrid[0:cost.shape[0], 0:cost.shape[1]]
            distance = (gy + y0 - cy) ** 2 + (gx + x0 - cx) ** 2
            best = np.argmin(cost + 1e-3 * distance)
            by, bx = np.unravel_index(int(best), cost.shape)
            return int(by + y0), int(bx + x0)
        if y0 == 0 and x0 == 0 and y1 == height and x1 == width:
            raise ParameterError("no fully known patch to copy from: the hole covers nearly the whole frame")
        radius *= 2

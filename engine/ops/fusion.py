"""Confidence-aware fusion of several fills of one hole, and the classical spatial fill it starts from.

A hole can be filled by several sources — colours carried along the optical flow from other
frames, the temporal median of the same pixel over the frames that show it (a locked-off
camera), a spatial fill from the hole's own surroundings, a learned inpainting network — each
right in some places and wrong in others. Each source's error is *measured* where the truth is
known: on a band of pixels just outside the hole, which every source can also fill (the band is
hidden from it, or it carries those pixels from other frames too). The squared errors measured
on the band are spread smoothly over the hole (:func:`engine.ops.flow.smooth_fill`), grown with
the distance from the hole's edge for the sources that diffuse inwards (their error grows the
deeper they reach), and the fill is the inverse-variance weighted mean of the sources — the
minimum-variance unbiased combination of independent estimates (Gauss–Markov; as in the
per-pixel fusion of exposure stacks and of multi-frame candidates in video completion, e.g.
Huang et al., "Temporally Coherent Completion of Dynamic Video", SIGGRAPH Asia 2016, §5).
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.errors import ParameterError
from engine.ops import flow

#: Variance floor (code values², 0..255 scale) added to every measured squared error: a source
#: whose band happens to be perfect does not take the hole alone on a handful of samples.
ERROR_FLOOR = 4.0
#: Radius (pixels) of OpenCV's Telea and Navier–Stokes inpainting neighbourhoods.
DIFFUSION_RADIUS_PX = 3


def diffusion_fills(frame: np.ndarray, hole: np.ndarray, *, white: float = 255.0) -> list[np.ndarray]:
    """The two classical spatial fills of ``hole``: OpenCV's fast-marching inpainting (Telea, "An
    Image Inpainting Technique Based on the Fast Marching Method", 2004) and its Navier–Stokes
    inpainting (Bertalmio, Bertozzi & Sapiro, CVPR 2001), radius :data:`DIFFUSION_RADIUS_PX`.

    Args:
        frame: uint8 or float32 [H, W, 3]; float frames are filled channel by channel (OpenCV
            takes float images one channel at a time) after scaling ``white`` to 255: OpenCV's
            float Telea assumes 8-bit code units (on 0..1 values it overshoots to −1..2).
        hole: bool [H, W], True where the frame is unknown.
        white: the value of white in ``frame``'s units (float frames only; 255 for the
            removal's code units, 1 for 0..1 frames).

    Returns:
        [Telea, Navier–Stokes]: float32 [H, W, 3] in the frame's units; equal to ``frame``
        outside ``hole``.

    Raises:
        ParameterError: the shapes disagree.
    """
    if frame.shape[:2] != hole.shape or frame.ndim != 3:
        raise ParameterError(f"a frame of shape {frame.shape} and a hole of shape {hole.shape} disagree")
    mask = hole.astype(np.uint8)
    if not mask.any():
        return [frame.astype(np.float32), frame.astype(np.float32)]
    fills = []
    for method in (cv2.INPAINT_TELEA, cv2.INPAINT_NS):
        if frame.dtype == np.uint8:
            fills.append(cv2.inpaint(frame, mask, DIFFUSION_RADIUS_PX, method).astype(np.float32))
        else:
            image = frame.astype(np.float32) * np.float32(255.0 / white)
            fills.append(np.float32(white / 255.0) * np.dstack(
                [cv2.inpaint(np.ascontiguousarray(image[..., c]), mask, DIFFUSION_RADIUS_PX, method)
                 for c in range(frame.shape[2])]))
    return [np.where(hole[..., None], fill, frame).astype(np.float32) for fill in fills]


def diffusion_fill(frame: np.ndarray, hole: np.ndarray, *, white: float = 255.0) -> np.ndarray:
    """The classical spatial fill: the mean of the two :func:`diffusion_fills` (Telea 2004 and
    Navier–Stokes 2001). Arguments, units and errors as there; float32 [H, W, 3]."""
    telea, navier_stokes = diffusion_fills(frame, hole, white=white)
    return (telea + navier_stokes) * np.float32(0.5)


def spread_error(squared_error: np.ndarray, measured: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """float32 [N]: a source's squared error at each hole pixel, spread smoothly from where it
    was measured (pull–push membrane of :func:`engine.ops.flow.smooth_fill`).

    Args:
        squared_error: float32 [H, W], valid where ``measured``.
        measured: bool [H, W], pixels whose error against the truth is known (the band).
        hole: bool [H, W], the pixels asked for (returned in ``np.nonzero`` order).

    Returns:
        float32 [N] (N = hole pixels); +inf everywhere when nothing was measured (the source is
        not used).
    """
    if not measured.any():
        return np.full(int(hole.sum()), np.inf, np.float32)
    spread = flow.smooth_fill(np.where(measured, squared_error, 0).astype(np.float32), measured)
    return spread[hole]


def fuse(values: list[np.ndarray], squared_errors: list[np.ndarray]) -> np.ndarray:
    """Inverse-variance weighted mean of several candidate fills of the same pixels.

    Args:
        values: K float32 [N, C] candidate colours (NaN where a source has none).
        squared_errors: K float32 [N] expected squared errors of each source at each pixel
            (+inf or NaN where the source is not to be used). :data:`ERROR_FLOOR` is added.

    Returns:
        float32 [N, C]. A pixel no source covers takes the first candidate's value.

    Raises:
        ParameterError: no candidates, or their lengths disagree.
    """
    if not values or len(values) != len(squared_errors):
        raise ParameterError("fuse needs one squared error per candidate, and at least one candidate")
    stacked = np.stack(values).astype(np.float32)                       # [K, N, C]
    errors = np.stack(squared_errors).astype(np.float32)                # [K, N]
    usable = np.isfinite(errors) & np.all(np.isfinite(stacked), axis=2)
    weight = np.where(usable, 1.0 / (np.where(usable, errors, 0) + ERROR_FLOOR), 0.0).astype(np.float32)
    total = weight.sum(axis=0)
    safe = np.where(np.isfinite(stacked), stacked, 0)
    fused = (safe * weight[..., None]).sum(axis=0) / np.maximum(total, 1e-12)[:, None]
    none = total == 0
    fused[none] = safe[0][none]
    return fused.astype(np.float32)

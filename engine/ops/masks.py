"""Fit masks: which pixels of a shot or a reference take part in fitting a colour transform.

A fit mask leaves things *out of the estimate* (a performer's skin, a sky, a burnt-in
logo) — the fitted transform is still applied to the whole frame. It is given as:

- ``None``: every pixel takes part;
- a bool [H, W] array, the same for every frame (True = take part);
- a callable ``mask(frame_number) -> bool [H, W]`` — e.g. :class:`MaskSequence`, a folder
  of numbered mask images (roto or matte PNGs, white = True).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Union

import numpy as np

from engine.errors import ParameterError
from engine.media.decode import FrameSource

FitMask = Union[None, np.ndarray, Callable[[int], np.ndarray]]


class MaskSequence:
    """Per-frame masks read from a folder of numbered images (or a matte video).

    Frame N of the shot uses image N of the folder (frames counted from 0, as in
    :mod:`engine.media.decode`). A pixel is True where any channel of the image is above 127.

    Args:
        path: folder of numbered mask images (8-bit grey or RGB) or a video file.
        exclude: invert the masks — white marks what to leave *out* of the fit.

    Raises:
        FrameSourceError: the folder is not readable as numbered images.
    """

    def __init__(self, path: str | os.PathLike, *, exclude: bool = False) -> None:
        self.path = Path(path)
        self.exclude = exclude
        self._clip = FrameSource(self.path)  # probes now: a bad folder fails early

    def __call__(self, frame_number: int) -> np.ndarray:
        """bool [H, W] mask of ``frame_number``; raises FrameSourceError past the last image."""
        source = FrameSource(self.path, first=frame_number, stop=frame_number + 1)
        for _, image in source.frames():
            inside = (image > 127).any(axis=2)
            return ~inside if self.exclude else inside
        raise AssertionError("unreachable: a one-frame source yields one frame")


def resolve_mask(mask: FitMask, frame_number: int, shape: tuple[int, int]) -> np.ndarray | None:
    """The bool [H, W] mask of one frame, or None for "every pixel".

    Raises:
        ParameterError: the mask is not [H, W] of the frame's size. (A mask may select
            no pixel of one frame; the fit fails only if no pixel of any frame is left.)
    """
    if mask is None:
        return None
    value = mask(frame_number) if callable(mask) else mask
    value = np.asarray(value)
    if value.shape != shape:
        raise ParameterError(
            f"fit mask for frame {frame_number} is {list(value.shape)} but the frame is {list(shape)} (H, W)"
        )
    if value.dtype != bool:
        value = value > 0
    return value

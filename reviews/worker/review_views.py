"""Review frames through each OCIO display and view reviewers pick from (``LOUPE_REVIEW_VIEWS``),
made on the worker so that web processes only read JPEGs (docs/adr/0016-review-display-and-view.md).

A frame is scaled to review width first (area averaging, in the clip's own encoding), then put
through each view's display transform (``engine.media.colour.display_transform``: OCIO's CPU
processor, lossless optimisation) and rounded to 8-bit display codes, which the caller encodes as
the review JPEG of that view.
"""
import json
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings

from engine.media import colour
from engine.media.images import quantise
from reviews.media import REVIEW_VIEWS_FILE, SIDES, review_view_folders


class ReviewViews:
    """The review views of frames in one colour space.

    Args:
        colorspace: the OCIO colour space the frames are in (the clip's input colour space).
        views: ``[{"name", "display", "view"?}]`` (default ``LOUPE_REVIEW_VIEWS``); no ``view``:
            the config's default view of the display for ``colorspace`` (``colour.resolve_view``).
        max_width: review width in pixels (default ``LOUPE_REVIEW_WIDTH``).

    Raises:
        ParameterError: the config has no such colour space, display or view (the job fails
            with that message).
    """

    def __init__(self, colorspace: str, views: list[dict] | None = None, max_width: int | None = None):
        views = views or settings.LOUPE_REVIEW_VIEWS
        self.max_width = max_width or settings.LOUPE_REVIEW_WIDTH
        self.colorspace = colorspace
        self.entries: list[dict] = []
        self._transforms = []
        for view, folder in zip(views, review_view_folders(views)):
            resolved = colour.resolve_view(colorspace, view["display"], view.get("view"))
            self._transforms.append(colour.display_transform(colorspace, view["display"], resolved))
            self.entries.append({"name": view["name"], "display": view["display"], "view": resolved,
                                 "folder": folder})

    def write_manifest(self, proposal_folder: Path) -> None:
        """Make each view's folders under ``proposal_folder`` and record the views in
        ``review/views.json`` (``reviews.media.review_views`` reads it)."""
        for entry in self.entries:
            for side in SIDES:
                (proposal_folder / entry["folder"] / side).mkdir(parents=True, exist_ok=True)
        (proposal_folder / REVIEW_VIEWS_FILE).write_text(json.dumps(
            {"colorspace": self.colorspace, "views": self.entries}, indent=1))

    def pictures(self, frame: np.ndarray) -> list[np.ndarray]:
        """``frame`` as each view shows it, in the order of ``entries``.

        Args:
            frame: [H, W, 3] RGB in ``colorspace``: uint8 codes (8-bit sources) or float32 code
                value / (2^n − 1) (or scene-linear values) at source precision.

        Returns:
            uint8 [h, w, 3] RGB display codes, no wider than ``max_width`` (wider frames are
            scaled with area averaging before the display transform; height rounded to even as
            ``reviews.media.encode_review_jpeg`` does).
        """
        image = frame.astype(np.float32) / np.float32(255) if frame.dtype == np.uint8 else frame
        height, width = image.shape[:2]
        if width > self.max_width:
            new_height = max(2, round(height * self.max_width / width / 2) * 2)
            image = cv2.resize(image, (self.max_width, new_height), interpolation=cv2.INTER_AREA)
        return [quantise(transform(image), np.uint8) for transform in self._transforms]

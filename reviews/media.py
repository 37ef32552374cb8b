"""Where derived media lives under ``MEDIA_ROOT`` and how review frames are encoded.

Originals are never written to. Derived media of a clip lives in ``clips/<clip id>/``
(``thumbnail.jpg``, its middle frame; ``proxy.mp4``, the browser review proxy, frame for frame);
a proposal's in ``proposals/job-<job id>/``:

- ``frames/NNNNNN.png`` — the rendered frames at full resolution, lossless (N = clip frame), at
  the source's precision: 8-bit PNG for 8-bit sources, 16-bit PNG for deeper integer ones; for
  half/float sources (EXR) ``frames/NNNNNN.exr`` of the source's sample type instead, scene values
  kept as they are (above 1.0 too);
- ``review/before/NNNNNN.jpg`` and ``review/after/NNNNNN.jpg`` — review frames, both sides
  made from the same decode so that frame N is frame N on both; a restart marker after each
  row of MCUs (see ``reviews.watermark``);
- ``review/views.json`` — the OCIO display and view each set of review frames was rendered
  through (``review_views``): the first (``LOUPE_REVIEW_VIEWS``' first) in ``review/before|after``,
  the others in ``review/views/<n>-<name>/before|after``; absent for proposals made before review
  views (one set, in ``review/``, of 8-bit sources' codes as stored);
- ``region.png`` — the region the fix changed (255) and left untouched (0);
- ``segmentation/NNNNNN.png`` — for a fix that used its fix request's mask sequence, a copy of
  that sequence (the object's mask as the supervisor corrected it, before any margin).

A fix request's mask sequence (a mask job's output) lives in ``masks/job-<job id>/``:
``NNNNNN.png`` per clip frame N of the fix request (0 outside the object, 255 inside) and
``strokes.json`` (the outline(s) and the correction strokes it was segmented from).
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse

if TYPE_CHECKING:
    import numpy as np


SIDES = ("before", "after")


def media_path(relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative


def clip_thumbnail_path(clip_id: int) -> Path:
    return media_path(f"clips/{clip_id}/thumbnail.jpg")


def clip_proxy_path(clip_id: int) -> Path:
    return media_path(f"clips/{clip_id}/proxy.mp4")


def proposal_media_dir(job_id: int) -> str:
    """The folder (relative to MEDIA_ROOT) of the proposal a job makes: one job, one folder."""
    return f"proposals/job-{job_id}"


#: The file types a rendered frame is stored as, by extension: the content type it is served with.
RENDERED_FRAME_TYPES = {".exr": "image/x-exr", ".png": "image/png"}


def mask_media_dir(job_id: int) -> str:
    """The folder (relative to MEDIA_ROOT) of the mask sequence a mask job makes."""
    return f"masks/job-{job_id}"


def mask_frame_path(media_dir: str, frame: int) -> Path:
    """One frame's mask of a mask sequence (PNG, 0/255; N = clip frame)."""
    return media_path(media_dir) / frame_name(frame, "png")


def rendered_frame_path(media_dir: str, frame: int) -> Path:
    """A proposal's rendered frame at full resolution, lossless: ``frames/NNNNNN.exr`` where the
    worker stored one (a half/float source's), else ``frames/NNNNNN.png`` (whether it exists or not)."""
    folder = media_path(media_dir) / "frames"
    exr = folder / frame_name(frame, "exr")
    return exr if exr.is_file() else folder / frame_name(frame, "png")


def frame_name(frame: int, extension: str) -> str:
    return f"{frame:06d}.{extension}"


#: Where a proposal's review frames are: the first view's in this folder, the others' below it.
REVIEW_FOLDER = "review"
REVIEW_VIEWS_FILE = "review/views.json"


def review_frame_path(media_dir: str, side: str, frame: int, folder: str = REVIEW_FOLDER) -> Path:
    """A proposal's review JPEG of ``side`` of ``frame``, in the view whose frames are in
    ``folder`` (an entry's ``folder`` of :func:`review_views`; default the first view's)."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    if folder != REVIEW_FOLDER and not folder.startswith(f"{REVIEW_FOLDER}/views/"):
        raise ValueError(f"not a review frame folder: {folder!r}")
    return media_path(media_dir) / folder / side / frame_name(frame, "jpg")


def review_view_folders(views: list[dict]) -> list[str]:
    """The folder of each review view, in order: the first in ``review``, the others in
    ``review/views/<n>-<name as a slug>``."""
    return [REVIEW_FOLDER if number == 0 else
            f"{REVIEW_FOLDER}/views/{number}-{re.sub(r'[^a-z0-9]+', '-', view['name'].lower()).strip('-')}"
            for number, view in enumerate(views)]


def review_views(media_dir: str) -> list[dict]:
    """The views a proposal's review frames were rendered through, as the worker recorded them in
    ``review/views.json``: ``[{"name", "display", "view", "folder"}]``, the first the default
    (``name`` as in ``LOUPE_REVIEW_VIEWS``, ``display`` and ``view`` as the OCIO config names
    them). ``[]`` for a proposal made before review views (its one set is in ``review/``)."""
    path = media_path(media_dir) / REVIEW_VIEWS_FILE
    if not path.is_file():
        return []
    return json.loads(path.read_text())["views"]


def encode_review_jpeg(frame: np.ndarray, max_width: int | None = None) -> bytes:
    """Encode ``frame`` (uint8 [H, W, 3] RGB) as a JPEG no wider than ``max_width`` pixels
    (default ``LOUPE_REVIEW_WIDTH``), resized with box (area) averaging, at
    ``LOUPE_REVIEW_JPEG_QUALITY`` through Pillow (libjpeg-turbo; no OpenCV in web processes)."""
    # on first use: NumPy and Pillow are not loaded with the URLconf (docs/adr/0010-light-web-processes.md)
    import numpy as np
    from PIL import Image

    height, width = frame.shape[:2]
    max_width = max_width or settings.LOUPE_REVIEW_WIDTH
    image = Image.fromarray(np.ascontiguousarray(frame))
    if width > max_width:
        new_width = max_width
        new_height = max(2, round(height * new_width / width / 2) * 2)
        image = image.resize((new_width, new_height), Image.Resampling.BOX)
    # A restart marker after each MCU row: the watermark re-encodes only the rows it covers
    # (reviews.watermark.burn_in_jpeg). Costs about 0.1 % in size.
    out = io.BytesIO()
    image.save(out, "JPEG", quality=settings.LOUPE_REVIEW_JPEG_QUALITY, restart_marker_rows=1)
    return out.getvalue()


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def media_response(path: Path, content_type: str) -> HttpResponse:
    """The response that serves ``path`` (a file under MEDIA_ROOT) once the view has checked
    permission and audited the read. ``LOUPE_MEDIA_SERVE``:

    - ``django``: the ASGI process streams the file (``FileResponse``);
    - ``x-accel-redirect``: nginx streams it from its ``internal`` location
      ``LOUPE_MEDIA_ACCEL_PREFIX`` + the path under MEDIA_ROOT (docs/operations.md);
    - ``x-sendfile``: Apache's mod_xsendfile / lighttpd stream the absolute path.

    ``Cache-Control: private, no-cache``: no shared cache keeps footage, and the browser asks
    again (so each view is audited). Raises ``Http404`` when the file does not exist.
    """
    root = Path(settings.MEDIA_ROOT).resolve()
    resolved = path.resolve()
    if not resolved.is_relative_to(root) or not resolved.is_file():
        raise Http404("No such media file.")
    mode = settings.LOUPE_MEDIA_SERVE
    if mode == "x-accel-redirect":
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.LOUPE_MEDIA_ACCEL_PREFIX + resolved.relative_to(root).as_posix()
    elif mode == "x-sendfile":
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = str(resolved)
    else:
        response = FileResponse(resolved.open("rb"), content_type=content_type)
    return private(response)


def private(response: HttpResponse) -> HttpResponse:
    """``response`` marked as footage: ``Cache-Control: private, no-cache`` (no shared cache
    keeps it, and the browser asks again, so each view is audited) and ``nosniff``."""
    response["Cache-Control"] = "private, no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


#: Beside ``region.png``: its outline as ``region_outline`` gives it, written by the worker
#: that made the proposal, so that web processes read JSON instead of tracing contours.
REGION_OUTLINE_FILE = "region_outline.json"


def region_outline(media_dir: str, *, max_points: int = 4000) -> list[list[list[float]]]:
    """The outline of the region a proposal changed (``trace_region_outline`` of its
    ``region.png``), as the worker stored it (``REGION_OUTLINE_FILE``); traced here — with OpenCV,
    on first use — only for a proposal made before the file existed."""
    stored = media_path(media_dir) / REGION_OUTLINE_FILE
    if stored.is_file():
        return json.loads(stored.read_text())
    return trace_region_outline(media_path(media_dir) / "region.png", max_points=max_points)


def trace_region_outline(path: Path, *, max_points: int = 4000) -> list[list[list[float]]]:
    """The outer contours of the region mask at ``path`` (OpenCV ``findContours``, Suzuki & Abe
    1985, simplified by Douglas–Peucker to within one pixel) as polygons ``[[[x, y], ...], ...]``
    in shares (0–1) of the picture's width and height. Empty when there is no such file or the
    mask is empty; at most about ``max_points`` points in all (the smallest polygons are dropped
    first)."""
    # OpenCV on the worker (and for proposals older than REGION_OUTLINE_FILE): web processes start without it
    import cv2
    import numpy as np

    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        return []
    height, width = mask.shape
    # A border of zeros, so a region that touches the frame's edge still has an outline there.
    padded = cv2.copyMakeBorder((mask > 127).astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    contours, _ = cv2.findContours(padded, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons, total = [], 0
    for contour in sorted(contours, key=cv2.contourArea, reverse=True):
        simple = cv2.approxPolyDP(contour, 1.0, True).reshape(-1, 2) - 1
        if total + len(simple) > max_points:
            break
        total += len(simple)
        polygons.append([[round(min(max(x, 0), width) / width, 5), round(min(max(y, 0), height) / height, 5)]
                         for x, y in simple.tolist()])
    return polygons

"""Dailies ingest, the web side: check what can be checked cheaply (the person's role, the
path inside the dailies folders, the upload's size, the media's name and type by its
extension), record a ``ClipIngest`` and queue it (``reviews.tasks.clip_ingest_run``, queue
``default``). The worker reads the media — probe, two decoded frames, SHA-256, thumbnail — and
stores the Clip (``reviews.worker.ingest``), which this module never imports at module level
(docs/adr/0010-light-web-processes.md). Also a clip's input colour space, changed later.
"""
from __future__ import annotations

import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q

from engine.errors import EngineError
from reviews import authz, events, tasks
from reviews.errors import IngestError, NotAllowed, TooLarge
from reviews.media import clip_proxy_path, media_path
from reviews.models import Clip, ClipIngest, FixRequest, Job, Production, ProxyState

from .audit import audit_record
from .jobs import job_submit
from .ocio_configs import production_ocio_config
from .proxies import clip_proxy_enqueue

if TYPE_CHECKING:
    from engine.media import probe as media_probe

logger = logging.getLogger(__name__)


#: Video file extensions and the FFmpeg demuxer that must have read each (the probe decides
#: the type; an extension that disagrees with the content is refused, so names do not lie).
VIDEO_EXTENSIONS: dict[str, tuple[str, ...]] = {
    ".mov": ("mov",), ".mp4": ("mp4",), ".m4v": ("mp4", "mov"), ".mxf": ("mxf",), ".avi": ("avi",),
    ".mkv": ("matroska",), ".webm": ("webm", "matroska"),
}
#: Sequence formats post houses deliver that the engine does not read yet: refused by name.
UNREADABLE_SEQUENCE_EXTENSIONS = frozenset({".exr", ".dpx"})
#: Largest picture side accepted, in pixels (16K); anything larger is a corrupt header.
MAX_DIMENSION = 16384
_PATTERN = re.compile(r"^(?P<prefix>.*?)(?:%0?(?P<width>\d*)d|(?P<hashes>#+))(?P<suffix>\.[A-Za-z0-9]+)$")
_CONTAINER_LABELS = {"mov": "QuickTime/MP4", "mp4": "QuickTime/MP4", "mxf": "MXF", "avi": "AVI",
                     "matroska": "Matroska", "webm": "WebM"}


def _sequence_extensions() -> frozenset[str]:
    """Image-sequence extensions the engine reads (``engine.media.probe.IMAGE_EXTENSIONS``), with a dot."""
    from engine.media.probe import IMAGE_EXTENSIONS  # PyAV, on first ingest: web processes start without it

    return frozenset(f".{ext}" for ext in IMAGE_EXTENSIONS)


@dataclass(frozen=True)
class MediaSource:
    """What a path given to ingest names: a video file, or an image sequence (its folder).

    ``name`` is how the clip is called (file name, or ``name.%04d.ext`` / folder name for a
    sequence); ``probe_path`` the path the engine reads.
    """

    name: str
    probe_path: Path
    is_sequence: bool


def media_source(path: str | Path) -> MediaSource:
    """Resolve ``path`` — a video file, a folder of numbered images, or a sequence pattern
    ``name.%04d.ext`` / ``name.####.ext`` — to what ingest reads.

    Raises ``IngestError`` for a missing path, an empty file, an extension Loupe does not ingest,
    an EXR/DPX sequence (not readable yet), or a pattern whose folder holds other images too.
    """
    path = Path(path).expanduser()
    pattern = _PATTERN.match(path.name)
    if pattern and not path.exists():
        folder = path.parent.resolve()
        suffix = pattern["suffix"].lower()
        if suffix in UNREADABLE_SEQUENCE_EXTENSIONS:
            raise IngestError(f"{path.name}: {suffix[1:].upper()} sequences cannot be read yet; "
                              f"deliver PNG, TIFF or JPEG frames ({', '.join(sorted(_sequence_extensions()))}).")
        if suffix not in _sequence_extensions():
            raise IngestError(f"{path.name}: {suffix} is not an image-sequence extension Loupe ingests "
                              f"({', '.join(sorted(_sequence_extensions()))}).")
        if not folder.is_dir():
            raise IngestError(f"{folder} (the folder of {path.name}) does not exist.")
        digits = pattern["width"] or (str(len(pattern["hashes"])) if pattern["hashes"] else "")
        number = rf"\d{{{int(digits)}}}" if digits else r"\d+"
        member = re.compile(re.escape(pattern["prefix"]) + number + re.escape(pattern["suffix"]) + "$", re.IGNORECASE)
        images = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in _sequence_extensions()]
        members = [p for p in images if member.match(p.name)]
        if not members:
            raise IngestError(f"{path.name}: no file in {folder} matches this sequence pattern.")
        if len(members) != len(images):
            others = sorted(p.name for p in images if not member.match(p.name))[:3]
            raise IngestError(f"{path.name}: {folder} also holds other images ({', '.join(others)}, …); "
                              f"keep one image sequence per folder.")
        name = path.name if pattern["prefix"].strip("._-") else f"{folder.name}/{path.name}"
        return MediaSource(name=name, probe_path=folder, is_sequence=True)
    path = path.resolve()
    if not path.exists():
        raise IngestError(f"{path} does not exist.")
    if path.is_dir():
        return MediaSource(name=path.name, probe_path=path, is_sequence=True)
    suffix = path.suffix.lower()
    if suffix in _sequence_extensions() or suffix in UNREADABLE_SEQUENCE_EXTENSIONS:
        raise IngestError(f"{path.name} is a single image; ingest its sequence as a folder or a pattern "
                          f"like {path.parent / 'name.%04d'}{suffix}.")
    if suffix not in VIDEO_EXTENSIONS:
        raise IngestError(f"{path.name}: {suffix or 'no extension'} is not a media type Loupe ingests "
                          f"(video: {', '.join(sorted(VIDEO_EXTENSIONS))}; or an image-sequence folder).")
    if path.stat().st_size == 0:
        raise IngestError(f"{path.name} is empty (0 bytes).")
    return MediaSource(name=path.name, probe_path=path, is_sequence=False)


def check_probe(source: MediaSource, probe: media_probe.ClipProbe) -> None:
    """Refuse what probed but is not usable footage (names the file and the fact), before any
    frame is decoded: frames larger than ``LOUPE_FRAME_MAX_PIXELS`` among them."""
    name = source.name
    if not source.is_sequence:
        demuxers = set(probe.container_format.split(","))
        expected = VIDEO_EXTENSIONS[source.probe_path.suffix.lower()]
        if not demuxers & set(expected):
            found = next((label for key, label in _CONTAINER_LABELS.items() if key in demuxers), probe.container_format)
            raise IngestError(f"{name}: the extension says {source.probe_path.suffix.lower()} but the content is "
                              f"{found} (FFmpeg demuxer {probe.container_format}); rename it to match its content.")
    if probe.frame_count < 1:
        raise IngestError(f"{name} has zero frames.")
    if not (1 <= probe.width <= MAX_DIMENSION and 1 <= probe.height <= MAX_DIMENSION):
        raise IngestError(f"{name}: {probe.width}x{probe.height} pixels is outside 1–{MAX_DIMENSION} per side; "
                          f"the header is probably corrupt.")
    pixels = probe.width * probe.height
    if pixels > settings.LOUPE_FRAME_MAX_PIXELS:
        raise IngestError(f"{name}: frames of {probe.width}x{probe.height} ({pixels / 1e6:.1f} megapixels) are larger "
                          f"than this installation ingests, {settings.LOUPE_FRAME_MAX_PIXELS / 1e6:.1f} megapixels "
                          f"(LOUPE_FRAME_MAX_PIXELS); nothing was decoded or stored.")
    if not 1 <= probe.frame_rate <= 1000:
        raise IngestError(f"{name}: a frame rate of {float(probe.frame_rate):g} frames/s is not plausible.")


def reel_of(source: MediaSource, probe: media_probe.ClipProbe) -> str:
    """The reel an EDL names this clip by: the media's reel/tape tag, else its name without
    extension (a sequence: without the frame-number pattern)."""
    if probe.reel:
        return probe.reel
    if source.is_sequence:
        pattern = _PATTERN.match(Path(source.name).name)
        return (pattern["prefix"].rstrip("._-") if pattern else source.name) or source.probe_path.name
    return Path(source.name).stem


def clip_set_input_colorspace(*, clip: Clip, input_colorspace: str, actor: User) -> tuple[Clip, list[Job]]:
    """Change the OCIO colour space the engine reads ``clip`` in (``Clip.input_colorspace``: a
    name or alias in the production's OCIO config — by default the ACES studio config — or
    ``Rec.709``). Everything made from the clip in
    the old space is made again once this commits: its review proxy, and a new job (so a new
    version, for review again) for every fix request that has run on a shot of the clip or with
    one as its reference. Returns the clip and those jobs; no job when the space is unchanged.

    Raises ``NotAllowed`` unless ``actor`` may ingest footage (the production's supervisor), and
    ``IngestError`` naming the colour space when the config has no such space (nothing changes).
    """
    from engine.media import colour  # OpenColorIO, on first use: web processes start without it

    production = clip.production
    authz.require(actor, production, authz.INGEST_FOOTAGE)
    config = colour.load_config(production_ocio_config(production))
    try:
        name = colour.resolve_colorspace(input_colorspace, config)
    except EngineError as error:
        raise IngestError(f"{clip.name}: {error}") from None
    previous = clip.input_colorspace or colour.REC709
    if config.getColorSpace(colour.DEFAULT_INPUT if previous == colour.REC709 else previous) is not None \
            and colour.resolve_colorspace(previous, config) == name:
        return clip, []
    with transaction.atomic():
        clip.input_colorspace = name
        clip.proxy_state, clip.proxy_frames_done, clip.proxy_error = ProxyState.QUEUED, 0, ""
        clip.save(update_fields=["input_colorspace", "proxy_state", "proxy_frames_done", "proxy_error"])
        affected = (FixRequest.objects.filter(Q(shot__clip=clip) | Q(reference_shot__clip=clip), jobs__isnull=False)
                    .distinct().order_by("pk"))
        jobs = [job_submit(fix_request=fix_request, actor=actor)[0] for fix_request in affected]
        audit_record(production=production, actor=actor, action="clip.input_colorspace", target=clip,
                     payload={"from": previous, "to": name, "jobs": [job.pk for job in jobs]})
        clip_proxy_path(clip.pk).unlink(missing_ok=True)
        clip_proxy_enqueue(clip)
    logger.info("clip %s now read as %s (was %s); %d job(s) queued again", clip.pk, name, previous, len(jobs))
    return clip, jobs


def clip_facts(clip: Clip) -> str:
    """One line of a clip's probed facts, for people (the ``ingest`` command prints it)."""
    # on first use: web processes start without OpenCV (docs/adr/0010-light-web-processes.md)
    from engine.media import colour

    rate = clip.frame_rate
    rate_text = f"{float(rate):.3f}".rstrip("0").rstrip(".") + (f" ({rate.numerator}/{rate.denominator})"
                                                                 if rate.denominator != 1 else "")
    aspect = "" if clip.pixel_aspect_num == clip.pixel_aspect_den else f" PAR {clip.pixel_aspect_num}:{clip.pixel_aspect_den}"
    tags = "/".join(v or "?" for v in (clip.color_primaries, clip.color_transfer, clip.color_matrix))
    audio = f"{len(clip.audio_streams)} audio" if clip.audio_streams else "no audio"
    return (f"{clip.codec} {clip.pixel_format} {clip.bit_depth or '?'}-bit {clip.width}x{clip.height}{aspect} "
            f"{rate_text} fps {clip.frame_count} frames TC {clip.start_timecode} reel {clip.reel} "
            f"colour {tags} read as {clip.input_colorspace or colour.REC709} {audio} sha256 {clip.checksum_sha256[:12]}")


def safe_stem(name: str) -> str:
    """A file stem safe to store: letters, digits, ``_`` and ``-`` of ``name``'s stem (80 at
    most; ``upload`` when nothing is left) — no folder, no ``..``."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_.")[:80]
    return stem or "upload"


def clip_ingest(*, production: Production, path: str | Path, actor: User, input_colorspace: str | None = None,
                progress=None) -> Clip:
    """Ingest ``path`` in this process, synchronously: ``reviews.worker.ingest.clip_ingest``
    (its documentation says what is read, stored and raised). For the ``ingest`` and ``demo``
    commands, benches and tests — a web request asks a worker instead (``clip_ingest_server_file``,
    ``clip_upload``). The worker module (PyAV, OpenColorIO, the engine's decoding) is imported
    on the first call, never when this module is."""
    from reviews.worker.ingest import clip_ingest as execute

    return execute(production=production, path=path, actor=actor, input_colorspace=input_colorspace,
                   progress=progress)


def clip_ingest_url(ingest: ClipIngest) -> str:
    """Where the API answers how ``ingest`` stands (``GET``)."""
    return f"/api/productions/{ingest.production.code}/ingests/{ingest.pk}/"


def clip_ingest_payload(ingest: ClipIngest) -> dict:
    """What a browser is told of an ingest: ``{"id", "name", "state", "state_label", "step",
    "step_label", "bytes_done", "bytes_total", "error", "clip", "url"}`` (``clip``: the clip's
    id once ready, else None)."""
    return {"id": ingest.pk, "name": ingest.name, "state": ingest.state, "state_label": ingest.get_state_display(),
            "step": ingest.step, "step_label": ingest.get_step_display() if ingest.step else "",
            "bytes_done": ingest.bytes_done, "bytes_total": ingest.bytes_total, "error": ingest.error,
            "clip": ingest.clip_id, "url": clip_ingest_url(ingest)}


def clip_ingest_broadcast(ingest: ClipIngest) -> None:
    """Tell the production's pages how ``ingest`` stands (``clip_ingest`` events, after the
    transaction commits)."""
    events.broadcast(events.production_group(ingest.production_id), "clip_ingest", clip_ingest_payload(ingest))


def _ingest_submit(*, production: Production, actor: User, name: str, source_path: str = "", upload_path: str = "",
                   input_colorspace: str = "") -> ClipIngest:
    """Record an ingest (``queued``; audit ``clip.ingest_request``) and queue it once this commits."""
    with transaction.atomic():
        ingest = ClipIngest.objects.create(production=production, name=name[:255], source_path=source_path,
                                           upload_path=upload_path, input_colorspace=input_colorspace,
                                           created_by=actor)
        audit_record(production=production, actor=actor, action="clip.ingest_request", target=ingest,
                     payload={"name": ingest.name, "path": source_path or upload_path, "upload": bool(upload_path)}
                     | ({"input_colorspace": input_colorspace} if input_colorspace else {}))
        clip_ingest_broadcast(ingest)
        transaction.on_commit(lambda: tasks.clip_ingest_run.delay(ingest.pk))
    return ingest


def clip_ingest_server_file(*, production: Production, path: str, actor: User,
                            input_colorspace: str = "") -> ClipIngest:
    """Ask a worker to ingest a path on the server named through the API: only below one of
    ``LOUPE_INGEST_ROOTS`` (the dailies mounts; symbolic links and ``..`` resolved first) and
    never below MEDIA_ROOT — so that nobody ingests another production's uploaded originals or
    any other file the server can read. What is checked here, before anything is recorded, costs
    no reading of the media: the role, the folders, and ``media_source`` (the path exists, is
    not empty, has an extension Loupe ingests or is a sequence folder/pattern). Returns the
    ``ClipIngest`` (``queued``); the worker probes, checksums and stores (``reviews.worker.ingest``)
    and a failure there ends the ingest ``failed`` with the reason.

    Raises ``NotAllowed`` (403) unless ``actor`` may ingest footage or for a path outside the
    dailies folders; ``IngestError`` (400) naming the file for what ``media_source`` refuses.
    """
    authz.require(actor, production, authz.INGEST_FOOTAGE)
    resolved = Path(os.path.realpath(path))
    roots = [Path(os.path.realpath(root)) for root in settings.LOUPE_INGEST_ROOTS]
    media_root = Path(os.path.realpath(settings.MEDIA_ROOT))
    if resolved.is_relative_to(media_root) or not any(resolved.is_relative_to(root) for root in roots):
        raise NotAllowed(f"{Path(path).name}: the API ingests only files under the dailies folders "
                         f"({', '.join(str(root) for root in roots) or 'none configured'}); upload it instead.")
    source = media_source(resolved)
    return _ingest_submit(production=production, actor=actor, name=source.name, source_path=str(resolved),
                          input_colorspace=input_colorspace)


#: Room for the multipart envelope around an uploaded file (boundary lines, part headers, fields).
UPLOAD_ENVELOPE_BYTES = 1 << 20


def upload_request_check(*, content_length: int) -> None:
    """Refuse a media upload request whose body (``content_length``: the request's
    Content-Length, bytes) cannot hold a file within ``LOUPE_UPLOAD_MAX_BYTES`` — before the
    body is read, so an oversized upload is not first received to disk. Raises ``TooLarge`` (413)."""
    limit = settings.LOUPE_UPLOAD_MAX_BYTES
    if content_length > limit + UPLOAD_ENVELOPE_BYTES:
        raise TooLarge(f"The upload is {content_length} bytes; uploads are limited to {limit} bytes.")


def clip_upload(*, production: Production, upload, actor: User) -> ClipIngest:
    """Store an uploaded file (``upload``: a Django ``UploadedFile``) where originals are kept,
    ``MEDIA_ROOT/originals/<production>/``, under a hidden name, and ask a worker to ingest it:
    the worker types it by probing, names it ``<safe stem>.<extension of its content>`` and
    ingests it (``reviews.worker.ingest``); if it does not become a clip, its file is removed.
    Returns the ``ClipIngest`` (``queued``).

    Raises ``NotAllowed`` (nothing written) unless ``actor`` is a supervisor; ``TooLarge`` over
    ``LOUPE_UPLOAD_MAX_BYTES``; ``IngestError`` for an empty file.
    """
    authz.require(actor, production, authz.INGEST_FOOTAGE)
    limit = settings.LOUPE_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise TooLarge(f"{upload.name} is {upload.size} bytes; uploads are limited to {limit} bytes.")
    if upload.size == 0:
        raise IngestError(f"{upload.name} is empty (0 bytes).")
    folder = media_path(f"originals/{production.code}")
    folder.mkdir(parents=True, exist_ok=True)
    incoming = folder / f".incoming-{uuid.uuid4().hex}"
    try:
        with incoming.open("wb") as stream:
            for chunk in upload.chunks():
                stream.write(chunk)
        return _ingest_submit(production=production, actor=actor, name=Path(upload.name).name or "upload",
                              upload_path=str(incoming))
    except BaseException:
        incoming.unlink(missing_ok=True)
        raise

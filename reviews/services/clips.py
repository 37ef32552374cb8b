"""Dailies ingest: probe, checksum and thumbnail a media file (or image sequence) that stays
where it is."""
from __future__ import annotations

import hashlib
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
from reviews import authz
from reviews.errors import IngestError, NotAllowed, TooLarge
from reviews.media import clip_proxy_path, clip_thumbnail_path, encode_review_jpeg, media_path, write_bytes_atomically
from reviews.models import Clip, FixRequest, Job, Production, ProxyState

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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _folder_manifest_sha256(folder: Path) -> tuple[str, int]:
    """SHA-256 over the folder's files (name and SHA-256 of each, in name order), and their total size."""
    digest = hashlib.sha256()
    size = 0
    for file in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        digest.update(f"{file.name}\0{_sha256(file)}\n".encode())
        size += file.stat().st_size
    return digest.hexdigest(), size


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


def _check_probe(source: MediaSource, probe: media_probe.ClipProbe) -> None:
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


def _reel(source: MediaSource, probe: media_probe.ClipProbe) -> str:
    """The reel an EDL names this clip by: the media's reel/tape tag, else its name without
    extension (a sequence: without the frame-number pattern)."""
    if probe.reel:
        return probe.reel
    if source.is_sequence:
        pattern = _PATTERN.match(Path(source.name).name)
        return (pattern["prefix"].rstrip("._-") if pattern else source.name) or source.probe_path.name
    return Path(source.name).stem


def clip_ingest(*, production: Production, path: str | Path, actor: User, input_colorspace: str | None = None) -> Clip:
    """Ingest the media at ``path`` into ``production`` as a Clip: a video file (MOV, MP4, MXF,
    AVI, MKV — the type decided by probing, not by the extension), a folder of numbered images,
    or a sequence pattern ``name.%04d.png`` / ``name.####.png``. Probe it with PyAV (codec,
    pixel format and bit depth, size, pixel aspect, exact frame rate, frame count, start
    timecode, reel, colour tags, audio streams), record its SHA-256 (chain of custody; a
    sequence's is its manifest's), decode its middle and last frames (which catches truncated
    files), and make a thumbnail of the middle one; the browser review proxy is queued on the
    ``default`` queue once this commits (``services.proxies``). The original is only read.
    Its input colour space (``Clip.input_colorspace``) is ``input_colorspace`` when the supervisor
    chose one (an OCIO name or alias of the ACES studio config, or ``Rec.709``), else what the
    file names, else Rec.709.

    Raises ``NotAllowed`` unless ``actor`` is the production's supervisor, and ``IngestError``
    (naming the file) when it is missing, empty, of a type Loupe does not ingest, its extension
    disagrees with its content, unreadable, truncated, has zero frames or absurd dimensions, names
    an unknown colour space, or is already ingested (same checksum). Nothing is stored on failure.
    """
    # on first use: web processes start without OpenCV (docs/adr/0010-light-web-processes.md)
    from engine.media import colour
    from engine.media import decode as media_decode
    from engine.media import probe as media_probe

    authz.require(actor, production, authz.INGEST_FOOTAGE)
    source = media_source(path)
    try:
        probe = media_probe.probe(source.probe_path)
        _check_probe(source, probe)
        poster = media_decode.read_frame(source.probe_path, probe.frame_count // 2)
        if probe.frame_count > 1:
            media_decode.read_frame(source.probe_path, probe.frame_count - 1)
        colorspace = colour.input_colorspace(probe, input_colorspace,
                                             colour.load_config(production_ocio_config(production)))
    except EngineError as error:  # FrameSourceError, ParameterError and any more specific media error
        raise IngestError(f"{source.name}: {error}") from None
    if source.is_sequence:
        checksum, size_bytes = _folder_manifest_sha256(source.probe_path)
    else:
        checksum, size_bytes = _sha256(source.probe_path), source.probe_path.stat().st_size
    duplicate = Clip.objects.filter(production=production, checksum_sha256=checksum).first()
    if duplicate:
        raise IngestError(f"{source.name} is already in {production.code} as clip {duplicate.name!r} (same SHA-256).")
    thumbnail = encode_review_jpeg(poster)

    with transaction.atomic():
        clip = Clip.objects.create(
            production=production,
            name=source.name,
            source_path=str(source.probe_path),
            checksum_sha256=checksum,
            size_bytes=size_bytes,
            codec=probe.codec,
            pixel_format=probe.pixel_format,
            width=probe.width,
            height=probe.height,
            frame_rate_num=probe.frame_rate.numerator,
            frame_rate_den=probe.frame_rate.denominator,
            frame_count=probe.frame_count,
            start_timecode=probe.start_timecode or "00:00:00:00",
            container_format=probe.container_format,
            pixel_aspect_num=probe.pixel_aspect.numerator,
            pixel_aspect_den=probe.pixel_aspect.denominator,
            bit_depth=probe.bit_depth,
            color_primaries=probe.color_primaries or "",
            color_transfer=probe.color_transfer or "",
            color_matrix=probe.color_matrix or "",
            color_range=probe.color_range or "",
            reel=_reel(source, probe),
            input_colorspace=colorspace,
            audio_streams=list(probe.audio_streams),
            ingested_by=actor,
        )
        audit_record(production=production, actor=actor, action="clip.ingest", target=clip,
                     payload={"path": str(source.probe_path), "sha256": checksum, "frame_count": probe.frame_count,
                              "input_colorspace": colorspace})
        write_bytes_atomically(clip_thumbnail_path(clip.pk), thumbnail)
        clip_proxy_enqueue(clip)
    logger.info("ingested clip %s (%s) into %s", clip.pk, source.probe_path, production.code)
    return clip


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


#: Demuxer → the extension an uploaded original is stored with (its type decided by probing).
_UPLOAD_EXTENSIONS = (("mov", ".mov"), ("mp4", ".mp4"), ("mxf", ".mxf"), ("avi", ".avi"), ("matroska", ".mkv"))


def _safe_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_.")[:80]
    return stem or "upload"


def clip_ingest_server_file(*, production: Production, path: str, actor: User) -> Clip:
    """``clip_ingest`` for a path on the server named through the API: only below one of
    ``LOUPE_INGEST_ROOTS`` (the dailies mounts; symbolic links and ``..`` resolved first) and
    never below MEDIA_ROOT — so that nobody ingests another production's uploaded originals or
    any other file the server can read. Raises ``NotAllowed`` (403) for a path outside them."""
    resolved = Path(os.path.realpath(path))
    roots = [Path(os.path.realpath(root)) for root in settings.LOUPE_INGEST_ROOTS]
    media_root = Path(os.path.realpath(settings.MEDIA_ROOT))
    if resolved.is_relative_to(media_root) or not any(resolved.is_relative_to(root) for root in roots):
        raise NotAllowed(f"{Path(path).name}: the API ingests only files under the dailies folders "
                         f"({', '.join(str(root) for root in roots) or 'none configured'}); upload it instead.")
    return clip_ingest(production=production, path=resolved, actor=actor)


#: Room for the multipart envelope around an uploaded file (boundary lines, part headers, fields).
UPLOAD_ENVELOPE_BYTES = 1 << 20


def upload_request_check(*, content_length: int) -> None:
    """Refuse a media upload request whose body (``content_length``: the request's
    Content-Length, bytes) cannot hold a file within ``LOUPE_UPLOAD_MAX_BYTES`` — before the
    body is read, so an oversized upload is not first received to disk. Raises ``TooLarge`` (413)."""
    limit = settings.LOUPE_UPLOAD_MAX_BYTES
    if content_length > limit + UPLOAD_ENVELOPE_BYTES:
        raise TooLarge(f"The upload is {content_length} bytes; uploads are limited to {limit} bytes.")


def clip_upload(*, production: Production, upload, actor: User) -> Clip:
    """Store an uploaded video file (``upload``: a Django ``UploadedFile``) as an original under
    ``MEDIA_ROOT/originals/<production>/`` with a safe name, and ingest it (``clip_ingest``).

    The stored extension comes from probing the content, not from the uploaded name. Raises
    ``NotAllowed`` (nothing written) unless ``actor`` is a supervisor; ``TooLarge`` over
    ``LOUPE_UPLOAD_MAX_BYTES``; ``IngestError`` for content that is not a video Loupe ingests,
    or as ``clip_ingest`` does — and then the stored file is removed again.
    """
    from engine.media import probe as media_probe  # PyAV, on first upload: web processes start without it

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
        try:
            demuxers = set(media_probe.probe(incoming).container_format.split(","))
        except EngineError:  # any media error of the engine's: not footage it can read
            raise IngestError(f"{upload.name} is not a video file FFmpeg can read.") from None
        extension = next((ext for demuxer, ext in _UPLOAD_EXTENSIONS if demuxer in demuxers), None)
        if extension is None:
            raise IngestError(f"{upload.name} is {'/'.join(sorted(demuxers))}, not a video container Loupe "
                              f"ingests (MOV, MP4, MXF, AVI, MKV).")
        given = Path(upload.name).suffix.lower()
        if extension in (".mov", ".mp4") and given in (".mov", ".mp4", ".m4v"):
            extension = given  # one demuxer reads all three; keep the name the person gave
        target = folder / f"{_safe_stem(upload.name)}{extension}"
        if target.exists():
            target = folder / f"{_safe_stem(upload.name)}-{uuid.uuid4().hex[:8]}{extension}"
        os.replace(incoming, target)
    finally:
        incoming.unlink(missing_ok=True)
    try:
        return clip_ingest(production=production, path=target, actor=actor)
    except Exception:
        target.unlink(missing_ok=True)
        raise

"""Dailies ingest, the worker side (queue ``default``): probe, decode, checksum and thumbnail a
media file (or image sequence) that stays where it is, and store it as a Clip.

People ask for an ingest through ``reviews.services.clips`` (``clip_ingest_server_file``,
``clip_upload``), which checks what it cheaply can and records a ``ClipIngest``;
``reviews.tasks.clip_ingest_run`` runs :func:`clip_ingest_execute` here. :func:`clip_ingest` is
the same execution called directly (the ``ingest`` and ``demo`` commands, benches and tests).
The reading — PyAV's probe, two decoded frames, the colour space through OpenColorIO, the
SHA-256 of every byte — can hold a process for minutes on a camera original, which is why it
runs here and not in a web process (docs/adr/0010-light-web-processes.md).
"""
from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import User
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from engine.errors import EngineError
from engine.media import colour
from engine.media import decode as media_decode
from engine.media import probe as media_probe
from reviews import authz
from reviews.errors import IngestError
from reviews.media import clip_thumbnail_path, encode_review_jpeg, write_bytes_atomically
from reviews.models import Clip, ClipIngest, IngestState, IngestStep, Production
from reviews.services.audit import audit_record
from reviews.services.clips import (MediaSource, check_probe, clip_ingest_broadcast, media_source, reel_of,
                                    safe_stem)
from reviews.services.ocio_configs import production_ocio_config
from reviews.services.proxies import clip_proxy_enqueue

logger = logging.getLogger(__name__)

#: Bytes checksummed between two progress reports of a running ingest.
PROGRESS_BYTES = 64 << 20
#: Bytes read at a time while checksumming.
READ_BYTES = 1 << 20
#: Demuxer → the extension an uploaded original is stored with (its type decided by probing).
UPLOAD_EXTENSIONS = (("mov", ".mov"), ("mp4", ".mp4"), ("mxf", ".mxf"), ("avi", ".avi"), ("matroska", ".mkv"))

#: ``progress(step, bytes_done, bytes_total)``: told at each step and every ``PROGRESS_BYTES``
#: checksummed (``bytes_total``: the media's size in bytes).
Progress = Callable[[str, int, int], None]


def _no_progress(step: str, done: int, total: int) -> None:
    return None


class _Hasher:
    """SHA-256 of files with a running count of bytes read, reporting every ``PROGRESS_BYTES``."""

    def __init__(self, total: int, progress: Progress):
        self.done, self.total, self.progress, self._reported = 0, total, progress, 0

    def file(self, path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(READ_BYTES), b""):
                digest.update(block)
                self.done += len(block)
                if self.done - self._reported >= PROGRESS_BYTES:
                    self._reported = self.done
                    self.progress(IngestStep.CHECKSUM, self.done, self.total)
        return digest.hexdigest()


def _sequence_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _checksum(source: MediaSource, progress: Progress) -> tuple[str, int]:
    """The media's SHA-256 and size in bytes: a file's own, or for a sequence the SHA-256 of its
    manifest (each file's name and SHA-256, in name order) and the files' total size."""
    if not source.is_sequence:
        size = source.probe_path.stat().st_size
        progress(IngestStep.CHECKSUM, 0, size)
        return _Hasher(size, progress).file(source.probe_path), size
    files = _sequence_files(source.probe_path)
    size = sum(file.stat().st_size for file in files)
    progress(IngestStep.CHECKSUM, 0, size)
    hasher, manifest = _Hasher(size, progress), hashlib.sha256()
    for file in files:
        manifest.update(f"{file.name}\0{hasher.file(file)}\n".encode())
    return manifest.hexdigest(), size


@dataclass(frozen=True)
class _Read:
    """What reading the media found: its probe, input colour space, checksum, size and thumbnail (JPEG bytes)."""

    probe: media_probe.ClipProbe
    colorspace: str
    checksum: str
    size_bytes: int
    thumbnail: bytes


def _duplicate_error(production: Production, source: MediaSource, checksum: str) -> IngestError | None:
    duplicate = Clip.objects.filter(production=production, checksum_sha256=checksum).first()
    if duplicate is None:
        return None
    return IngestError(f"{source.name} is already in {production.code} as clip {duplicate.name!r} (same SHA-256).")


def _read(production: Production, source: MediaSource, input_colorspace: str | None, progress: Progress) -> _Read:
    """Probe, check, decode the middle and last frames, resolve the colour space, checksum; the
    thumbnail from the middle frame. Raises ``IngestError`` naming the file."""
    try:
        progress(IngestStep.PROBING, 0, 0)
        probe = media_probe.probe(source.probe_path)
        check_probe(source, probe)
        progress(IngestStep.DECODING, 0, 0)
        poster = media_decode.read_frame(source.probe_path, probe.frame_count // 2)
        if probe.frame_count > 1:
            media_decode.read_frame(source.probe_path, probe.frame_count - 1)
        colorspace = colour.input_colorspace(probe, input_colorspace,
                                             colour.load_config(production_ocio_config(production)))
    except EngineError as error:  # FrameSourceError, ParameterError and any more specific media error
        raise IngestError(f"{source.name}: {error}") from None
    checksum, size_bytes = _checksum(source, progress)
    duplicate = _duplicate_error(production, source, checksum)
    if duplicate:
        raise duplicate
    return _Read(probe=probe, colorspace=colorspace, checksum=checksum, size_bytes=size_bytes,
                 thumbnail=encode_review_jpeg(poster))


def _store(production: Production, source: MediaSource, read: _Read, actor: User | None) -> Clip:
    """Create the clip, its audit event, thumbnail and queued proxy; inside the caller's
    transaction. Raises ``IngestError`` when the same media was stored meanwhile (same SHA-256)."""
    probe = read.probe
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin's clip leaves the caller's transaction usable
            clip = Clip.objects.create(
                production=production,
                name=source.name,
                source_path=str(source.probe_path),
                checksum_sha256=read.checksum,
                size_bytes=read.size_bytes,
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
                reel=reel_of(source, probe),
                input_colorspace=read.colorspace,
                audio_streams=list(probe.audio_streams),
                ingested_by=actor,
            )
    except IntegrityError:
        raise _duplicate_error(production, source, read.checksum) or IngestError(
            f"{source.name} could not be stored; ingest it again.") from None
    audit_record(production=production, actor=actor, action="clip.ingest", target=clip,
                 payload={"path": str(source.probe_path), "sha256": read.checksum, "frame_count": probe.frame_count,
                          "input_colorspace": read.colorspace})
    write_bytes_atomically(clip_thumbnail_path(clip.pk), read.thumbnail)
    clip_proxy_enqueue(clip)
    return clip


def clip_ingest(*, production: Production, path: str | Path, actor: User, input_colorspace: str | None = None,
                progress: Progress | None = None) -> Clip:
    """Ingest the media at ``path`` into ``production`` as a Clip, in this process: a video file
    (MOV, MP4, MXF, AVI, MKV — the type decided by probing, not by the extension), a folder of
    numbered images, or a sequence pattern ``name.%04d.png`` / ``name.####.png``. Probe it with
    PyAV (codec, pixel format and bit depth, size, pixel aspect, exact frame rate, frame count,
    start timecode, reel, colour tags, audio streams), decode its middle and last frames (which
    catches truncated files), record its SHA-256 (chain of custody; a sequence's is its
    manifest's), and make a thumbnail of the middle one; the browser review proxy is queued on
    the ``default`` queue once this commits (``services.proxies``). The original is only read.
    Its input colour space (``Clip.input_colorspace``) is ``input_colorspace`` when the
    supervisor chose one (an OCIO name or alias of the production's config, or ``Rec.709``),
    else what the file names, else Rec.709. ``progress(step, bytes_done, bytes_total)`` is told
    each step (``IngestStep``) and every ``PROGRESS_BYTES`` checksummed.

    Raises ``NotAllowed`` unless ``actor`` is the production's supervisor, and ``IngestError``
    (naming the file) when it is missing, empty, of a type Loupe does not ingest, its extension
    disagrees with its content, unreadable, truncated, has zero frames or absurd dimensions, names
    an unknown colour space, or is already ingested (same checksum). Nothing is stored on failure.
    """
    authz.require(actor, production, authz.INGEST_FOOTAGE)
    source = media_source(path)
    read = _read(production, source, input_colorspace, progress or _no_progress)
    with transaction.atomic():
        clip = _store(production, source, read, actor)
    logger.info("ingested clip %s (%s) into %s", clip.pk, source.probe_path, production.code)
    return clip


# --- an ingest asked for by a person, run by ``reviews.tasks.clip_ingest_run`` -------------------------------


def _start(ingest_id: int) -> ClipIngest | None:
    """Mark the ingest running; None when it has ended or is gone. A running one is started
    again: its message came back because the worker that had it died."""
    with transaction.atomic():
        ingest = (ClipIngest.objects.select_for_update(of=("self",)).select_related("production", "created_by")
                  .filter(pk=ingest_id).first())
        if ingest is None or ingest.is_finished:
            return None
        ingest.state, ingest.started_at, ingest.bytes_done = IngestState.RUNNING, timezone.now(), 0
        ingest.save(update_fields=["state", "started_at", "bytes_done"])
        clip_ingest_broadcast(ingest)
    return ingest


def _reporter(ingest: ClipIngest, progress: Progress | None) -> Progress:
    """Write each progress step on the ingest and tell the production's pages (``clip_ingest`` events)."""

    def report(step: str, done: int, total: int) -> None:
        with transaction.atomic():
            ClipIngest.objects.filter(pk=ingest.pk).update(step=step, bytes_done=done, bytes_total=total)
            ingest.step, ingest.bytes_done, ingest.bytes_total = step, done, total
            clip_ingest_broadcast(ingest)
        if progress:
            progress(step, done, total)

    return report


def _type_upload(ingest: ClipIngest, report: Progress) -> Path:
    """An upload's original under its final name: typed by probing (``notes.mov`` that holds
    text is refused, a QuickTime movie named ``.avi`` is stored as ``.mov``), moved from where it
    was received to ``originals/<production>/<safe stem><extension>``. The name is written on the
    ingest before the move, so that a redelivered message finds the file again."""
    if ingest.source_path:  # named by an earlier delivery of this message
        target = Path(ingest.source_path)
        if not target.exists() and Path(ingest.upload_path).exists():
            os.replace(ingest.upload_path, target)
        return target
    incoming = Path(ingest.upload_path)
    report(IngestStep.TYPING, 0, 0)
    try:
        demuxers = set(media_probe.probe(incoming).container_format.split(","))
    except EngineError:  # any media error of the engine's: not footage it can read
        raise IngestError(f"{ingest.name} is not a video file FFmpeg can read.") from None
    extension = next((ext for demuxer, ext in UPLOAD_EXTENSIONS if demuxer in demuxers), None)
    if extension is None:
        raise IngestError(f"{ingest.name} is {'/'.join(sorted(demuxers))}, not a video container Loupe "
                          f"ingests (MOV, MP4, MXF, AVI, MKV).")
    given = Path(ingest.name).suffix.lower()
    if extension in (".mov", ".mp4") and given in (".mov", ".mp4", ".m4v"):
        extension = given  # one demuxer reads all three; keep the name the person gave
    target = incoming.parent / f"{safe_stem(ingest.name)}{extension}"
    if target.exists():
        target = incoming.parent / f"{safe_stem(ingest.name)}-{uuid.uuid4().hex[:8]}{extension}"
    ClipIngest.objects.filter(pk=ingest.pk).update(source_path=str(target))
    ingest.source_path = str(target)
    os.replace(incoming, target)
    return target


def _finish_failed(ingest: ClipIngest, error: str) -> ClipIngest:
    """End the ingest ``failed`` with ``error`` (audit ``clip.ingest_fail``, by the engine)."""
    with transaction.atomic():
        current = ClipIngest.objects.select_for_update().select_related("production").get(pk=ingest.pk)
        if current.is_finished:
            return current
        current.state, current.error, current.finished_at = IngestState.FAILED, error, timezone.now()
        current.save(update_fields=["state", "error", "finished_at"])
        audit_record(production=current.production, actor=None, action="clip.ingest_fail", target=current,
                     payload={"name": current.name, "path": current.source_path or current.upload_path,
                              "error": error})
        clip_ingest_broadcast(current)
    return current


def _remove_upload(ingest: ClipIngest) -> None:
    """An upload that did not become a clip leaves nothing under MEDIA_ROOT."""
    for path in (ingest.upload_path, ingest.source_path if ingest.upload_path else ""):
        if path:
            Path(path).unlink(missing_ok=True)


def clip_ingest_execute(ingest_id: int, *, progress: Progress | None = None) -> ClipIngest | None:
    """Run ingest ``ingest_id``: an upload is first typed and named (:func:`_type_upload`), then
    the media is read as :func:`clip_ingest` reads it, and the clip is stored in the same
    transaction that marks the ingest ``ready`` (so a redelivered message never makes a second
    clip). ``progress(step, bytes_done, bytes_total)`` is called after each step is written.

    A failure — the specific ``IngestError`` message, or for anything unexpected its type and
    text — ends the ingest ``failed`` with that message (audit ``clip.ingest_fail``); nothing is
    stored and an upload's file is removed. Nothing is raised. Returns the ingest, or None when it
    had already ended or is gone.
    """
    ingest = _start(ingest_id)
    if ingest is None:
        return None
    production, actor = ingest.production, ingest.created_by
    report = _reporter(ingest, progress)
    try:
        if actor is None:
            raise IngestError(f"{ingest.name}: the person who asked for this ingest no longer exists; ingest it again.")
        authz.require(actor, production, authz.INGEST_FOOTAGE)  # still a supervisor when it runs
        path = _type_upload(ingest, report) if ingest.upload_path else Path(ingest.source_path)
        source = media_source(path)  # an upload: named by its stored file (a safe name, typed by probing)
        read = _read(production, source, ingest.input_colorspace or None, report)
        report(IngestStep.STORING, read.size_bytes, read.size_bytes)
        with transaction.atomic():
            current = ClipIngest.objects.select_for_update().get(pk=ingest.pk)
            if current.is_finished:  # another delivery of this message finished it
                return current
            clip = _store(production, source, read, actor)
            current.state, current.clip, current.finished_at = IngestState.READY, clip, timezone.now()
            current.step, current.error = IngestStep.STORING, ""
            current.save(update_fields=["state", "clip", "finished_at", "step", "error"])
            current.production = production
            clip_ingest_broadcast(current)
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task tries again (autoretry), the ingest stays running
    except Exception as error:  # a failure is the ingest's state, told to the person, not a crash
        if isinstance(error, IngestError) or getattr(error, "status_code", 500) < 500:
            message = str(error)
            logger.info("ingest %s of %s failed: %s", ingest.pk, production.code, message)
        else:
            logger.exception("ingest %s of %s failed", ingest.pk, production.code)
            message = f"{ingest.name}: {type(error).__name__}: {error}"
        _remove_upload(ingest)
        return _finish_failed(ingest, message)
    logger.info("ingest %s: clip %s (%s) into %s", ingest.pk, clip.pk, source.probe_path, production.code)
    return current

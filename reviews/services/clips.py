"""Dailies ingest: probe, checksum and thumbnail a media file that stays where it is."""
import hashlib
import logging
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction

from engine import io as engine_io
from engine.errors import FrameSourceError
from reviews import authz
from reviews.errors import IngestError
from reviews.media import clip_thumbnail_path, encode_review_jpeg, write_bytes_atomically
from reviews.models import Clip, Production

from .audit import audit_record

logger = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def clip_ingest(*, production: Production, path: str | Path, actor: User) -> Clip:
    """Ingest the media file at ``path`` (a video file or a folder of numbered images) into
    ``production`` as a Clip: probe it with PyAV, record its SHA-256 (chain of custody), and make
    a thumbnail of its middle frame. The original is only read.

    Raises ``NotAllowed`` unless ``actor`` is the production's supervisor, and ``IngestError``
    when the file is missing, unreadable, not video, or already ingested (same checksum).
    """
    authz.require(actor, production, authz.INGEST_FOOTAGE)
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise IngestError(f"{path} does not exist.")
    try:
        probe = engine_io.probe(path)
        poster = engine_io.read_frame(path, probe.frame_count // 2)
    except FrameSourceError as error:
        raise IngestError(f"{path.name}: {error}") from None
    checksum = _sha256(path) if path.is_file() else ""
    duplicate = Clip.objects.filter(production=production, checksum_sha256=checksum).first() if checksum else None
    if duplicate:
        raise IngestError(f"{path.name} is already in {production.code} as clip {duplicate.name!r} (same SHA-256).")
    thumbnail = encode_review_jpeg(poster)

    with transaction.atomic():
        clip = Clip.objects.create(
            production=production,
            name=path.name,
            source_path=str(path),
            checksum_sha256=checksum,
            size_bytes=path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.iterdir()),
            codec=probe.codec,
            pixel_format=probe.pixel_format,
            width=probe.width,
            height=probe.height,
            frame_rate_num=probe.frame_rate.numerator,
            frame_rate_den=probe.frame_rate.denominator,
            frame_count=probe.frame_count,
            start_timecode=probe.start_timecode or "00:00:00:00",
            ingested_by=actor,
        )
        audit_record(production=production, actor=actor, action="clip.ingest", target=clip,
                     payload={"path": str(path), "sha256": checksum, "frame_count": probe.frame_count})
        write_bytes_atomically(clip_thumbnail_path(clip.pk), thumbnail)
    logger.info("ingested clip %s (%s) into %s", clip.pk, path, production.code)
    return clip

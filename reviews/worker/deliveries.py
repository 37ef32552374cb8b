"""Delivery, the worker side (queue ``default``): render an open delivery's versions as
deliverable media, write the lists that conform them into the cut, the notes and the ASC MHL
manifest, and mark it delivered (``reviews.tasks.delivery_run`` runs :func:`delivery_render`).
What a delivery holds, and opening it, is ``reviews.services.deliveries`` (web side), whose
module documentation describes the whole; this module decodes footage (OpenCV, PyAV,
OpenImageIO) and writes lists (OpenTimelineIO) and manifests (ascmhl), which no web process
imports (docs/adr/0010-light-web-processes.md).
"""
from __future__ import annotations

import contextlib
import io
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import opentimelineio as otio
from ascmhl import commands as mhl
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from engine.errors import FrameSourceError
from engine.media.decode import FrameSource
from engine.media.images import read_image
from reviews import events
from reviews.credentials import CredentialError, credentials_sign, signing_configured
from reviews.deliverables import (DELIVERY_FORMATS, PRECISION_NOTE, DeliverableError, DeliveryFormat, SourceColour,
                                  deliverable_write, delivered_precision)
from reviews.media import rendered_frame_path
from reviews.models import Decision, DeliveredVersion, Delivery, DeliveryStatus, Proposal, Shot
from reviews.services.audit import audit_record
from reviews.services.deliveries import DeliveryFailed, version_name
from reviews.states import consent_needed
from reviews.timecode import frame_timecode, nominal_rate

logger = logging.getLogger(__name__)

#: List formats written beside the media: OpenTimelineIO adapter → file extension.
LIST_ADAPTERS = {"otio_json": ".otio", "cmx_3600": ".edl", "fcp_xml": ".xml", "AAF": ".aaf"}
MHL_HASH = "xxh64"


@dataclass
class _Rendered:
    proposal: Proposal
    shot: Shot
    name: str
    files: list[str]
    source_in: int
    source_out: int
    start_timecode: str
    reel: str
    precision: str = ""
    credential: str = ""


def delivery_render(*, delivery: Delivery, progress: Callable[[int, int], None] | None = None) -> Delivery:
    """Render, list, note and seal an open (``rendering``) delivery, then mark it delivered — or
    failed, raising ``DeliveryFailed``. Run again on a delivery still ``rendering`` (a worker
    died), it starts its folder afresh; on a finished one it does nothing."""
    production, actor = delivery.production, delivery.created_by
    if delivery.status != DeliveryStatus.RENDERING:
        return delivery
    chosen = DELIVERY_FORMATS[delivery.format]
    planned = delivery.report.get("planned", [])
    order = {pk: index for index, pk in enumerate(planned)}
    ready = sorted(Proposal.objects.filter(production=production, pk__in=planned)
                   .select_related("fix_request__shot__clip", "fix_request__shot__cut"), key=lambda p: order[p.pk])
    to_pull = list(DeliveredVersion.objects.filter(production=production, pk__in=delivery.report.get("to_pull", []))
                   .select_related("proposal__fix_request", "delivery"))
    held = delivery.report.get("held", [])
    folder = Path(delivery.folder)
    number = delivery.number
    try:
        if folder.exists():
            shutil.rmtree(folder)  # a rendering that a dead worker left half-done: this delivery's own
        folder.mkdir(parents=True)
        rendered = []
        for done, proposal in enumerate(ready, start=1):
            rendered.append(_render(proposal, folder, chosen))
            Delivery.objects.filter(pk=delivery.pk).update(versions_done=done)
            events.broadcast(events.production_group(production.pk), "delivery.progress",
                             {"id": delivery.pk, "number": number, "done": done, "total": len(ready)})
            if progress:
                progress(done, len(ready))
        lists, unplaced = _write_lists(rendered, folder, number)
        notes = _notes(delivery, chosen, rendered, held, to_pull, unplaced)
        (folder / "delivery_notes.txt").write_text(notes, encoding="utf-8")
        manifest = _seal(folder, actor, delivery)
    except Exception as error:  # noqa: BLE001 - whatever stops it, the delivery must not stay "rendering"
        _fail(delivery, actor, f"{type(error).__name__}: {error}")
        if not isinstance(error, (DeliverableError, CredentialError, FrameSourceError, OSError, ValueError,
                                  RuntimeError)):
            raise
        raise DeliveryFailed(f"Delivery {number:03d} of {production.code} failed and is not marked delivered: "
                             f"{error}") from error
    with transaction.atomic():
        for item in rendered:
            DeliveredVersion.objects.create(
                production=production, delivery=delivery, proposal=item.proposal, name=item.name, files=item.files,
                source_in=item.source_in, source_out=item.source_out, start_timecode=item.start_timecode,
                reel=item.reel, credential=item.credential)
        DeliveredVersion.objects.filter(pk__in=[pulled.pk for pulled in to_pull]).update(pulled_in=delivery)
        delivery.status = DeliveryStatus.DELIVERED
        delivery.notes = notes
        delivery.manifest = manifest
        delivery.versions_done = len(rendered)
        delivery.delivered_at = timezone.now()
        delivery.report = {**delivery.report, "versions": [item.name for item in rendered], "lists": lists,
                           "to_pull": [pulled.name for pulled in to_pull], "unplaced": unplaced,
                           "precision": {item.name: item.precision for item in rendered}}
        delivery.save()
        audit_record(production=production, actor=actor, action="delivery.deliver", target=delivery,
                     payload={"number": number, "format": chosen.name, "folder": str(folder), "manifest": manifest,
                              "versions": delivery.report["versions"], "lists": lists,
                              "to_pull": delivery.report["to_pull"], "held": held, "unplaced": unplaced})
        events.broadcast(events.production_group(production.pk), "delivery.status",
                         {"id": delivery.pk, "number": number, "status": delivery.status})
    logger.info("delivery %s of %s: %d versions into %s", number, production.code, len(rendered), folder)
    return delivery


def _fail(delivery: Delivery, actor: User | None, error: str) -> None:
    with transaction.atomic():
        delivery.status = DeliveryStatus.FAILED
        delivery.error = error
        delivery.save(update_fields=["status", "error"])
        audit_record(production=delivery.production, actor=actor, action="delivery.fail", target=delivery,
                     payload={"number": delivery.number, "error": error})
        events.broadcast(events.production_group(delivery.production_id), "delivery.status",
                         {"id": delivery.pk, "number": delivery.number, "status": delivery.status, "error": error})


# --------------------------------------------------------------------------- media


def _frames(proposal: Proposal, source: FrameSource) -> Iterator[np.ndarray]:
    """The delivered frames, [H, W, 3] RGB at the source's precision: the version's rendered
    frames where it has them (its fix's frames), the source's elsewhere (the rest of the shot
    and the handles). uint8 for an 8-bit source; for a deeper one float32 as the engine reads it
    (``FrameSource.frames(as_float=True)``), the stored frames at their precision through
    ``engine.media.images.read_image`` — 16-bit PNGs as code / 65535, a half/float source's EXRs
    as their values (above 1.0 kept) — no 8-bit step."""
    deep = not source.encoding.is_8bit
    fixed = range(proposal.frame_in, proposal.frame_out)
    for number, frame in source.frames(as_float=deep):
        if number in fixed:
            shape = frame.shape
            path = rendered_frame_path(proposal.media_dir, number)
            if not path.is_file():
                raise DeliverableError(f"{proposal.version_label}'s rendered frame {number} ({path.name}) is missing")
            if deep:
                try:
                    frame = read_image(path)
                except FrameSourceError as error:
                    raise DeliverableError(f"{proposal.version_label}'s rendered frame {number} ({path.name}) "
                                           f"is unreadable: {error}") from None
            else:
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    raise DeliverableError(f"{proposal.version_label}'s rendered frame {number} ({path.name}) "
                                           f"is unreadable")
                frame = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            if frame.shape != shape:
                raise DeliverableError(f"{proposal.version_label}'s rendered frame {number} ({path.name}) is "
                                       f"{frame.shape[1]}x{frame.shape[0]}, not the source's picture size")
        yield frame


def _stored_bits(proposal: Proposal) -> int | None:
    """Bits per sample of the version's stored rendered frames (the first one's PNG header), or
    None when it has none or stored EXR (a half/float source's, at the source's sample type)."""
    path = rendered_frame_path(proposal.media_dir, proposal.frame_in)
    try:
        with path.open("rb") as png:
            header = png.read(25)
    except OSError:
        return None
    return header[24] if len(header) == 25 and header[:8] == b"\x89PNG\r\n\x1a\n" else None


def source_colour(clip, source: FrameSource) -> SourceColour:
    """The colour encoding a clip's deliverables keep: its encoding (bit depth, sample type), its
    H.273 tags as probed at ingest, and the OCIO colour space it is read in."""
    encoding = source.encoding
    return SourceColour(bit_depth=encoding.bit_depth, sample_type=encoding.sample_type,
                        primaries=clip.color_primaries, transfer=clip.color_transfer, matrix=clip.color_matrix,
                        range=clip.color_range, colorspace=clip.input_colorspace or source.colorspace)


def _render(proposal: Proposal, folder: Path, delivery_format: DeliveryFormat) -> _Rendered:
    shot = proposal.fix_request.shot
    clip = shot.clip
    handles = settings.LOUPE_DELIVERY_HANDLES
    first, stop = max(0, shot.source_in - handles), min(clip.frame_count, shot.source_out + handles)
    start_timecode = frame_timecode(start_timecode=clip.start_timecode, frame_rate=clip.frame_rate, frame=first)
    reel = clip.reel or Path(clip.name).stem
    name = version_name(proposal)
    source = FrameSource(Path(clip.source_path), first, stop)
    colour = source_colour(clip, source)
    files = deliverable_write(folder=folder, name=name, delivery_format=delivery_format,
                              frames=_frames(proposal, source), width=clip.width, height=clip.height,
                              frame_rate=clip.frame_rate, start_timecode=start_timecode, reel=reel, source=colour)
    credential = ""
    if signing_configured() and not delivery_format.sequence:
        credential = credentials_sign(media=folder / files[0], source=_source_file(clip), title=files[0].name,
                                      fix=fix_claims(proposal), software=f"Loupe {settings.LOUPE_VERSION} engine")
    return _Rendered(proposal=proposal, shot=shot, name=name, files=[str(path) for path in files], source_in=first,
                     source_out=stop, start_timecode=start_timecode, reel=reel, credential=credential,
                     precision=delivered_precision(delivery_format, colour, stored_bits=_stored_bits(proposal)))


def _source_file(clip) -> Path:
    """The file standing for a clip as a C2PA ingredient: the video file, or an image sequence's
    first image."""
    path = Path(clip.source_path)
    if path.is_dir():
        return min(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return path


def fix_claims(proposal: Proposal) -> dict:
    """What a deliverable's content credentials say of its fix (``reviews.credentials``): the
    fix, version and frames, the engine method and parameters that made it, the approving
    director, and — for a digital alteration of a performer — the consent records it rests on."""
    fix_request = proposal.fix_request
    approval = (proposal.decisions.filter(decision=Decision.APPROVE).select_related("director")
                .order_by("-created_at").first())
    consents = []
    if consent_needed(fix_request.alteration):
        consents = [{"consent_request": consent.pk, "performer": consent.performer.name, "status": consent.status,
                     "scope": consent.scope, "answered_at": consent.answered_at.isoformat() if consent.answered_at
                     else None}
                    for consent in fix_request.consent_requests.select_related("performer").order_by("pk")]
    return {
        "production": proposal.production.code, "shot": fix_request.shot.code, "fix": fix_request.kind,
        "fix_label": fix_request.get_kind_display(), "fix_request": fix_request.pk, "proposal": proposal.pk,
        "version": proposal.version_label, "frames": [proposal.frame_in, proposal.frame_out],
        "engine_method": proposal.method, "engine_version": settings.LOUPE_VERSION,
        "parameters": proposal.parameters, "alteration": fix_request.alteration,
        "approved_by": approval.director.username if approval else None,
        "approved_at": approval.created_at.isoformat() if approval else None,
        "consent": consents,
    }


# --------------------------------------------------------------------------- lists


def delivery_timeline(rendered: list[_Rendered], sequence: str, number: int, *,
                      rate: float | None = None) -> otio.schema.Timeline:
    """An OpenTimelineIO timeline of one sequence's delivered versions: each on its shot's record
    frames (gaps between), at the cut's rate (or ``rate``: the same frames labelled at another
    rate of the same timecode base) and record start, its source range the shot's frames within
    the deliverable (handles outside), its media the deliverable file."""
    cut = rendered[0].shot.cut
    rate = rate or float(cut.frame_rate)
    timeline = otio.schema.Timeline(name=f"{sequence} delivery {number:03d}",
                                     global_start_time=otio.opentime.RationalTime(cut.record_start_frame, rate))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    position = 0
    for item in sorted(rendered, key=lambda item: item.shot.record_in):
        shot = item.shot
        if shot.record_in > position:
            track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(shot.record_in - position, rate)))
        start = otio.opentime.from_timecode(item.start_timecode, rate)
        clip = otio.schema.Clip(
            name=item.name,
            media_reference=otio.schema.ExternalReference(
                target_url=item.files[0] if len(item.files) == 1 else str(Path(item.files[0]).parent),
                available_range=otio.opentime.TimeRange(
                    start, otio.opentime.RationalTime(item.source_out - item.source_in, rate))),
            source_range=otio.opentime.TimeRange(
                start + otio.opentime.RationalTime(shot.source_in - item.source_in, rate),
                otio.opentime.RationalTime(shot.record_out - shot.record_in, rate)),
            metadata={"cmx_3600": {"reel": item.reel}, "loupe": {
                "shot": shot.code, "proposal": item.proposal.pk, "version": item.proposal.version_label}},
        )
        track.append(clip)
        position = shot.record_out
    return timeline


def _write_lists(rendered: list[_Rendered], folder: Path, number: int) -> tuple[dict[str, list[str]], list[str]]:
    """Write each sequence's lists; returns {sequence: files} and the versions whose shots are in
    no cut (no record frames to place them on)."""
    by_sequence: dict[str, list[_Rendered]] = {}
    unplaced = []
    for item in rendered:
        shot = item.shot
        if shot.cut_id is None or shot.record_in is None or shot.removed_from_cut_at is not None:
            unplaced.append(item.name)
            continue
        by_sequence.setdefault(shot.cut.sequence, []).append(item)
    written: dict[str, list[str]] = {}
    for sequence, items in sorted(by_sequence.items()):
        timeline = delivery_timeline(items, sequence, number)
        stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in sequence) or "sequence"
        written[sequence] = []
        for adapter, extension in LIST_ADAPTERS.items():
            path = folder / f"{stem}{extension}"
            if adapter == "AAF":  # binary, written to a file only; new mob IDs for the new media
                otio.adapters.write_to_file(timeline, str(path), adapter_name=adapter, use_empty_mob_ids=True)
            elif adapter == "cmx_3600":
                path.write_text(_edl(items, sequence, number), encoding="utf-8")
            else:
                path.write_text(otio.adapters.write_to_string(timeline, adapter_name=adapter), encoding="utf-8")
            written[sequence].append(path.name)
    return written, unplaced


def _edl(items: list[_Rendered], sequence: str, number: int) -> str:
    """The delivery's timeline as a CMX3600 EDL. OpenTimelineIO's writer counts record time from
    0 and writes drop-frame timecode at 29.97: the record start goes in as a leading gap (the
    writer writes gaps as absent record time), and a non-drop source is written at its timecode
    base (30 for 29.97: the same frame labels, non-drop)."""
    rate = float(items[0].shot.cut.frame_rate)
    if ";" not in items[0].start_timecode:
        rate = float(nominal_rate(rate))
    timeline = delivery_timeline(items, sequence, number, rate=rate)
    start = timeline.global_start_time
    if start.value > 0:
        timeline.tracks[0].insert(0, otio.schema.Gap(duration=start))
    return otio.adapters.write_to_string(timeline, adapter_name="cmx_3600", rate=rate)


# --------------------------------------------------------------------------- notes and manifest


def _notes(delivery: Delivery, delivery_format: DeliveryFormat, rendered: list[_Rendered], held: list[str],
           to_pull: list[DeliveredVersion], unplaced: list[str]) -> str:
    lines = [f"{delivery.production.code} ({delivery.production.name}) — delivery {delivery.number:03d}",
             f"Format: {delivery_format.label}. Handles: {settings.LOUPE_DELIVERY_HANDLES} frames each side "
             f"(fewer where the clip ends).", PRECISION_NOTE, _credentials_note(delivery_format), "",
             f"Delivered ({len(rendered)}):"]
    for item in rendered:
        shot = item.shot
        lines.append(f"  {item.name}: shot {shot.code}, clip {shot.clip.name} frames {item.source_in}–"
                     f"{item.source_out - 1} from {item.start_timecode} (reel {item.reel}); fix "
                     f"{item.proposal.fix_request.get_kind_display()} on frames {item.proposal.frame_in}–"
                     f"{item.proposal.frame_out - 1}; {', '.join(item.files[:1])}"
                     + (f" (C2PA {item.credential})" if item.credential else "")
                     + (f" … ({len(item.files)} files)" if len(item.files) > 1 else ""))
        lines.append(f"    precision: {item.precision}")
    if to_pull:
        lines += ["", f"To be pulled from the cut ({len(to_pull)}): approval withdrawn after delivery"]
        lines += [f"  {pulled.name} (delivery {pulled.delivery.number:03d}): now "
                  f"{pulled.proposal.get_status_display().lower()}" for pulled in to_pull]
    if held:
        lines += ["", f"Held back ({len(held)}):"] + [f"  {reason}" for reason in held]
    if unplaced:
        lines += ["", "In no cut (not in the lists): " + ", ".join(unplaced)]
    return "\n".join(lines) + "\n"


def _credentials_note(delivery_format: DeliveryFormat) -> str:
    if delivery_format.sequence:
        return f"Content credentials: none ({delivery_format.label}: C2PA binds no manifest to these images)."
    if not signing_configured():
        return "Content credentials: none (no signing certificate configured: LOUPE_C2PA_SIGNING_CERT/_KEY)."
    return "Content credentials: a signed C2PA manifest in each file (the fix, its approval and consent)."


def _seal(folder: Path, actor: User | None, delivery: Delivery) -> str:
    """Write the folder's ASC MHL generation (xxh64 of every file) and verify it against the
    files; returns the manifest's path relative to ``folder``. Raises ``RuntimeError`` when
    writing or verification fails."""
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            mhl.create_for_folder_subcommand(
                root_path=str(folder), verbose=False, detect_renaming=False, hash_formats=[MHL_HASH],
                no_directory_hashes=False, author_name=(actor.get_full_name() or actor.username) if actor else "Loupe",
                author_email=(actor.email or None) if actor else None, author_phone=None,
                author_role="post supervisor", location=None,
                comment=f"Loupe delivery {delivery.number:03d} of {delivery.production.code}", ignore_list=[])
            mhl.verify_entire_folder(str(folder), False, None, None, ignore_list=[])
    except Exception as error:  # noqa: BLE001 - ascmhl raises its own exception types and click's
        raise RuntimeError(f"the ASC MHL manifest did not verify: {error} {log.getvalue().strip()}") from error
    manifests = sorted((folder / "ascmhl").glob("*.mhl"))
    if not manifests:
        raise RuntimeError("ascmhl wrote no manifest")
    return str(manifests[-1].relative_to(folder))

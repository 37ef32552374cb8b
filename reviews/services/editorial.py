"""Editorial import (conform): a cut — CMX3600 EDL, OpenTimelineIO or Final Cut Pro 7 XML, read
through OpenTimelineIO and its adapters — becomes the production's shots, each with its source
range in a clip and its record range in the cut.

Matching an event to a clip, strongest evidence first: the media path's file name (FCP XML,
OTIO, ``* FROM CLIP:``), then the clip name (``* FROM CLIP NAME:``, without the ``(LAY3)``-style
annotations editors add), then the reel (also an 8-character CMX reel truncated from a longer
name). Among the clips so named, the one whose timecode contains the event's source range is
taken; every event that ends with no clip is listed with the reason.

Conform: a cut belongs to a *sequence* (by default its title). Importing a cut of a sequence
again matches each event to a shot of the previous cuts of that sequence by the same clip and
overlapping source frames, so shots keep their identity and fix requests; what changed is
reported (trimmed: source range changed; moved: order among the kept shots changed), new events
become new shots, and shots the cut no longer has are flagged ``removed_from_cut_at`` — never
deleted. All of it in one transaction.
"""
from __future__ import annotations

import hashlib
import logging
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlparse

import opentimelineio as otio
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from reviews import authz
from reviews.errors import CutImportError
from reviews.models import Clip, Cut, Production, Shot
from reviews.timecode import source_frame, time_timecode

from .audit import audit_record

logger = logging.getLogger(__name__)

#: Editorial file extensions → OpenTimelineIO adapter.
ADAPTERS = {".edl": "cmx_3600", ".otio": "otio_json", ".xml": "fcp_xml"}
#: Frame rate an EDL is read at when neither the caller nor the production's clips say (EDLs
#: carry none).
DEFAULT_EDL_RATE = Fraction(24)
_ANNOTATION = re.compile(r"\s*\([^)]*\)")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_KNOWN_OTHER = {".fcpxml": "Final Cut Pro X XML", ".aaf": "AAF", ".ale": "Avid ALE (a bin, not a cut)"}


@dataclass
class ShotChange:
    """One shot of the imported cut and what the import did to it.

    ``change``: ``created``, ``unchanged``, ``trimmed``, ``moved``, ``moved+trimmed``,
    ``restored`` (back in the cut after a removal) or ``removed``. Frames are ``[in, out)``.
    """

    shot_id: int
    code: str
    clip: str
    change: str
    source_in: int
    source_out: int
    record_in: int | None
    record_out: int | None
    previous_source: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class UnmatchedEvent:
    """An event of the cut that became no shot, and why."""

    event: int
    track: str
    name: str
    reel: str
    source_timecode: str
    record_in: int
    reason: str


@dataclass
class CutImportReport:
    """What ``cut_import`` did. ``shots`` lists every shot of the new cut in cut order, then the
    removed ones; ``unmatched`` every event that became no shot."""

    cut: Cut
    events: int
    shots: list[ShotChange]
    unmatched: list[UnmatchedEvent]

    def by_change(self, *changes: str) -> list[ShotChange]:
        return [shot for shot in self.shots if shot.change in changes]

    @property
    def created(self) -> list[ShotChange]:
        return self.by_change("created")

    @property
    def matched(self) -> list[ShotChange]:
        """Shots that were already in the sequence and are in this cut (changed or not)."""
        return self.by_change("unchanged", "trimmed", "moved", "moved+trimmed", "restored")

    @property
    def removed(self) -> list[ShotChange]:
        return self.by_change("removed")

    def as_dict(self) -> dict:
        return {
            "cut": self.cut.pk,
            "sequence": self.cut.sequence,
            "name": self.cut.name,
            "file_name": self.cut.file_name,
            "frame_rate": f"{self.cut.frame_rate_num}/{self.cut.frame_rate_den}",
            "events": self.events,
            "counts": {
                "created": len(self.created), "matched": len(self.matched), "removed": len(self.removed),
                "trimmed": len(self.by_change("trimmed", "moved+trimmed")),
                "moved": len(self.by_change("moved", "moved+trimmed")),
                "unmatched": len(self.unmatched),
            },
            "shots": [asdict(shot) for shot in self.shots],
            "unmatched": [asdict(event) for event in self.unmatched],
        }


# --------------------------------------------------------------------------- reading


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # CMX3600 predates Unicode; old EDLs are Latin-1


def _edl_error_line(lines: list[str], rate: float) -> int | None:
    """The 1-based line of an EDL at which OpenTimelineIO's parser first fails: the shortest
    failing prefix, found by bisection (the parser reads events in order, so a prefix that
    fails keeps failing as lines are added)."""

    def fails(count: int) -> bool:
        try:
            otio.adapters.read_from_string("\n".join(lines[:count]), adapter_name="cmx_3600", rate=rate)
        except Exception:  # noqa: BLE001 - any parser failure counts
            return True
        return False

    low, high = 0, len(lines)  # prefix of `low` lines parses; of `high` lines fails
    if not fails(high):
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if fails(middle):
            high = middle
        else:
            low = middle
    return high


def read_cut(path: Path, data: bytes, *, rate: Fraction) -> otio.schema.Timeline:
    """Read an editorial file's bytes into an OpenTimelineIO timeline. ``rate`` is the frame
    rate an EDL's timecodes are read at.

    Raises ``CutImportError`` naming the file (and, for an EDL or XML, the line) for an
    unsupported format, a syntax error, or a file holding no single timeline.
    """
    suffix = path.suffix.lower()
    name = path.name
    adapter = ADAPTERS.get(suffix)
    if adapter is None:
        kind = _KNOWN_OTHER.get(suffix, f"{suffix or 'no extension'}")
        raise CutImportError(f"{name}: {kind} is not a format Loupe imports cuts from "
                             f"(CMX3600 .edl, OpenTimelineIO .otio, Final Cut Pro 7 .xml).")
    if not data.strip():
        raise CutImportError(f"{name} is empty.")
    text = _decode_text(data)
    try:
        if adapter == "cmx_3600":
            timeline = otio.adapters.read_from_string(text, adapter_name=adapter, rate=float(rate))
        else:
            timeline = otio.adapters.read_from_string(text, adapter_name=adapter)
    except Exception as error:  # noqa: BLE001 - adapters raise anything from ValueError to ParseError
        message = str(error).strip() or type(error).__name__
        if adapter == "cmx_3600":
            lines = text.splitlines()
            line = _edl_error_line(lines, float(rate))
            if line is not None:
                hint = ""
                if "Frame rate mismatch" in message:
                    hint = f" (read at {float(rate):g} frames/s; import it at the cut's frame rate)"
                raise CutImportError(f"{name}, line {line}: {message}{hint}: {lines[line - 1].strip()!r}") from None
        if isinstance(error, ElementTree.ParseError):
            raise CutImportError(f"{name}, line {error.position[0]}: not well-formed XML ({message}).") from None
        if "unsupported schema version" in message:
            raise CutImportError(f"{name}: written by a newer OpenTimelineIO than {otio.__version__} ({message}); "
                                 f"export it with OpenTimelineIO {otio.__version__} or as an EDL.") from None
        raise CutImportError(f"{name}: not a readable {suffix[1:].upper()} cut: {message}") from None
    if isinstance(timeline, otio.schema.SerializableCollection):
        timelines = list(timeline.find_children(descended_from_type=otio.schema.Timeline, shallow_search=True))
        if len(timelines) != 1:
            raise CutImportError(f"{name} holds {len(timelines)} timelines; export one sequence per file.")
        timeline = timelines[0]
    if not isinstance(timeline, otio.schema.Timeline):
        raise CutImportError(f"{name} holds a {type(timeline).__name__}, not a timeline.")
    return timeline


# --------------------------------------------------------------------------- events → clips


@dataclass
class _Event:
    number: int
    track: str
    name: str
    reel: str
    media_name: str
    source_start: otio.opentime.RationalTime
    duration_frames: int
    record_in: int
    record_out: int
    is_generated: bool = False
    is_audio: bool = False
    clip: Clip | None = None
    source_in: int = 0
    source_out: int = 0
    reason: str = ""


def _media_name(reference) -> str:
    if isinstance(reference, otio.schema.ExternalReference) and reference.target_url:
        url = reference.target_url
        raw = unquote(urlparse(url).path) if "://" in url else url
        return PureWindowsPath(raw).name if "\\" in raw else PurePosixPath(raw).name
    if isinstance(reference, otio.schema.ImageSequenceReference):
        return reference.name_prefix.rstrip("._-")
    return ""


def _events(timeline: otio.schema.Timeline, cut_rate: float) -> list[_Event]:
    events = []
    number = 0
    for kind, tracks in (("video", timeline.video_tracks()), ("audio", timeline.audio_tracks())):
        for index, track in enumerate(tracks, start=1):
            label = track.name or f"{'V' if kind == 'video' else 'A'}{index}"
            for item in track.find_clips():
                number += 1
                source = item.trimmed_range()
                record = item.transformed_time_range(source, track)
                record_in = round(record.start_time.rescaled_to(cut_rate).value)
                cmx = item.metadata.get("cmx_3600")
                cmx = dict(cmx) if hasattr(cmx, "keys") else {}
                events.append(_Event(
                    number=number, track=label, name=item.name or "", reel=str(cmx.get("reel", "") or ""),
                    media_name=_media_name(item.media_reference),
                    source_start=source.start_time, duration_frames=round(source.duration.value),
                    record_in=record_in, record_out=record_in + round(record.duration.rescaled_to(cut_rate).value),
                    is_generated=isinstance(item.media_reference, otio.schema.GeneratorReference),
                    is_audio=kind == "audio",
                ))
    return events


def _keys(value: str) -> set[str]:
    """Ways a clip may be named: as is, without annotations like ``(LAY3)``, without extension."""
    value = value.strip().lower()
    if not value:
        return set()
    bare = _ANNOTATION.sub("", value).strip()
    keys = {value, bare}
    for key in list(keys):
        stem = PurePosixPath(key).stem if "." in key else key
        keys.add(stem)
    return {key for key in keys if key}


class _ClipIndex:
    def __init__(self, clips: list[Clip]):
        self.by_name: dict[str, list[Clip]] = {}
        self.by_reel: dict[str, list[Clip]] = {}
        for clip in clips:
            for key in _keys(clip.name):
                self.by_name.setdefault(key, []).append(clip)
            for key in {clip.reel.lower(), PurePosixPath(clip.name).stem.lower()} - {""}:
                self.by_reel.setdefault(key, []).append(clip)

    def candidates(self, event: _Event) -> tuple[list[Clip], str]:
        """The clips the event names, and by what (the strongest evidence that names any)."""
        for evidence, keys in (("media file", _keys(event.media_name)), ("clip name", _keys(event.name))):
            found = {clip.pk: clip for key in keys for clip in self.by_name.get(key, [])}
            if found:
                return list(found.values()), evidence
        reel = event.reel.strip().lower()
        if reel:
            found = {clip.pk: clip for clip in self.by_reel.get(reel, [])}
            if not found and len(reel) == 8:  # CMX3600 reels are cut to 8 characters
                found = {clip.pk: clip for key, clips in self.by_reel.items() if key.startswith(reel) for clip in clips}
            if found:
                return list(found.values()), "reel"
        return [], ""


def _match(event: _Event, index: _ClipIndex, production: Production) -> None:
    source_tc = time_timecode(event.source_start)
    if event.is_audio:
        event.reason = "audio event: shots are made from video tracks only"
        return
    if event.is_generated:
        event.reason = "generated media (title, colour bars, solid): no footage to match"
        return
    if event.duration_frames <= 0:
        event.reason = "the event has no frames"
        return
    candidates, evidence = index.candidates(event)
    if not candidates:
        named = ", ".join(f"{what} {value!r}" for what, value in
                          (("media file", event.media_name), ("clip name", event.name), ("reel", event.reel)) if value)
        event.reason = f"no clip of {production.code} matches its {named or 'nothing: the event names no source'}"
        return
    inside, outside = [], []
    for clip in candidates:
        try:
            first = source_frame(time=event.source_start, start_timecode=clip.start_timecode,
                                 frame_rate=clip.frame_rate)
        except ValueError as error:
            outside.append(f"{clip.name}: {error}")
            continue
        if 0 <= first and first + event.duration_frames <= clip.frame_count:
            inside.append((clip, first))
        else:
            last = time_timecode(event.source_start + otio.opentime.RationalTime(event.duration_frames, event.source_start.rate))
            outside.append(f"source {source_tc}–{last} lies outside {clip.name} "
                           f"(starts {clip.start_timecode}, {clip.frame_count} frames)")
    if len(inside) == 1:
        event.clip, event.source_in = inside[0]
        event.source_out = event.source_in + event.duration_frames
    elif inside:
        event.reason = (f"ambiguous: {evidence} matches {len(inside)} clips that all hold source {source_tc} "
                        f"({', '.join(clip.name for clip, _ in inside)})")
    else:
        event.reason = f"{evidence} matches, but " + "; ".join(outside)


# --------------------------------------------------------------------------- conform


def _code_base(event: _Event, sequence: str) -> str:
    name = _ANNOTATION.sub("", event.name).strip() or event.reel
    if "." in name:
        name = PurePosixPath(name).stem.split(".")[0] or name
    code = _UNSAFE.sub("_", name).strip("_")[:56]
    return code or f"{_UNSAFE.sub('_', sequence)[:48]}_{event.number:03d}"


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cut_rate(timeline: otio.schema.Timeline, fallback: Fraction) -> Fraction:
    """The rate the timeline itself counts record time in (its clips may have others)."""
    rate = timeline.global_start_time.rate if timeline.global_start_time is not None else timeline.duration().rate
    return Fraction(rate).limit_denominator(1001) if rate > 0 else fallback


def _production_rate(production: Production) -> Fraction | None:
    rates = {Fraction(num, den) for num, den in production.clips.values_list("frame_rate_num", "frame_rate_den")}
    return rates.pop() if len(rates) == 1 else None


def cut_import(*, production: Production, path: str | Path, actor: User, data: bytes | None = None,
               sequence: str | None = None, rate: Fraction | None = None) -> CutImportReport:
    """Import the editorial file at ``path`` (or its ``data``, for an upload named ``path``) into
    ``production``: conform the shots of ``sequence`` (default: the timeline's title) to it.

    ``rate`` is the frame rate an EDL is read at; by default the production's clips' one rate,
    else 24. Returns the report (also stored on the new ``Cut``). Raises ``NotAllowed`` unless
    ``actor`` is a supervisor, ``CutImportError`` for an unreadable file (naming the file and,
    for an EDL or XML, the line), one with no video events or more than ``LOUPE_CUT_MAX_EVENTS``
    events. Nothing is stored on failure.
    """
    authz.require(actor, production, authz.IMPORT_CUT)
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CutImportError(f"{path.name} cannot be read: {error.strerror or error}.") from None
    edl_rate = Fraction(rate) if rate else (_production_rate(production) or DEFAULT_EDL_RATE)
    timeline = read_cut(path, data, rate=edl_rate)
    cut_rate = edl_rate if path.suffix.lower() == ".edl" else _cut_rate(timeline, edl_rate)
    events = _events(timeline, float(cut_rate))
    if len(events) > settings.LOUPE_CUT_MAX_EVENTS:  # the cut-size limit (issue #23); before any matching
        raise CutImportError(f"{path.name} has {len(events)} events; a cut of at most {settings.LOUPE_CUT_MAX_EVENTS} "
                             f"is imported (LOUPE_CUT_MAX_EVENTS). Nothing was imported; split the timeline.")
    if not any(not event.is_audio for event in events):
        raise CutImportError(f"{path.name} has no video events.")
    index = _ClipIndex(list(production.clips.all()))
    for event in events:
        _match(event, index, production)
    sequence = (sequence or timeline.name or path.stem).strip()[:200]

    with transaction.atomic():
        cut = Cut.objects.create(
            production=production, sequence=sequence, name=(timeline.name or "")[:200], file_name=path.name[:255],
            checksum_sha256=_file_sha256(data), frame_rate_num=cut_rate.numerator,
            frame_rate_den=cut_rate.denominator, imported_by=actor,
        )
        report = _conform(production=production, cut=cut, events=events)
        cut.report = report.as_dict()
        cut.save(update_fields=["report"])
        counts = cut.report["counts"]
        audit_record(production=production, actor=actor, action="cut.import", target=cut,
                     payload={"file": path.name, "sha256": cut.checksum_sha256, "sequence": sequence,
                              **counts, "shots": {s.code: s.change for s in report.shots}})
    logger.info("imported cut %s (%s) into %s: %s", cut.pk, path.name, production.code, counts)
    return report


def _conform(*, production: Production, cut: Cut, events: list[_Event]) -> CutImportReport:
    matched = sorted((e for e in events if e.clip is not None), key=lambda e: (e.track, e.record_in, e.number))
    previous = list(Shot.objects.select_for_update().filter(production=production, cut__sequence=cut.sequence)
                    .select_related("clip").order_by("cut_order", "id"))
    # Pair events with earlier shots of the sequence: same clip, most overlapping source frames;
    # shots still in the cut before removed ones.
    pairs = []
    for event in matched:
        for shot in previous:
            if shot.clip_id == event.clip.pk:
                overlap = _overlap((event.source_in, event.source_out), (shot.source_in, shot.source_out))
                if overlap:
                    pairs.append((-overlap, shot.removed_from_cut_at is not None,
                                  abs(shot.source_in - event.source_in), event.number, shot.pk, event, shot))
    pairs.sort(key=lambda pair: pair[:5])
    shot_of: dict[int, Shot] = {}
    taken: set[int] = set()
    for *_, event, shot in pairs:
        if event.number not in shot_of and shot.pk not in taken:
            shot_of[event.number] = shot
            taken.add(shot.pk)

    kept_before = [shot.pk for shot in previous if shot.pk in taken and shot.removed_from_cut_at is None]
    kept_after = [shot_of[e.number].pk for e in matched if e.number in shot_of
                  and shot_of[e.number].removed_from_cut_at is None]
    rank_before = {pk: rank for rank, pk in enumerate(kept_before)}
    rank_after = {pk: rank for rank, pk in enumerate(kept_after)}

    codes = set(production.shots.values_list("code", flat=True))
    changes: list[ShotChange] = []
    for order, event in enumerate(matched):
        shot = shot_of.get(event.number)
        fields = dict(clip=event.clip, source_in=event.source_in, source_out=event.source_out, cut=cut,
                      cut_order=order, track=event.track[:64], record_in=event.record_in,
                      record_out=event.record_out, reel=event.reel[:128], clip_name=event.name[:255])
        if shot is None:
            base = _code_base(event, cut.sequence)
            code, suffix = base, 2
            while code in codes:
                code, suffix = f"{base}_{suffix}", suffix + 1
            codes.add(code)
            shot = Shot.objects.create(production=production, code=code, **fields)
            change, previous_source = "created", None
        else:
            previous_source = (shot.source_in, shot.source_out)
            trimmed = previous_source != (event.source_in, event.source_out)
            if shot.removed_from_cut_at is not None:
                change = "restored"
            else:
                moved = rank_before[shot.pk] != rank_after[shot.pk]
                change = {(False, False): "unchanged", (True, False): "trimmed", (False, True): "moved",
                          (True, True): "moved+trimmed"}[(trimmed, moved)]
            for name, value in fields.items():
                setattr(shot, name, value)
            shot.removed_from_cut_at = None
            shot.save()
        notes = [f"fix request {fr.pk} (frames {fr.frame_in}–{fr.frame_out}) now lies outside the source range"
                 for fr in shot.fix_requests.all()
                 if not shot.source_in <= fr.frame_in < fr.frame_out <= shot.source_out]
        changes.append(ShotChange(
            shot_id=shot.pk, code=shot.code, clip=event.clip.name, change=change, source_in=shot.source_in,
            source_out=shot.source_out, record_in=shot.record_in, record_out=shot.record_out,
            previous_source=previous_source if change != "created" and previous_source != (shot.source_in, shot.source_out) else None,
            notes=notes,
        ))
    now = timezone.now()
    for shot in previous:
        if shot.pk not in taken and shot.removed_from_cut_at is None:
            shot.removed_from_cut_at = now
            shot.save(update_fields=["removed_from_cut_at"])
            open_fixes = shot.fix_requests.count()
            changes.append(ShotChange(
                shot_id=shot.pk, code=shot.code, clip=shot.clip.name, change="removed", source_in=shot.source_in,
                source_out=shot.source_out, record_in=shot.record_in, record_out=shot.record_out,
                notes=[f"kept with its {open_fixes} fix request(s)"] if open_fixes else [],
            ))
    unmatched = [UnmatchedEvent(event=e.number, track=e.track, name=e.name, reel=e.reel,
                                source_timecode=time_timecode(e.source_start), record_in=e.record_in, reason=e.reason)
                 for e in events if e.clip is None]
    return CutImportReport(cut=cut, events=len(events), shots=changes, unmatched=unmatched)

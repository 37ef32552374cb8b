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
import tempfile
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
from reviews.timecode import nominal_rate, source_frame, time_timecode

from .audit import audit_record

logger = logging.getLogger(__name__)

#: Editorial file extensions → OpenTimelineIO adapter (``ale``: an Avid bin, clip metadata).
ADAPTERS = {".edl": "cmx_3600", ".otio": "otio_json", ".xml": "fcp_xml", ".fcpxml": "fcpx_xml", ".aaf": "AAF",
            ".ale": "ale"}
#: Frame rate an EDL is read at when neither the caller nor the production's clips say (EDLs
#: carry none).
DEFAULT_EDL_RATE = Fraction(24)
_ANNOTATION = re.compile(r"\s*\([^)]*\)")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class ShotChange:
    """One shot of the imported cut and what the import did to it.

    ``change``: ``created``, ``unchanged``, ``trimmed``, ``moved``, ``moved+trimmed``,
    ``restored`` (back in the cut after a removal) or ``removed``. Frames are ``[in, out)``.
    ``speed``: the event's time warp (0 = freeze frame; None = none); ``transition_in``: the
    dissolve or wipe into it (``{"kind", "frames"}``); ``cdl``: its ASC CDL from the cut.
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
    speed: float | None = None
    transition_in: dict | None = None
    cdl: dict | None = None


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
    notes: list[str] = field(default_factory=list)


@dataclass
class CutImportReport:
    """What ``cut_import`` did. ``shots`` lists every shot of the new cut in cut order, then the
    removed ones; ``unmatched`` every event that became no shot; ``warnings`` what the reader
    kept despite the file (each naming its line or part)."""

    cut: Cut
    events: int
    shots: list[ShotChange]
    unmatched: list[UnmatchedEvent]
    warnings: list[str] = field(default_factory=list)

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
            "warnings": list(self.warnings),
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
            otio.adapters.read_from_string("\n".join(lines[:count]), adapter_name="cmx_3600", rate=rate,
                                           ignore_timecode_mismatch=True)
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


#: An EDL's timecode bases (frames per timecode second) and the frame rates each names, as said
#: to people and as given to ``--rate`` / the Rate field.
EDL_TIMECODE_BASES = {24: ("24 or 23.976", "24"), 25: ("25", "25"), 30: ("29.97 or 30", "29.97"),
                      50: ("50", "50"), 60: ("59.94 or 60", "59.94")}
_EDL_EVENT = re.compile(r"^(\d+)\s+\S+\s+(\S+)\s+(?:C|D|W\d{3}|K[BO]?)\s+(?:\d+\s+)?"
                        r"(\d\d:\d\d:\d\d[:;.]\d\d)\s+(\d\d:\d\d:\d\d[:;.]\d\d)\s+"
                        r"(\d\d:\d\d:\d\d[:;.]\d\d)\s+(\d\d:\d\d:\d\d[:;.]\d\d)\s*$")


@dataclass
class _EdlLine:
    """One event statement of an EDL: its 1-based line, its four timecodes (source in/out,
    record in/out), whether an M2 (motion) statement follows it (record duration then differs
    from source duration on purpose) and whether its timecodes are drop-frame (``;`` in them, or
    the last ``FCM:`` line before it says DROP FRAME)."""

    line: int
    channel: str
    timecodes: tuple[str, str, str, str]
    speed_effect: bool
    drop_frame: bool = False


def _edl_lines(lines: list[str]) -> list[_EdlLine]:
    found = []
    drop_frame = False
    for number, text in enumerate(lines, start=1):
        if text.strip().upper().startswith("FCM:"):
            drop_frame = "NON" not in text.upper() and "DROP" in text.upper()
        match = _EDL_EVENT.match(text.strip())
        if match is None:
            continue
        following = next((line.strip() for line in lines[number:] if line.strip()), "")
        timecodes = match.groups()[2:]
        found.append(_EdlLine(line=number, channel=match.group(2), timecodes=timecodes,
                              speed_effect=following.startswith("M2"),
                              drop_frame=drop_frame or any(";" in tc for tc in timecodes)))
    return found


def _frames(event: _EdlLine, base: int) -> list[int] | None:
    """The event's four timecodes as frame counts at ``base`` frames a second (drop-frame
    counting at 30 and 60 for drop-frame timecodes, SMPTE ST 12-1); None if one has frames
    beyond it."""
    drop_frame = event.drop_frame and base in (30, 60)
    rate = base * 1000 / 1001 if drop_frame else base
    try:
        return [round(otio.opentime.from_timecode(
            tc[:8].replace(";", ":").replace(".", ":") + (";" if drop_frame else ":") + tc[9:], rate).value)
            for tc in event.timecodes]
    except ValueError:
        return None


def _mismatched_lines(events: list[_EdlLine], base: int) -> list[int] | None:
    """Lines whose source and record durations differ when the timecodes count ``base`` frames
    a second (M2 speed effects aside); None if a timecode has frames beyond ``base``."""
    mismatched = []
    for event in events:
        frames = _frames(event, base)
        if frames is None:
            return None
        if not event.speed_effect and frames[1] - frames[0] != frames[3] - frames[2]:
            mismatched.append(event.line)
    return mismatched


def _edl_timing_warnings(events: list[_EdlLine], base: int) -> list[str]:
    """One warning per event kept despite its timecodes, naming its line: source and record
    durations that disagree (kept at the source duration from its record in, as OpenTimelineIO
    reads it when told to tolerate it); and a record in before the previous event's end on the
    same channel (moved to that end — one warning for a run of events moved by the same amount,
    as the events after a too-long one are)."""
    warnings: list[str] = []
    track_end: dict[str, int] = {}
    runs: dict[str, list] = {}  # channel → [shift, first event, last event, event count] of its open run
    closed: list[list] = []
    for event in events:
        source_in, source_out, record_in, record_out = _frames(event, base)
        source, record = source_out - source_in, record_out - record_in
        if not event.speed_effect and source != record:
            warnings.append(f"line {event.line}: source {event.timecodes[0]}–{event.timecodes[1]} is {source} frames "
                            f"but record {event.timecodes[2]}–{event.timecodes[3]} is {record}; kept at the source "
                            f"duration")
        end = track_end.get(event.channel)
        shift = end - record_in if end is not None and record_in < end else 0
        run = runs.get(event.channel)
        if run and run[0] == shift:
            run[2], run[3] = event, run[3] + 1
        else:
            if run:
                closed.append(run)
            runs[event.channel] = [shift, event, event, 1] if shift else None
        track_end[event.channel] = record_in + shift + (record if event.speed_effect else source)
    for shift, first, last, count in sorted(closed + [run for run in runs.values() if run], key=lambda r: r[1].line):
        after = f"; so are the {count - 1} {first.channel} events after it (to line {last.line})" if count > 1 else ""
        warnings.append(f"line {first.line}: record in {first.timecodes[2]} lies {shift} frames before the end of the "
                        f"previous {first.channel} event; placed after it{after}")
    return sorted(warnings, key=lambda warning: int(warning.split()[1].rstrip(":")))


def _edl_rate_check(name: str, lines: list[str], rate: Fraction) -> list[str]:
    """Check that an EDL's timecodes add up at ``rate`` (an EDL carries no rate of its own).

    The timecodes show their rate in two ways: a frames field beyond the rate's last frame, and
    events whose source and record durations agree at one timecode base but not at another. If
    either says the rate is wrong, raises ``CutImportError`` saying so and naming the likely rate
    (the base at which every frames field fits and the fewest durations disagree). Otherwise
    returns the warnings of ``_edl_timing_warnings`` (events kept despite their timecodes).
    """
    events = _edl_lines(lines)
    used = nominal_rate(rate)
    evidence = {base: _mismatched_lines(events, base) for base in EDL_TIMECODE_BASES}
    fitting = {base: lines_ for base, lines_ in evidence.items() if lines_ is not None}
    mismatched = _mismatched_lines(events, used)
    if not fitting:
        return []  # not timecodes Loupe knows; the parser says what is wrong
    likely = min(fitting, key=lambda base: (len(fitting[base]), base))
    said, flag = EDL_TIMECODE_BASES[likely]
    advice = (f"the cut's timecodes count {said} frames/s. Import it at that rate "
              f"(import_cut --rate {flag}, or the Rate field).")
    if mismatched is None:
        beyond = next((event, tc) for event in events for tc in event.timecodes if int(tc[-2:]) >= used)
        raise CutImportError(f"{name}, line {beyond[0].line}: timecode {beyond[1]} has frames beyond {used - 1}: "
                             f"read at {float(rate):g} frames/s, but {advice}")
    lines_said = f"line{'s' if len(mismatched) > 1 else ''} {', '.join(map(str, mismatched))}"
    if mismatched and likely != used and not fitting[likely]:
        raise CutImportError(f"{name}: source and record durations disagree on {lines_said} at {float(rate):g} "
                             f"frames/s and agree on every line at {said}: {advice}")
    warnings = []
    if likely != used and len(fitting[likely]) < len(mismatched):
        warnings.append(f"source and record durations disagree on {len(mismatched)} events at {float(rate):g} "
                        f"frames/s but on {len(fitting[likely])} at {said}: check the rate ({advice})")
    return warnings + _edl_timing_warnings(events, used)


@dataclass
class ReadCut:
    """An editorial file as read: its timeline and what the reader warns about (each warning
    names the line or the part of the file it is about)."""

    timeline: otio.schema.Timeline
    warnings: list[str] = field(default_factory=list)
    #: The record time of the cut's first frame (an EDL's first video event's record in, a
    #: timeline's global start time); None if the file says none.
    record_start: otio.opentime.RationalTime | None = None


def _read_adapter(path: Path, data: bytes, adapter: str, **arguments):
    """Run an OpenTimelineIO adapter on a file's bytes; adapters that read only files (AAF) get
    a temporary copy."""
    if adapter == "AAF":
        with tempfile.NamedTemporaryFile(suffix=path.suffix) as copy:
            copy.write(data)
            copy.flush()
            return otio.adapters.read_from_file(copy.name, adapter_name=adapter, **arguments)
    return otio.adapters.read_from_string(_decode_text(data), adapter_name=adapter, **arguments)


def _adapter(path: Path) -> str:
    suffix = path.suffix.lower()
    adapter = ADAPTERS.get(suffix)
    if adapter is None:
        raise CutImportError(f"{path.name}: {suffix or 'a file with no extension'} is not a format Loupe imports "
                             f"cuts from (CMX3600 .edl, OpenTimelineIO .otio, Final Cut Pro 7 .xml, "
                             f"Final Cut Pro X .fcpxml, AAF .aaf; Avid bins .ale).")
    return adapter


def read_cut(path: Path, data: bytes, *, rate: Fraction, sequence: str | None = None) -> ReadCut:
    """Read an editorial file's bytes into an OpenTimelineIO timeline. ``rate`` is the frame
    rate an EDL's timecodes are read at (checked against what the timecodes show: see
    ``_edl_rate_check``); ``sequence`` picks one timeline of a file holding several (FCPXML
    projects), else the first is taken with a warning.

    Raises ``CutImportError`` naming the file (and, for an EDL or XML, the line) for an
    unsupported format, a syntax error, an EDL read at a rate its timecodes contradict, a file
    written by a newer OpenTimelineIO, or a file holding no timeline.
    """
    name = path.name
    adapter = _adapter(path)
    if adapter == "ale":
        raise CutImportError(f"{name} is an Avid bin (ALE): clip metadata, not a cut; import it as a bin.")
    if not data.strip():
        raise CutImportError(f"{name} is empty.")
    warnings: list[str] = []
    arguments = {}
    record_start = None
    if adapter == "cmx_3600":
        lines = _decode_text(data).splitlines()
        warnings = _edl_rate_check(name, lines, rate)
        arguments = {"rate": float(rate), "ignore_timecode_mismatch": True}
        video = [event for event in _edl_lines(lines) if event.channel.upper().startswith(("V", "B"))]
        if video:
            record_start = otio.opentime.from_timecode(video[0].timecodes[2].replace(";", ":"), float(rate))
    try:
        timeline = _read_adapter(path, data, adapter, **arguments)
    except Exception as error:  # noqa: BLE001 - adapters raise anything from ValueError to ParseError
        message = str(error).strip() or type(error).__name__
        if adapter == "cmx_3600":
            line = _edl_error_line(lines, float(rate))
            if line is not None:
                raise CutImportError(f"{name}, line {line}: {message}: {lines[line - 1].strip()!r}") from None
        if isinstance(error, ElementTree.ParseError):
            raise CutImportError(f"{name}, line {error.position[0]}: not well-formed XML ({message}).") from None
        if "unsupported schema version" in message:
            raise CutImportError(f"{name}: written by a newer OpenTimelineIO than {otio.__version__} ({message}); "
                                 f"export it with OpenTimelineIO {otio.__version__} or as an EDL.") from None
        raise CutImportError(f"{name}: not a readable {path.suffix[1:].upper()} cut: {message}") from None
    if isinstance(timeline, otio.schema.SerializableCollection):
        timelines = list(timeline.find_children(descended_from_type=otio.schema.Timeline))
        if not timelines:
            raise CutImportError(f"{name} holds no timeline (no sequence or project).")
        chosen = next((t for t in timelines if sequence and t.name == sequence), timelines[0])
        if len(timelines) > 1:
            warnings.append(f"{name} holds {len(timelines)} timelines "
                            f"({', '.join(repr(t.name) for t in timelines)}); imported {chosen.name!r} "
                            f"(the {'sequence asked for' if chosen.name == sequence else 'first'}); "
                            f"name another as the sequence to import it")
        timeline = chosen
    if not isinstance(timeline, otio.schema.Timeline):
        raise CutImportError(f"{name} holds a {type(timeline).__name__}, not a timeline.")
    if record_start is None and timeline.global_start_time is not None:
        record_start = timeline.global_start_time
    return ReadCut(timeline=timeline, warnings=warnings, record_start=record_start)


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
    #: Speed against the record (1.0 plays at speed, 0.0 is a freeze frame, negative plays
    #: backwards); None without a time effect.
    speed: float | None = None
    #: The transition into this event: ``{"kind": "SMPTE_Dissolve", "frames": 35}`` (frames of
    #: the record it spans), else None.
    transition_in: dict | None = None
    #: The ALE / EDL colour decision carried by the event (``{"asc_sop": ..., "asc_sat": ...}``).
    cdl: dict | None = None

    @property
    def notes(self) -> list[str]:
        notes = []
        if self.speed is not None:
            notes.append("freeze frame" if self.speed == 0 else f"speed {self.speed * 100:g}% (time warp)")
        if self.transition_in:
            notes.append(f"{self.transition_in['kind']} of {self.transition_in['frames']} frames into it")
        return notes


def _media_name(reference) -> str:
    if isinstance(reference, otio.schema.ExternalReference) and reference.target_url:
        url = reference.target_url
        raw = unquote(urlparse(url).path) if "://" in url else url
        return PureWindowsPath(raw).name if "\\" in raw else PurePosixPath(raw).name
    if isinstance(reference, otio.schema.ImageSequenceReference):
        return reference.name_prefix.rstrip("._-")
    return ""


def _speed(item: otio.schema.Clip) -> float | None:
    """The clip's speed from its time effects (M2 in an EDL, a retime in XML/AAF), else None."""
    speed = None
    for effect in item.effects:
        if isinstance(effect, otio.schema.FreezeFrame):
            return 0.0
        if isinstance(effect, otio.schema.LinearTimeWarp):
            speed = (speed if speed is not None else 1.0) * effect.time_scalar
    return speed


def _transition_in(item: otio.schema.Clip, track: otio.schema.Track, cut_rate: float) -> dict | None:
    before, _ = track.neighbors_of(item)
    if not isinstance(before, otio.schema.Transition):
        return None
    frames = (before.in_offset + before.out_offset).rescaled_to(cut_rate).value
    return {"kind": str(before.transition_type), "frames": round(frames)}


def _events(timeline: otio.schema.Timeline, cut_rate: float) -> list[_Event]:
    """Every clip of every track as an event, record frames at ``cut_rate``. A time-warped
    clip's source duration is the source frames it plays (its record duration times its speed;
    one frame for a freeze frame)."""
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
                speed = _speed(item)
                duration = round(source.duration.value)
                if speed is not None:
                    duration = max(1, round(source.duration.value * abs(speed)))
                cdl = item.metadata.get("cdl")
                events.append(_Event(
                    number=number, track=label, name=item.name or "", reel=str(cmx.get("reel", "") or ""),
                    media_name=_media_name(item.media_reference),
                    source_start=source.start_time, duration_frames=duration,
                    record_in=record_in, record_out=record_in + round(record.duration.rescaled_to(cut_rate).value),
                    is_generated=isinstance(item.media_reference, otio.schema.GeneratorReference),
                    is_audio=kind == "audio", speed=speed,
                    transition_in=_transition_in(item, track, cut_rate) if item.parent() is track else None,
                    cdl=_plain(cdl) if cdl else None,
                ))
    return events


def _plain(value):
    """OpenTimelineIO metadata (AnyDictionary / AnyVector) as plain JSON-able Python."""
    if hasattr(value, "keys"):
        return {str(key): _plain(value[key]) for key in value.keys()}
    if isinstance(value, (str, bytes)):
        return value
    if hasattr(value, "__iter__"):
        return [_plain(item) for item in value]
    return value


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
    read = read_cut(path, data, rate=edl_rate, sequence=sequence)
    timeline = read.timeline
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
            record_start_frame=round(read.record_start.rescaled_to(float(cut_rate)).value) if read.record_start else 0,
        )
        report = _conform(production=production, cut=cut, events=events)
        report.warnings = read.warnings
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
        notes = event.notes + [
            f"fix request {fr.pk} (frames {fr.frame_in}–{fr.frame_out}) now lies outside the source range"
            for fr in shot.fix_requests.all() if not shot.source_in <= fr.frame_in < fr.frame_out <= shot.source_out]
        changes.append(ShotChange(
            shot_id=shot.pk, code=shot.code, clip=event.clip.name, change=change, source_in=shot.source_in,
            source_out=shot.source_out, record_in=shot.record_in, record_out=shot.record_out,
            previous_source=previous_source if change != "created" and previous_source != (shot.source_in, shot.source_out) else None,
            notes=notes, speed=event.speed, transition_in=event.transition_in, cdl=event.cdl,
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
                                source_timecode=time_timecode(e.source_start), record_in=e.record_in, reason=e.reason,
                                notes=e.notes)
                 for e in events if e.clip is None]
    return CutImportReport(cut=cut, events=len(events), shots=changes, unmatched=unmatched)


# --------------------------------------------------------------------------- bins (ALE)


@dataclass
class BinRow:
    """One row of a bin and the clip it was matched to (``clip`` empty and ``reason`` said if
    none). Frames are the clip's, ``[in, out)``."""

    row: int
    name: str
    tape: str
    source_timecode: str
    clip: str = ""
    source_in: int | None = None
    source_out: int | None = None
    columns: int = 0
    reason: str = ""


@dataclass
class BinImportReport:
    """What ``clip_bin_import`` did: every row of the bin, matched to a clip or not."""

    file_name: str
    rows: list[BinRow]

    @property
    def matched(self) -> list[BinRow]:
        return [row for row in self.rows if row.clip]

    def as_dict(self) -> dict:
        return {"file_name": self.file_name, "kind": "bin",
                "counts": {"rows": len(self.rows), "matched": len(self.matched),
                           "unmatched": len(self.rows) - len(self.matched)},
                "rows": [asdict(row) for row in self.rows]}


def is_bin(path: str | Path) -> bool:
    """Whether an editorial file is a bin (clip metadata: Avid ALE) rather than a cut."""
    return ADAPTERS.get(Path(path).suffix.lower()) == "ale"


def clip_bin_import(*, production: Production, path: str | Path, actor: User,
                    data: bytes | None = None) -> BinImportReport:
    """Add an Avid bin's (ALE) metadata to the production's clips: each row is matched to a clip
    as a cut's event is (media file from ``UNC`` / ``Source File``, clip name, tape; the clip
    whose timecode holds the row's range) and its columns and ASC CDL are stored on the clip's
    ``editorial_metadata["ale"]`` (a bin imported again replaces its own earlier rows).

    Raises ``NotAllowed`` unless ``actor`` is a supervisor, ``CutImportError`` for a file that is
    not a readable ALE. Rows that match no clip are reported with the reason; nothing is stored
    on failure.
    """
    authz.require(actor, production, authz.IMPORT_CUT)
    path = Path(path)
    if not is_bin(path):
        raise CutImportError(f"{path.name} is not an Avid bin (.ale).")
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CutImportError(f"{path.name} cannot be read: {error.strerror or error}.") from None
    try:
        collection = _read_adapter(path, data, "ale")
    except Exception as error:  # noqa: BLE001 - the adapter raises anything from ValueError to KeyError
        raise CutImportError(f"{path.name}: not a readable ALE bin: {str(error).strip() or type(error).__name__}") \
            from None
    index = _ClipIndex(list(production.clips.all()))
    rows, found = [], []
    for number, item in enumerate(collection.find_clips(), start=1):
        columns = _plain(item.metadata.get("ALE", {}))
        media = columns.get("UNC") or columns.get("Source File") or ""
        source = item.source_range
        event = _Event(number=number, track="bin", name=item.name or "", reel=str(columns.get("Tape", "")),
                       media_name=PurePosixPath(str(media).replace("\\", "/")).name, source_start=source.start_time,
                       duration_frames=round(source.duration.value), record_in=0, record_out=0)
        _match(event, index, production)
        row = BinRow(row=number, name=event.name, tape=event.reel, source_timecode=time_timecode(source.start_time),
                     columns=len(columns), reason=event.reason)
        if event.clip is not None:
            row.clip, row.source_in, row.source_out = event.clip.name, event.source_in, event.source_out
            cdl = item.metadata.get("cdl")
            found.append((event.clip, {"file": path.name, "source_in": event.source_in,
                                       "source_out": event.source_out, "columns": columns,
                                       "cdl": _plain(cdl) if cdl else None}))
        rows.append(row)
    report = BinImportReport(file_name=path.name, rows=rows)
    entries: dict[int, list[dict]] = {}
    for clip, entry in found:
        entries.setdefault(clip.pk, []).append(entry)
    with transaction.atomic():
        touched = list(Clip.objects.select_for_update().filter(production=production, pk__in=entries))
        for clip in touched:
            kept = [entry for entry in clip.editorial_metadata.get("ale", []) if entry["file"] != path.name]
            clip.editorial_metadata = {**clip.editorial_metadata, "ale": kept + entries[clip.pk]}
            clip.save(update_fields=["editorial_metadata"])
        audit_record(production=production, actor=actor, action="clip.bin_import", target=production,
                     payload={"file": path.name, "sha256": _file_sha256(data), **report.as_dict()["counts"],
                              "clips": sorted(clip.name for clip in touched)})
    logger.info("imported bin %s into %s: %s", path.name, production.code, report.as_dict()["counts"])
    return report

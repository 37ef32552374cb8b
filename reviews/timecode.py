"""SMPTE timecode for frames of a clip, through OpenTimelineIO's opentime (no home-made
arithmetic). Drop-frame follows the clip's start timecode: ``;`` before the frames field means
drop-frame (SMPTE ST 12-1), ``:`` means non-drop."""
from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import opentimelineio as otio


def _opentime():
    """OpenTimelineIO's opentime, loaded on first use: about 17 MiB that a web process does not
    carry until it formats a timecode (docs/adr/0010-light-web-processes.md)."""
    from opentimelineio import opentime

    return opentime


def frame_timecode(*, start_timecode: str, frame_rate: Fraction, frame: int) -> str:
    """The timecode of ``frame`` (counted from 0 at the start of the clip) as ``HH:MM:SS:FF``
    (``HH:MM:SS;FF`` for drop-frame).

    Raises ``ValueError`` if ``start_timecode`` is not a valid timecode at ``frame_rate``.
    """
    rate = float(frame_rate)
    drop_frame = ";" in start_timecode
    opentime = _opentime()
    start = opentime.from_timecode(start_timecode, rate)
    return opentime.to_timecode(start + opentime.RationalTime(frame, rate), rate, drop_frame)


def nominal_rate(frame_rate: float | Fraction) -> int:
    """The timecode base of a frame rate: 24 for 23.976, 30 for 29.97, 60 for 59.94."""
    return round(float(frame_rate))


def source_frame(*, time: otio.opentime.RationalTime, start_timecode: str, frame_rate: Fraction) -> int:
    """The frame (counted from 0 at the start of a clip) that an editorial source time names.

    ``time`` is a source time as OpenTimelineIO read it from a cut (an EDL source timecode, an
    OTIO/XML clip's source range start); ``start_timecode`` and ``frame_rate`` are the clip's.
    Editorial timecodes are labels of the source's frames, so a cut read at 24 frames/s names
    the same frames of a 23.976 clip (same timecode base); drop-frame counts come from the
    timecodes' own notation. Raises ``ValueError`` when the timecode bases differ (e.g. a cut at
    24 against a clip at 25), or when ``start_timecode`` is invalid at ``frame_rate``.
    """
    if nominal_rate(time.rate) != nominal_rate(frame_rate):
        raise ValueError(f"the cut counts {float(time.rate):g} frames/s but the clip has {float(frame_rate):g}")
    start = _opentime().from_timecode(start_timecode, float(frame_rate))
    return round(time.value) - round(start.value)


def time_timecode(time: otio.opentime.RationalTime) -> str:
    """An editorial time as non-drop ``HH:MM:SS:FF`` at its own rate (as CMX3600 prints it)."""
    try:
        return _opentime().to_timecode(time, time.rate, False)
    except ValueError:
        return f"{time.value:g}@{time.rate:g}"


#: Frame rates people write as decimals that stand for NTSC rates (1000/1001 of the integer).
_NTSC = {"23.976": Fraction(24000, 1001), "23.98": Fraction(24000, 1001), "29.97": Fraction(30000, 1001),
         "47.952": Fraction(48000, 1001), "59.94": Fraction(60000, 1001)}


def frame_rate_parse(text: str) -> Fraction:
    """A frame rate as people write it: ``24``, ``25``, ``23.976`` / ``29.97`` / ``59.94`` (the
    NTSC rates 24000/1001, 30000/1001, 60000/1001), ``30000/1001``.

    Raises ``ValueError`` naming the text if it is not a positive frame rate.
    """
    text = text.strip()
    try:
        rate = _NTSC.get(text) or Fraction(text)
    except (ValueError, ZeroDivisionError):
        rate = None
    if rate is None or rate <= 0:
        raise ValueError(f"{text!r} is not a frame rate (e.g. 24, 25, 23.976, 29.97, 30000/1001)")
    return rate

"""SMPTE timecode for frames of a clip, through OpenTimelineIO's opentime (no home-made
arithmetic). Drop-frame follows the clip's start timecode: ``;`` before the frames field means
drop-frame (SMPTE ST 12-1), ``:`` means non-drop."""
from fractions import Fraction

import opentimelineio as otio


def frame_timecode(*, start_timecode: str, frame_rate: Fraction, frame: int) -> str:
    """The timecode of ``frame`` (counted from 0 at the start of the clip) as ``HH:MM:SS:FF``
    (``HH:MM:SS;FF`` for drop-frame).

    Raises ``ValueError`` if ``start_timecode`` is not a valid timecode at ``frame_rate``.
    """
    rate = float(frame_rate)
    drop_frame = ";" in start_timecode
    start = otio.opentime.from_timecode(start_timecode, rate)
    return otio.opentime.to_timecode(start + otio.opentime.RationalTime(frame, rate), rate, drop_frame)

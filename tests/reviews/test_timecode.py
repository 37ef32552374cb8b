"""Frames become SMPTE timecode through opentime, drop-frame when the clip's timecode says so."""
from fractions import Fraction

from reviews.timecode import frame_timecode

NTSC = Fraction(30000, 1001)


def test_non_drop_frame_counts_frames_plainly():
    assert frame_timecode(start_timecode="01:00:00:00", frame_rate=Fraction(25), frame=26) == "01:00:01:01"
    assert frame_timecode(start_timecode="00:00:00:00", frame_rate=NTSC, frame=1800) == "00:01:00:00"


def test_drop_frame_skips_frame_numbers_at_each_minute():
    # SMPTE ST 12-1: at 29.97 drop-frame, frames ;00 and ;01 are skipped at minutes not divisible by 10.
    assert frame_timecode(start_timecode="00:00:00;00", frame_rate=NTSC, frame=1800) == "00:01:00;02"
    assert frame_timecode(start_timecode="00:00:00;00", frame_rate=NTSC, frame=17982) == "00:10:00;00"

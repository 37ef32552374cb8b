"""``python manage.py import_cut --production CODE FILE``: import (conform) an editorial cut.

FILE is a CMX3600 EDL, an OpenTimelineIO ``.otio`` or a Final Cut Pro 7 XML. Prints the shots
created, matched (with what changed) and removed, and every event that matched no clip with the
reason. Exits with status 1 if the file cannot be imported (nothing is stored then).
"""
from fractions import Fraction

from django.core.management.base import BaseCommand, CommandError

from reviews.errors import ServiceError
from reviews.management.actor import command_production_and_actor
from reviews.services.editorial import cut_import


def _rate(text: str) -> Fraction:
    presets = {"23.976": Fraction(24000, 1001), "29.97": Fraction(30000, 1001), "59.94": Fraction(60000, 1001)}
    try:
        return presets.get(text) or Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise CommandError(f"--rate {text!r} is not a frame rate (e.g. 24, 25, 23.976, 30000/1001).") from None


class Command(BaseCommand):
    help = "Import an EDL / OTIO / FCP7 XML cut into a production's shots."

    def add_arguments(self, parser):
        parser.add_argument("--production", required=True)
        parser.add_argument("--user", help="Act as this user (a supervisor) instead of the loupe-cli account.")
        parser.add_argument("--sequence", help="The sequence this cut revises (default: the cut's title).")
        parser.add_argument("--rate", help="Frame rate of an EDL's timecodes (default: the production's clips', "
                                           "else 24).")
        parser.add_argument("file", metavar="FILE")

    def handle(self, *args, production, user, sequence, rate, file, **options):
        production, actor = command_production_and_actor(code=production, username=user, create=False)
        try:
            report = cut_import(production=production, path=file, actor=actor, sequence=sequence,
                                rate=_rate(rate) if rate else None)
        except ServiceError as error:
            self.stderr.write(f"error {error}")
            raise SystemExit(1) from None
        cut = report.cut
        self.stdout.write(f"cut {cut.pk} {cut.file_name}: sequence {cut.sequence!r}, {report.events} events at "
                          f"{float(cut.frame_rate):g} fps")
        for shot in report.shots:
            where = f"{shot.clip} [{shot.source_in}, {shot.source_out})"
            before = f" (was [{shot.previous_source[0]}, {shot.previous_source[1]}))" if shot.previous_source else ""
            notes = "".join(f"; {note}" for note in shot.notes)
            self.stdout.write(f"{shot.change:<13} {shot.code:<24} {where}{before}{notes}")
        for event in report.unmatched:
            self.stdout.write(f"{'unmatched':<13} event {event.event} {event.name or event.reel!r} "
                              f"({event.track}, source {event.source_timecode}): {event.reason}")
        counts = cut.report["counts"]
        self.stdout.write(", ".join(f"{count} {name}" for name, count in counts.items()))

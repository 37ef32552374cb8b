"""``python manage.py import_cut --production CODE FILE``: import (conform) an editorial cut, or
add an Avid bin's clip metadata.

FILE is a CMX3600 EDL, an OpenTimelineIO ``.otio``, a Final Cut Pro 7 XML, a Final Cut Pro X
``.fcpxml`` or an AAF; or an Avid ALE bin (its rows' metadata goes onto the matching clips).
Prints the shots created, matched (with what changed) and removed, every event that matched no
clip with the reason, and the reader's warnings (each naming its line). Exits with status 1 if
the file cannot be imported, saying what to do (nothing is stored then).
"""
from django.core.management.base import BaseCommand, CommandError

from reviews.errors import ServiceError
from reviews.management.actor import command_production_and_actor
from reviews.services.editorial import clip_bin_import, cut_import, is_bin
from reviews.timecode import frame_rate_parse


class Command(BaseCommand):
    help = "Import an EDL / OTIO / FCP7 XML / FCPXML / AAF cut into a production's shots, or an ALE bin's metadata."

    def add_arguments(self, parser):
        parser.add_argument("--production", required=True)
        parser.add_argument("--user", help="Act as this user (a supervisor) instead of the loupe-cli account.")
        parser.add_argument("--sequence", help="The sequence this cut revises (default: the cut's title); in a "
                                               "file holding several timelines, the one to import.")
        parser.add_argument("--rate", help="Frame rate of an EDL's timecodes (default: the production's clips', "
                                           "else 24), e.g. 24, 25, 23.976, 29.97, 30000/1001.")
        parser.add_argument("file", metavar="FILE")

    def handle(self, *args, production, user, sequence, rate, file, **options):
        production, actor = command_production_and_actor(code=production, username=user, create=False)
        try:
            rate = frame_rate_parse(rate) if rate else None
        except ValueError as error:
            raise CommandError(f"--rate {error}.") from None
        try:
            if is_bin(file):
                self._print_bin(clip_bin_import(production=production, path=file, actor=actor))
                return
            report = cut_import(production=production, path=file, actor=actor, sequence=sequence, rate=rate)
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
        for warning in report.warnings:
            self.stdout.write(f"{'warning':<13} {warning}")
        counts = cut.report["counts"]
        self.stdout.write(", ".join(f"{count} {name}" for name, count in counts.items()))

    def _print_bin(self, report):
        self.stdout.write(f"bin {report.file_name}: {len(report.rows)} rows")
        for row in report.rows:
            if row.clip:
                self.stdout.write(f"{'metadata':<13} {row.clip} [{row.source_in}, {row.source_out}): "
                                  f"{row.columns} columns from row {row.row} ({row.name})")
            else:
                self.stdout.write(f"{'unmatched':<13} row {row.row} {row.name!r} (source {row.source_timecode}): "
                                  f"{row.reason}")
        counts = report.as_dict()["counts"]
        self.stdout.write(", ".join(f"{count} {name}" for name, count in counts.items()))

"""``python manage.py ingest --production CODE PATH...``: ingest dailies from server-side storage.

Each PATH is a video file, a folder of numbered images, or a sequence pattern (``name.%04d.png``,
``name.####.png``); originals stay where they are, read-only. ``--input-colorspace NAME`` sets the
OCIO colour space the clips are read in (default: what each file names, else Rec.709). Prints one line per path — ``ok``
with the probed facts, or ``error`` with the reason — and exits with status 1 if any failed.
Creates the production if it does not exist.
"""
import re

from django.core.management.base import BaseCommand, CommandError

from reviews.errors import ServiceError
from reviews.management.actor import command_production_and_actor
from reviews.services.clips import clip_facts
from reviews.worker.ingest import clip_ingest


class Command(BaseCommand):
    help = "Ingest media files / image sequences into a production (created if missing)."

    def add_arguments(self, parser):
        parser.add_argument("--production", required=True, help="Production code, e.g. NGT01.")
        parser.add_argument("--user", help="Act as this user (a supervisor of the production) "
                                           "instead of the loupe-cli service account.")
        parser.add_argument("--input-colorspace", metavar="NAME",
                            help="OCIO colour space of the clips (ACES studio config name or alias, or Rec.709); "
                                 "default: what each file names, else Rec.709.")
        parser.add_argument("paths", nargs="+", metavar="PATH")

    def handle(self, *args, production, user, paths, input_colorspace=None, **options):
        if not re.fullmatch(r"[-a-zA-Z0-9_]+", production):
            raise CommandError(f"{production!r} is not a valid production code (letters, digits, - and _).")
        production, actor = command_production_and_actor(code=production, username=user, create=True)
        failed = 0
        for path in paths:
            try:
                clip = clip_ingest(production=production, path=path, actor=actor, input_colorspace=input_colorspace)
            except ServiceError as error:
                failed += 1
                self.stdout.write(f"error {path}: {error}")
                continue
            self.stdout.write(f"ok {path}: clip {clip.pk} {clip.name} — {clip_facts(clip)}")
        if failed:
            raise SystemExit(1)

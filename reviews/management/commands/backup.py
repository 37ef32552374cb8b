"""``python manage.py backup --out DIR``: the database (pg_dump, or SQLite's backup API) and every
media file with a checksum manifest, written to the new folder DIR (``portal.backup``)."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from portal.backup import BackupError, backup_write


class Command(BaseCommand):
    help = "Back up the database and MEDIA_ROOT, with a checksum manifest, to a new folder."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, type=Path, help="A folder that does not exist yet (or is empty).")

    def handle(self, *args, out, **options):
        try:
            manifest = backup_write(out=out, database=connection.settings_dict, media_root=Path(settings.MEDIA_ROOT))
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"backed up the {manifest['database']['engine']} database "
                          f"({manifest['database']['bytes']} bytes) and {len(manifest['media']['files'])} media files "
                          f"({manifest['media']['bytes']} bytes) to {out}")

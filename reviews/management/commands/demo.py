"""``python manage.py demo``: a demo production from the real footage, and the portal running.

Creates one user per role (printing names and passwords), imports the clips of
``LOUPE_FOOTAGE/clips`` as the production DEMO with one shot per clip, files shot-match fix
requests between real clips and queues their jobs, then starts the ASGI server on
127.0.0.1:8000 and a Celery worker that renders the proposals. Ctrl-C stops both.
Run again, it reuses what exists.

The server it starts relaxes the second factor that directors, post supervisors and producers
need by default (``LOUPE_MFA_REQUIRED_ROLES`` empty, unless set in the environment), so that a
newcomer signs in with the printed passwords.
"""
import os
import signal
import subprocess
import time

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.processes import asgi_server_command, celery_worker_command
from reviews.models import Production, Role
from reviews.services.clips import clip_ingest
from reviews.services.fix_requests import fix_request_create
from reviews.services.jobs import job_submit
from reviews.services.productions import membership_add, production_create
from reviews.services.shots import shot_create

PRODUCTION_CODE = "DEMO"
CLIP_EXTENSIONS = {".mp4", ".mov", ".mxf", ".avi", ".mkv"}
# (fix kind, shot, reference shot, frames [in, out), description): fixes between real clips.
FIX_REQUESTS = [
    ("color_match", "SAM2_02_CUPS", "SAM2_04_COFFEE", 0, 72, "Bring the cups to the warm look of the coffee shot."),
    ("color_match", "SAM2_03_BLOCKS", "SAM2_01_DOG", 0, 72, "Match the blocks to the daylight of the courtyard."),
    ("color_match", "SAM2_BEDROOM", "SAM2_05_DEFAULT_JUGGLE", 0, 60, "Match the bedroom to the juggling shot's greens."),
    ("relight", "HARMONIZER_AERIAL_DUSK_LOWLIGHT", "SAM2_05_DEFAULT_JUGGLE", 0, 30,
     "The aerial is underexposed: bring its exposure and white balance to the daylight of the park."),
]


class Command(BaseCommand):
    help = "Import a demo production from the real footage and run the portal and a worker."

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="Set up the data only; start nothing.")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, no_serve, port, **options):
        clips_dir = settings.LOUPE_FOOTAGE / "clips"
        if not clips_dir.is_dir():
            raise CommandError(
                f"No footage at {clips_dir}. Set LOUPE_FOOTAGE to the folder holding clips/ "
                "(the default is ../shared/footage next to this checkout)."
            )
        users = self.create_users()
        if not Production.objects.filter(code=PRODUCTION_CODE).exists():
            self.import_production(clips_dir, users)
        else:
            self.stdout.write(f"Production {PRODUCTION_CODE} exists; reusing it.")
        if not no_serve:
            self.serve(port)

    def create_users(self) -> dict[str, User]:
        self.stdout.write(self.style.MIGRATE_HEADING("Demo users (name / password):"))
        users = {}
        for role in Role:
            username = role.value
            password = f"loupe-{role.value}"
            user, _ = User.objects.get_or_create(username=username, defaults={"first_name": f"Demo {role.label}"})
            user.set_password(password)
            user.save()
            users[role.value] = user
            self.stdout.write(f"  {role.label:<16} {username} / {password}")
        return users

    def import_production(self, clips_dir, users):
        supervisor = users[Role.SUPERVISOR]
        with transaction.atomic():
            production = production_create(code=PRODUCTION_CODE, name="Loupe demo (public footage)", actor=None)
            for role, user in users.items():
                membership_add(production=production, user=user, role=role, actor=None)
        shots = {}
        for path in sorted(clips_dir.iterdir()):
            if path.suffix.lower() not in CLIP_EXTENSIONS:
                continue
            clip = clip_ingest(production=production, path=path, actor=supervisor)
            code = path.stem.upper()
            shots[code] = shot_create(production=production, clip=clip, code=code, source_in=0,
                                      source_out=clip.frame_count, actor=supervisor)
            self.stdout.write(f"  ingested {clip.name}: {clip.codec} {clip.width}x{clip.height} "
                              f"{clip.frame_count} frames at {clip.frame_rate_num}/{clip.frame_rate_den} fps")
        for kind, shot_code, reference_code, frame_in, frame_out, description in FIX_REQUESTS:
            if shot_code not in shots or reference_code not in shots:
                self.stdout.write(self.style.WARNING(f"  skipped {shot_code} → {reference_code}: clip missing"))
                continue
            fix_request = fix_request_create(
                production=production, actor=supervisor, shot=shots[shot_code], kind=kind,
                frame_in=frame_in, frame_out=frame_out, reference_shot=shots[reference_code],
                assignee=users[Role.ARTIST], description=description,
            )
            job_submit(fix_request=fix_request, actor=users[Role.ARTIST])
            self.stdout.write(f"  queued {fix_request.get_kind_display().lower()} {shot_code} → {reference_code}, "
                              f"frames {frame_in}–{frame_out - 1}")

    def serve(self, port: int):
        commands = [celery_worker_command(queues="gpu,default", concurrency=1), asgi_server_command(port=port)]
        environment = dict(os.environ)
        environment.setdefault("LOUPE_MFA_REQUIRED_ROLES", "")
        processes = [subprocess.Popen(command, env=environment) for command in commands]
        self.stdout.write(self.style.SUCCESS(
            f"\nLoupe is at http://127.0.0.1:{port}/ — sign in as director / loupe-director. Ctrl-C stops it."
        ))
        if not environment["LOUPE_MFA_REQUIRED_ROLES"]:
            self.stdout.write("The demo signs everyone in with a password alone; a deployment asks directors, "
                              "post supervisors and producers for an authenticator app's code too "
                              "(LOUPE_MFA_REQUIRED_ROLES, docs/operations.md).")
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
            raise CommandError("A process stopped; shutting the others down.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()

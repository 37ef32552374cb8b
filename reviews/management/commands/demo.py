"""``python manage.py demo``: a demo production from the real footage, and the portal running.

Creates one user per role (printing names and passwords), imports the clips of
``LOUPE_FOOTAGE/clips`` as the production DEMO and conforms them to a cut of its own — an
OpenTimelineIO timeline of every clip whole, one after the other from record 01:00:00:00, one
per timecode base, imported through the editorial service like an editor's (``demo_cuts``), so
each clip is a shot on record frames and a delivery writes lists that place it — files
shot-match fix requests between real clips and queues their jobs, then starts the ASGI server
on 127.0.0.1:8000 and a Celery worker that renders the proposals. Ctrl-C stops both.
Run again, it reuses what exists. The set-up is ``production_import`` (tests call it on a few clips).

The server it starts relaxes the second factor that directors, post supervisors and producers
need by default (``LOUPE_MFA_REQUIRED_ROLES`` empty, unless set in the environment), so that a
newcomer signs in with the printed passwords.
"""
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import opentimelineio as otio

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.processes import asgi_server_command, celery_worker_command
from reviews.models import Clip, Production, Role
from reviews.worker.ingest import clip_ingest
from reviews.services.editorial import cut_import
from reviews.services.fix_requests import fix_request_create
from reviews.services.jobs import job_submit
from reviews.services.productions import membership_add, production_create
from reviews.timecode import nominal_rate

PRODUCTION_CODE = "DEMO"
#: Where the demo's cuts start on the record.
RECORD_START = "01:00:00:00"
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
        paths = [path for path in sorted(clips_dir.iterdir()) if path.suffix.lower() in CLIP_EXTENSIONS]
        production_import(paths, users, say=self.stdout.write)

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


def shot_code(clip: Clip) -> str:
    """A demo shot's code: its clip's file name without extension, in capitals (``SAM2_02_CUPS``)."""
    return Path(clip.name).stem.upper()


def demo_cuts(clips: list[Clip]) -> list[otio.schema.Timeline]:
    """The demo's cuts, as an editor would hand them over: the clips in the order given, each
    whole, one after the other from record ``RECORD_START``. A cut counts one timecode base, so
    there is one timeline per base among the clips (24, 25, 30 — 29.97 and 30 frames/s clips
    share a base and so a cut, as their timecodes do), at the rate most of its clips have,
    named ``DEMO <rate> fps``. Every clip is one event named by its shot's code
    (:func:`shot_code`), its media the clip's file; its source range starts at the clip's start
    timecode, counted at the cut's rate (the same frame labels). Record frames are source frames
    one for one."""
    by_base: dict[int, list[Clip]] = {}
    for clip in clips:
        by_base.setdefault(nominal_rate(clip.frame_rate), []).append(clip)
    timelines = []
    for base, members in sorted(by_base.items(), reverse=True):
        rate = float(Counter(clip.frame_rate for clip in members).most_common(1)[0][0])
        timeline = otio.schema.Timeline(name=f"{PRODUCTION_CODE} {round(rate, 3):g} fps",
                                         global_start_time=otio.opentime.from_timecode(RECORD_START, rate))
        track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
        timeline.tracks.append(track)
        for clip in members:
            start = otio.opentime.RationalTime(
                otio.opentime.from_timecode(clip.start_timecode, float(clip.frame_rate)).value, rate)
            whole = otio.opentime.TimeRange(start, otio.opentime.RationalTime(clip.frame_count, rate))
            track.append(otio.schema.Clip(
                name=shot_code(clip), source_range=whole,
                media_reference=otio.schema.ExternalReference(target_url=clip.source_path, available_range=whole)))
        timelines.append(timeline)
    return timelines


def production_import(paths: list[Path], users: dict[str, User], *,
                      say: Callable[[str], None] = lambda text: None) -> Production:
    """Set up the demo production: ``DEMO`` with ``users`` (role value → User) as its members,
    the clips at ``paths`` ingested, conformed to :func:`demo_cuts` through ``cut_import`` (each
    clip a shot, named by :func:`shot_code`), and the ``FIX_REQUESTS`` whose shots are among them
    filed and their jobs queued (``job_submit``). ``say`` prints progress. Returns the production.

    Raises ``ServiceError`` (``IngestError``, ``CutImportError``) from the services it calls."""
    supervisor = users[Role.SUPERVISOR]
    with transaction.atomic():
        production = production_create(code=PRODUCTION_CODE, name="Loupe demo (public footage)", actor=None)
        for role, user in users.items():
            if role in Role.values:
                membership_add(production=production, user=user, role=role, actor=None)
    clips = []
    for path in paths:
        clip = clip_ingest(production=production, path=path, actor=supervisor)
        clips.append(clip)
        say(f"  ingested {clip.name}: {clip.codec} {clip.width}x{clip.height} "
            f"{clip.frame_count} frames at {clip.frame_rate_num}/{clip.frame_rate_den} fps")
    shots = {}
    for timeline in demo_cuts(clips):
        report = cut_import(production=production, path=Path(f"{timeline.name}.otio"), actor=supervisor,
                            data=otio.adapters.write_to_string(timeline, adapter_name="otio_json").encode())
        shots.update((change.code, production.shots.get(pk=change.shot_id)) for change in report.shots)
        say(f"  cut {timeline.name}: {len(report.shots)} shots from record {RECORD_START}"
            + "".join(f"; not placed: {event.name} ({event.reason})" for event in report.unmatched))
    for kind, shot_code_, reference_code, frame_in, frame_out, description in FIX_REQUESTS:
        if shot_code_ not in shots or reference_code not in shots:
            say(f"  skipped {shot_code_} → {reference_code}: clip missing")
            continue
        fix_request = fix_request_create(
            production=production, actor=supervisor, shot=shots[shot_code_], kind=kind,
            frame_in=frame_in, frame_out=frame_out, reference_shot=shots[reference_code],
            assignee=users[Role.ARTIST], description=description,
        )
        job_submit(fix_request=fix_request, actor=users[Role.ARTIST])
        say(f"  queued {fix_request.get_kind_display().lower()} {shot_code_} → {reference_code}, "
            f"frames {frame_in}–{frame_out - 1}")
    return production

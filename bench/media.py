"""Benchmark: what the permission check and the audit event cost on a media read (prints; not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loupe .venv/bin/python bench/media.py [--requests 300]

In one run, in-process through Django's full request stack (session, middleware, view), on a
review JPEG made from a real 1080p frame (``footage/clips``):
- reads per second of the audited, permission-checked view (``/media/proposals/…``), served by
  Django and with ``LOUPE_MEDIA_SERVE=x-accel-redirect`` (nginx would stream the bytes);
- the audit event alone (``media_view_record``: one chained row, its own transaction) and its
  share of a read;
- a refused read (an outsider: the scoping query, an ``access.denied`` event, the 404 page).
Works in a throwaway database (``test_<name>``) and a temporary media folder, removes both.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loupe")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Its people sign in by session without an authenticator app, as in the demo (the second factor
# directors, supervisors and producers need by default is not what is measured).
os.environ.setdefault("LOUPE_MFA_REQUIRED_ROLES", "")
MEDIA = tempfile.mkdtemp(prefix="loupe-bench-media-")
os.environ["LOUPE_MEDIA_ROOT"] = MEDIA

import cv2  # noqa: E402
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from reviews.media import encode_review_jpeg, review_frame_path, write_bytes_atomically  # noqa: E402
from reviews.models import Clip, FixRequest, Job, JobState, Proposal, Role, Shot  # noqa: E402
from reviews.services.access import media_view_record  # noqa: E402
from reviews.services.productions import membership_add, production_create  # noqa: E402


def rate(fn, count: int) -> float:
    """Calls of ``fn`` per second over ``count`` calls (after one warm-up call)."""
    fn()
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - started)


def setup() -> tuple[Proposal, User, User]:
    with transaction.atomic():
        production = production_create(code="BENCH", name="Media benchmark", actor=None)
        member = User.objects.create_user("bench-director")
        outsider = User.objects.create_user("bench-outsider")
        membership_add(production=production, user=member, role=Role.DIRECTOR, actor=None)
        clip = Clip.objects.create(production=production, name="dance.mp4", source_path="/nowhere", size_bytes=1,
                                   checksum_sha256="b" * 64, codec="h264", width=1920, height=1080,
                                   frame_rate_num=25, frame_rate_den=1, frame_count=1)
        shot = Shot.objects.create(production=production, clip=clip, code="S1", source_in=0, source_out=1)
        fix = FixRequest.objects.create(production=production, shot=shot, kind="color_match", frame_in=0, frame_out=1)
        job = Job.objects.create(production=production, fix_request=fix, state=JobState.SUCCEEDED)
        proposal = Proposal.objects.create(production=production, fix_request=fix, job=job, version=1, frame_in=0,
                                           frame_out=1, media_dir=f"proposals/job-{job.pk}", region_fraction=1,
                                           method="bench")
    source = next((settings.LOUPE_FOOTAGE / "clips").glob("*.mp4"))
    capture = cv2.VideoCapture(str(source))
    ok, bgr = capture.read()
    capture.release()
    assert ok, source
    frame = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    write_bytes_atomically(review_frame_path(proposal.media_dir, "after", 0), encode_review_jpeg(frame, 1920))
    return proposal, member, outsider


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        proposal, member, outsider = setup()
        url = f"/media/proposals/{proposal.pk}/review/after/0.jpg"
        size = review_frame_path(proposal.media_dir, "after", 0).stat().st_size
        client, stranger = Client(), Client()
        client.force_login(member)
        stranger.force_login(outsider)

        def read():
            response = client.get(url)
            assert response.status_code == 200
            if response.streaming:
                b"".join(response.streaming_content)

        def refused():
            assert stranger.get(url).status_code == 404

        def audit_only():
            media_view_record(production=proposal.production, actor=member, target=proposal, media="bench")

        served = rate(read, args.requests)
        settings.LOUPE_MEDIA_SERVE = "x-accel-redirect"
        accel = rate(read, args.requests)
        settings.LOUPE_MEDIA_SERVE = "django"
        audits = rate(audit_only, args.requests)
        denied = rate(refused, args.requests)
        print(f"review JPEG {size / 1024:.0f} KiB, {args.requests} requests each, one process")
        print(f"audited read, Django streams:      {served:8.1f} reads/s  ({1000 / served:.2f} ms)")
        print(f"audited read, X-Accel-Redirect:    {accel:8.1f} reads/s  ({1000 / accel:.2f} ms)  "
              f"{accel / served:.2f}x Django streaming")
        print(f"audit event alone:                 {audits:8.1f} events/s ({1000 / audits:.2f} ms)  "
              f"{served / audits * 100:.0f}% of an audited read")
        print(f"refused read (outsider, audited):  {denied:8.1f} reads/s  ({1000 / denied:.2f} ms)")
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)
        shutil.rmtree(MEDIA, ignore_errors=True)


if __name__ == "__main__":
    main()

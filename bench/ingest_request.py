"""How long an ingest holds a web process, before and after ingest became a worker job (prints;
not a test).

    .venv/bin/python bench/ingest_request.py [--frames 2400]

For each original — the 720p cups clip, the 70-frame tennis PNG sequence, and the 1080p aerial
clip looped to ``--frames`` frames by remuxing its packets (a long camera original; bench/footage.py)
— in one run:

- *before*: the synchronous ingest a web request used to run (``reviews.worker.ingest.clip_ingest``:
  probe, decode the middle and last frames, colour space, SHA-256 of every byte, thumbnail, the
  clip), timed in this process;
- *after*: the web request as it is now, ``POST /api/productions/<code>/clips/`` through Django's
  test client (authentication, the cheap checks, the ``ClipIngest`` row, the message to the
  broker), answered 202;
- *worker*: the worker's execution of that ingest (``clip_ingest_execute``), in this process.

Prints each case's times, the ratio before/after (how much less a web process is held) and the
worker's time against *before* (the same work, now with progress writes). Needs PostgreSQL and
Redis (``DATABASE_URL``, ``REDIS_URL``); works in a throwaway database (``test_<name>``: do not
run it beside the test suite on the same database) and a temporary media folder, and removes
both; the broker's ``default`` queue is purged of the messages it sent. Times on a shared machine
vary; the ratio is what to read.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loupe")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/2")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
MEDIA = tempfile.mkdtemp(prefix="loupe-bench-media-")
ORIGINALS = tempfile.mkdtemp(prefix="loupe-bench-originals-")
FOOTAGE = Path(os.environ.get("LOUPE_FOOTAGE") or REPO.parent / "shared" / "footage")
os.environ["LOUPE_MEDIA_ROOT"] = MEDIA
os.environ["LOUPE_INGEST_ROOTS"] = f"{FOOTAGE},{ORIGINALS}"
os.environ["LOUPE_REVIEW_PROXIES"] = "false"

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from footage import loop_packets  # noqa: E402  (bench/footage.py)
from portal.celery import app  # noqa: E402
from reviews.models import Clip, Role  # noqa: E402
from reviews.services.productions import membership_add, production_create  # noqa: E402
from reviews.worker.ingest import clip_ingest, clip_ingest_execute  # noqa: E402

REPEATS = 3


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2400, help="length of the looped 1080p original")
    args = parser.parse_args()
    long_1080p = Path(ORIGINALS) / "aerial_1080p_long.mp4"
    loop_packets(FOOTAGE / "clips" / "harmonizer_aerial_dusk_lowlight.mp4", long_1080p, args.frames)
    cases = [("720p cups (mp4)", FOOTAGE / "clips" / "sam2_02_cups.mp4"),
             ("tennis (70 PNG)", FOOTAGE / "vos" / "tennis" / "frames"),
             (f"1080p aerial x{args.frames} frames (mp4)", long_1080p)]
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with transaction.atomic():
            production = production_create(code="BENCH", name="Ingest request bench", actor=None)
            supervisor = User.objects.create_user("bench-supervisor")
            membership_add(production=production, user=supervisor, role=Role.SUPERVISOR, actor=None)
        client = Client()
        client.force_login(supervisor)
        rows = []
        for label, path in cases:
            size = sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() else path.stat().st_size
            before, after, worker = [], [], []
            for _ in range(REPEATS):
                started = time.perf_counter()
                clip = clip_ingest(production=production, path=path, actor=supervisor)
                before.append(time.perf_counter() - started)
                Clip.objects.filter(pk=clip.pk).delete()
                started = time.perf_counter()
                response = client.post("/api/productions/BENCH/clips/", {"path": str(path)},
                                       content_type="application/json")
                after.append(time.perf_counter() - started)
                assert response.status_code == 202, response.content
                started = time.perf_counter()
                ingest = clip_ingest_execute(response.json()["id"])
                worker.append(time.perf_counter() - started)
                assert ingest.state == "ready", ingest.error
                Clip.objects.filter(pk=ingest.clip_id).delete()
            row = (label, size, statistics.median(before), statistics.median(after), statistics.median(worker))
            rows.append(row)
            print(f"{label:<34} {size / 2**20:8.1f} MiB: web request before {row[2] * 1000:8.1f} ms, "
                  f"after {row[3] * 1000:6.1f} ms ({row[2] / row[3]:6.1f}x less); worker {row[4] * 1000:8.1f} ms "
                  f"({row[4] / row[2]:.2f}x the synchronous ingest); median of {REPEATS}")
        worst = min(rows, key=lambda row: row[2] / row[3])
        print(f"summary: the web request is {min(r[2] / r[3] for r in rows):.1f}x–{max(r[2] / r[3] for r in rows):.1f}x "
              f"shorter; worst case {worst[0]} ({worst[3] * 1000:.1f} ms against {worst[2] * 1000:.1f} ms); the "
              f"worker's time is {min(r[4] / r[2] for r in rows):.2f}x–{max(r[4] / r[2] for r in rows):.2f}x the "
              f"synchronous ingest's")
    finally:
        purged = app.control.purge()
        print(f"(purged {purged} queued message(s) from the broker)")
        connection.creation.destroy_test_db(test_db, verbosity=0)
        shutil.rmtree(MEDIA, ignore_errors=True)
        shutil.rmtree(ORIGINALS, ignore_errors=True)


if __name__ == "__main__":
    main()

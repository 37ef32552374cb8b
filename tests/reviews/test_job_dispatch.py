"""Jobs through real Celery worker processes on Redis: a worker killed mid-job, cancel, a double
submit and an engine failure — each ends with exactly what a person expects, nothing duplicated
and nothing half-stored."""
import os
import signal
import time
from pathlib import Path

import pytest
from django.conf import settings

from reviews.models import FixRequest, Job, JobState, Proposal
from reviews.services.fix_requests import fix_request_create
from reviews.services.jobs import job_submit

from ..conftest import _stop, start_worker
from .helpers import signed_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.CHANNEL_LAYER_IS_SHARED, reason="needs Redis (REDIS_URL) as the broker"),
]


def wait_for_job(job: Job, predicate, *, timeout_s: float, what: str) -> Job:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if predicate(job):
            return job
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}; job is {job.state} "
                f"({job.frames_done}/{job.frames_total}) on {job.worker!r}: {job.error}")


def long_fix_request(production, people, shots, frames: int) -> FixRequest:
    return fix_request_create(production=production, actor=people["supervisor"], shot=shots["CUPS"],
                              kind="color_match", frame_in=0, frame_out=frames, reference_shot=shots["COFFEE"])


def leftovers(media_root: Path, job: Job) -> list[Path]:
    return list(Path(media_root).glob(f"proposals/.staging-job-{job.pk}*"))


@pytest.mark.timeout(900)  # a hang guard: on a loaded 2-core machine the 60 frames take minutes
def test_a_worker_killed_mid_job_is_replaced_and_one_version_results(process_env, production, people, shots,
                                                                     media_root):
    workers = {name: start_worker(process_env, name) for name in ("first", "second")}
    try:
        fix_request = long_fix_request(production, people, shots, frames=60)
        job, _ = job_submit(fix_request=fix_request, actor=people["artist"])
        wait_for_job(job, lambda j: j.state == JobState.RUNNING and j.frames_done >= 5, timeout_s=240,
                     what="the job to be running")
        victim_name = job.worker.split("@")[0]
        os.kill(workers[victim_name].pid, signal.SIGKILL)
        workers[victim_name].wait()

        wait_for_job(job, lambda j: j.is_finished, timeout_s=300, what="another worker to finish the job")
        assert job.state == JobState.SUCCEEDED, job.error
        survivor = "second" if victim_name == "first" else "first"
        assert job.worker.startswith(f"{survivor}@") and job.attempts == 2
        proposals = Proposal.objects.filter(fix_request=fix_request)
        assert [p.version_label for p in proposals] == ["v001"]
        frames = list((Path(media_root) / proposals[0].media_dir / "frames").glob("*.png"))
        assert len(frames) == 60
        assert leftovers(media_root, job) == []
    finally:
        for process in workers.values():
            if process.poll() is None:
                _stop(process)


def test_cancel_stops_a_running_job_promptly_and_removes_its_output(celery_worker_process, production, people,
                                                                   shots, media_root):
    fix_request = long_fix_request(production, people, shots, frames=300)
    job, _ = job_submit(fix_request=fix_request, actor=people["artist"])
    wait_for_job(job, lambda j: j.state == JobState.RUNNING and j.frames_done >= 3, timeout_s=240,
                 what="the job to be running")
    response = signed_in(people["artist"]).post(f"/api/productions/{production.code}/jobs/{job.pk}/cancel/")
    assert response.status_code == 200, response.content
    wait_for_job(job, lambda j: j.is_finished, timeout_s=240, what="the cancel to take effect")  # a hang guard
    assert job.state == JobState.CANCELLED
    # Between frames, not at the end (no wall-clock bound: a loaded machine may take seconds a frame).
    assert job.frames_done < job.frames_total
    assert not Proposal.objects.filter(job=job).exists()
    assert leftovers(media_root, job) == [] and not (Path(media_root) / f"proposals/job-{job.pk}").exists()
    again = signed_in(people["artist"]).post(f"/api/productions/{production.code}/jobs/{job.pk}/cancel/")
    assert again.status_code == 409 and "nothing to cancel" in again.json()["detail"]


def test_the_same_submission_twice_is_one_job_and_one_version(celery_worker_process, fix_request, people):
    url = f"/api/productions/{fix_request.production.code}/fix-requests/{fix_request.pk}/jobs/"
    client = signed_in(people["artist"])
    first = client.post(url, HTTP_IDEMPOTENCY_KEY="click-7f3a")
    second = client.post(url, HTTP_IDEMPOTENCY_KEY="click-7f3a")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    job = Job.objects.get(fix_request=fix_request)
    wait_for_job(job, lambda j: j.is_finished, timeout_s=240, what="the job to finish")
    assert job.state == JobState.SUCCEEDED
    assert Proposal.objects.filter(fix_request=fix_request).count() == 1


def test_an_engine_error_fails_the_job_with_a_message_a_person_can_act_on(celery_worker_process, fix_request,
                                                                          people, media_root):
    clip = fix_request.shot.clip
    clip.source_path = str(Path(clip.source_path).with_name("moved_away.mp4"))
    clip.save()
    job, _ = job_submit(fix_request=fix_request, actor=people["artist"])
    wait_for_job(job, lambda j: j.is_finished, timeout_s=60, what="the job to fail")
    assert job.state == JobState.FAILED
    body = signed_in(people["artist"]).get(f"/api/productions/{fix_request.production.code}/jobs/{job.pk}/").json()
    assert "moved_away.mp4" in body["error"] and body["state"] == "failed"
    assert not Proposal.objects.exists() and leftovers(media_root, job) == []

    retry = signed_in(people["artist"]).post(f"/api/productions/{fix_request.production.code}/jobs/{job.pk}/retry/")
    assert retry.status_code == 201 and retry.json()["id"] != job.pk


def test_an_attempt_that_lost_its_lease_stores_nothing_and_leaves_the_job_to_its_owner(production, people, shots,
                                                                                      media_root):
    """A worker that stalls past the lease (a frozen host, a lost network) while its job runs is
    taken over by another; when it wakes it must neither end the job nor store a version."""
    import threading
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from reviews.worker.jobs import _job_start, job_execute

    fix_request = long_fix_request(production, people, shots, frames=60)
    job, _ = job_submit(fix_request=fix_request, actor=people["artist"])
    outcome = {}

    def first_worker():
        try:
            outcome["first"] = job_execute(job_id=job.pk, worker="first@host")
        finally:
            connection.close()

    first = threading.Thread(target=first_worker)
    first.start()
    wait_for_job(job, lambda j: j.state == JobState.RUNNING and j.frames_done >= 3, timeout_s=240,
                 what="the first attempt to be rendering")
    # The takeover another worker makes once the first's heartbeat is older than the lease — here
    # made so at once, in one transaction, so that the first's renewal cannot come in between.
    with transaction.atomic():
        Job.objects.select_for_update().filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        second = _job_start(job.pk, "second@host")
    assert (second.worker, second.attempts) == ("second@host", 2)
    first.join(timeout=600)  # a hang guard
    assert not first.is_alive() and outcome["first"] is None
    job.refresh_from_db()
    assert (job.state, job.worker) == (JobState.RUNNING, "second@host")  # not ended by the first
    assert not Proposal.objects.filter(job=job).exists() and leftovers(media_root, job) == []
    # The owner's lease lapses too (it was never run here); the next delivery finishes the job once.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    proposal = job_execute(job_id=job.pk, worker="third@host")
    job.refresh_from_db()
    assert (job.state, job.worker, job.attempts) == (JobState.SUCCEEDED, "third@host", 3)
    assert list(Proposal.objects.filter(job=job)) == [proposal] and leftovers(media_root, job) == []

"""Engine jobs, the web side: submitted, cancelled and retried by people, and described to
browsers. A job is queued on the ``gpu`` queue once its transaction commits and executed by a
Celery worker (``reviews.worker.jobs``, which this module never imports: web processes stay free
of the engine's torch and OpenCV, docs/adr/0010-light-web-processes.md).
"""
import logging

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from reviews import authz, events, tasks
from reviews.errors import Conflict
from reviews.models import FixRequest, FixRequestStatus, Job, JobStage, JobState

from .audit import audit_record

logger = logging.getLogger(__name__)


def job_eta_seconds(job: Job) -> float | None:
    """Seconds left at the rate frames have been rendered so far; None before the first frame."""
    if job.state != JobState.RUNNING or not job.started_at or not job.frames_done:
        return None
    elapsed = (timezone.now() - job.started_at).total_seconds()
    return elapsed / job.frames_done * (job.frames_total - job.frames_done)


def job_payload(job: Job) -> dict:
    """What browsers are told about a job (production events, the jobs page, the API)."""
    eta = job_eta_seconds(job)
    return {
        "id": job.pk,
        "fix_request": job.fix_request_id,
        "stage": job.stage,
        "state": job.state,
        "state_label": job.get_state_display(),
        "frames_done": job.frames_done,
        "frames_total": job.frames_total,
        "eta_seconds": round(eta, 1) if eta is not None else None,
        "worker": job.worker,
        "attempts": job.attempts,
        "error": job.error,
    }


def job_broadcast(job: Job) -> None:
    events.broadcast(events.production_group(job.production_id), "job", job_payload(job))


def _enqueue(job: Job) -> None:
    transaction.on_commit(lambda: tasks.job_run.delay(job.pk))


def job_submit(*, fix_request: FixRequest, actor: User, idempotency_key: str | None = None,
               stage: str = JobStage.FIX) -> tuple[Job, bool]:
    """Queue an engine job for ``fix_request``; it is sent to the ``gpu`` queue once the
    transaction commits. Returns ``(job, created)``: submitting the same ``idempotency_key``
    again (a double click, a client retry) returns the first job and queues nothing.

    ``stage`` mask makes the fix request's mask sequence (``reviews.worker.masks``; the fix
    request's status is left as it is); fix runs the fix.

    Raises ``NotAllowed`` unless ``actor`` is a supervisor or artist of the production;
    ``Conflict`` for a fix while the fix request's mask sequence is still being made (its
    fix would use it).
    """
    production = fix_request.production
    authz.require(actor, production, authz.RUN_JOB)
    if idempotency_key:
        existing = Job.objects.filter(production=production, idempotency_key=idempotency_key).first()
        if existing:
            return existing, False
    if stage == JobStage.FIX and fix_request.jobs.filter(
            stage=JobStage.MASK, state__in=(JobState.QUEUED, JobState.RUNNING)).exists():
        raise Conflict(f"Fix request {fix_request.pk}'s mask is still being propagated through its frames; "
                       f"run the fix once its mask job has finished.")
    try:
        with transaction.atomic():
            job = Job.objects.create(production=production, fix_request=fix_request, created_by=actor, stage=stage,
                                     frames_total=fix_request.duration_frames, idempotency_key=idempotency_key)
            if stage == JobStage.FIX:
                FixRequest.objects.filter(pk=fix_request.pk).update(status=FixRequestStatus.IN_PROGRESS)
            audit_record(production=production, actor=actor, action="job.submit", target=job,
                         payload={"fix_request": fix_request.pk, "stage": stage})
            job_broadcast(job)
            _enqueue(job)
    except IntegrityError:
        # The same key won a race with this request: that job is the one.
        return Job.objects.get(production=production, idempotency_key=idempotency_key), False
    return job, True


def job_cancel(*, job: Job, actor: User) -> Job:
    """Cancel a job. A queued job ends at once; a running one is asked to stop, and its worker
    stops between frames, removes its partial output and marks it cancelled.

    Raises ``NotAllowed`` unless ``actor`` may run jobs; ``Conflict`` if the job has ended.
    """
    authz.require(actor, job.production, authz.RUN_JOB)
    with transaction.atomic():
        job = Job.objects.select_for_update().select_related("production").get(pk=job.pk)
        if job.is_finished:
            raise Conflict(f"Job {job.pk} has already {job.get_state_display().lower()}; there is nothing to cancel.")
        job.cancel_requested_at = timezone.now()
        fields = ["cancel_requested_at"]
        if job.state == JobState.QUEUED:
            job.state = JobState.CANCELLED
            job.finished_at = job.cancel_requested_at
            fields += ["state", "finished_at"]
        job.save(update_fields=fields)
        audit_record(production=job.production, actor=actor, action="job.cancel", target=job,
                     payload={"state": job.state})
        job_broadcast(job)
    return job


def job_retry(*, job: Job, actor: User) -> Job:
    """Run a failed or cancelled job's fix request again, as a new job.

    Raises ``NotAllowed`` unless ``actor`` may run jobs; ``Conflict`` unless the job failed or
    was cancelled.
    """
    authz.require(actor, job.production, authz.RUN_JOB)  # before the state: it is not theirs to learn
    if job.state not in (JobState.FAILED, JobState.CANCELLED):
        raise Conflict(f"Job {job.pk} is {job.get_state_display().lower()}; only failed or cancelled jobs are retried.")
    new_job, _ = job_submit(fix_request=job.fix_request, actor=actor, stage=job.stage)
    return new_job

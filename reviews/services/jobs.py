"""Engine jobs: submitted by people, executed by Celery workers on the ``gpu`` queue."""
import logging
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from engine.errors import EngineError
from engine.io import FrameSource
from reviews import authz, events
from reviews.fixes import fix_spec
from reviews.media import encode_review_jpeg, frame_name, media_path, proposal_media_dir
from reviews.models import FixRequest, FixRequestStatus, Job, JobState, Proposal

from .audit import audit_record

logger = logging.getLogger(__name__)

# Progress is written and broadcast at most this often (seconds), plus on the last frame.
PROGRESS_INTERVAL_S = 0.5


def job_payload(job: Job) -> dict:
    return {
        "id": job.pk,
        "fix_request": job.fix_request_id,
        "state": job.state,
        "state_label": job.get_state_display(),
        "frames_done": job.frames_done,
        "frames_total": job.frames_total,
        "error": job.error,
    }


def job_submit(*, fix_request: FixRequest, actor: User) -> Job:
    """Queue an engine job for ``fix_request``; it is sent to the ``gpu`` queue once the
    transaction commits. Raises ``NotAllowed`` unless ``actor`` is a supervisor or artist."""
    from reviews.tasks import job_run  # the task module imports this one

    production = fix_request.production
    authz.require(actor, production, authz.RUN_JOB)
    with transaction.atomic():
        job = Job.objects.create(
            production=production, fix_request=fix_request, created_by=actor, frames_total=fix_request.duration_frames
        )
        FixRequest.objects.filter(pk=fix_request.pk).update(status=FixRequestStatus.IN_PROGRESS)
        audit_record(production=production, actor=actor, action="job.submit", target=job,
                     payload={"fix_request": fix_request.pk})
        events.broadcast(events.production_group(production.pk), "job", job_payload(job))
        transaction.on_commit(lambda: job_run.delay(job.pk))
    return job


def _job_start(job_id: int, worker: str) -> Job | None:
    """Mark the job running; None when it has already ended (a redelivered message)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().select_related("production").get(pk=job_id)
        if job.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
            return None
        job.state = JobState.RUNNING
        job.worker = worker
        job.started_at = timezone.now()
        job.frames_done = 0
        job.save(update_fields=["state", "worker", "started_at", "frames_done"])
        events.broadcast(events.production_group(job.production_id), "job", job_payload(job))
    return job


def _job_fail(job: Job, message: str) -> None:
    with transaction.atomic():
        job.state = JobState.FAILED
        job.error = message
        job.finished_at = timezone.now()
        job.save(update_fields=["state", "error", "finished_at"])
        audit_record(production=job.production, actor=None, action="job.fail", target=job, payload={"error": message})
        events.broadcast(events.production_group(job.production_id), "job", job_payload(job))


class _ProposalWriter:
    """The engine's sink: writes the rendered frame (PNG) and both review frames (JPEG)."""

    def __init__(self, folder: Path):
        self.folder = folder
        for sub in ("frames", "review/before", "review/after"):
            (folder / sub).mkdir(parents=True, exist_ok=True)

    def __call__(self, frame: int, before: np.ndarray, after: np.ndarray) -> None:
        bgr = cv2.cvtColor(after, cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(self.folder / "frames" / frame_name(frame, "png")), bgr,
                           [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise OSError(f"could not write frame {frame} to {self.folder}")
        (self.folder / "review/before" / frame_name(frame, "jpg")).write_bytes(encode_review_jpeg(before))
        (self.folder / "review/after" / frame_name(frame, "jpg")).write_bytes(encode_review_jpeg(after))


def job_execute(*, job_id: int, worker: str) -> Proposal | None:
    """Run the engine for a job and store its result as the fix request's next proposal version.

    Frames are rendered into a staging folder and moved into place only when the proposal row
    is created, so a failed or interrupted job leaves nothing half-stored. A job that already
    ended (a redelivered message) does nothing. Engine errors end the job as failed with the
    engine's message. Returns the proposal, or None when nothing was made.
    """
    job = _job_start(job_id, worker)
    if job is None:
        return None
    fix_request = FixRequest.objects.select_related("shot__clip", "reference_shot__clip").get(pk=job.fix_request_id)
    spec = fix_spec(fix_request.kind)
    final_dir = proposal_media_dir(job.pk)
    staging = media_path(final_dir).with_name(f".staging-job-{job.pk}")
    shutil.rmtree(staging, ignore_errors=True)
    writer = _ProposalWriter(staging)
    last_report = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_report
        now = time.monotonic()
        if done < total and now - last_report < PROGRESS_INTERVAL_S:
            return
        last_report = now
        Job.objects.filter(pk=job.pk).update(frames_done=done, frames_total=total)
        job.frames_done, job.frames_total = done, total
        events.broadcast(events.production_group(job.production_id), "job", job_payload(job))

    reference = fix_request.reference_shot
    try:
        result = spec.run(
            shot=FrameSource(Path(fix_request.shot.clip.source_path), fix_request.frame_in, fix_request.frame_out),
            reference=FrameSource(Path(reference.clip.source_path), reference.source_in, reference.source_out),
            params=spec.params_type.from_dict(fix_request.parameters),
            sink=writer,
            progress=progress,
        )
        cv2.imwrite(str(staging / "region.png"), result.region.astype(np.uint8) * 255)
    except EngineError as error:
        shutil.rmtree(staging, ignore_errors=True)
        _job_fail(job, str(error))
        logger.warning("job %s failed: %s", job.pk, error)
        return None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    with transaction.atomic():
        FixRequest.objects.select_for_update().filter(pk=fix_request.pk).first()
        latest = Proposal.objects.filter(fix_request=fix_request).aggregate(v=Max("version"))["v"] or 0
        target = media_path(final_dir)
        shutil.rmtree(target, ignore_errors=True)
        staging.replace(target)
        proposal = Proposal.objects.create(
            production=job.production,
            fix_request=fix_request,
            job=job,
            version=latest + 1,
            frame_in=fix_request.frame_in,
            frame_out=fix_request.frame_out,
            media_dir=final_dir,
            region_fraction=float(result.region.mean()),
            metrics=result.measurements,
            parameters=fix_request.parameters,
            method=spec.method,
        )
        job.state = JobState.SUCCEEDED
        job.finished_at = timezone.now()
        job.frames_done = job.frames_total
        job.save(update_fields=["state", "finished_at", "frames_done"])
        FixRequest.objects.filter(pk=fix_request.pk).update(status=FixRequestStatus.IN_REVIEW)
        audit_record(production=job.production, actor=None, action="proposal.create", target=proposal,
                     payload={"job": job.pk, "version": proposal.version_label, "metrics": result.measurements})
        events.broadcast(events.production_group(job.production_id), "job", job_payload(job))
        events.broadcast(events.production_group(job.production_id), "proposal",
                         {"id": proposal.pk, "fix_request": fix_request.pk, "version": proposal.version_label})
    return proposal

"""Celery tasks: thin calls of services. Idempotent — a job identifies the one proposal it makes."""
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from reviews.services.jobs import JobBusy, job_execute


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # Transient trouble (the database restarting, a dropped connection): try again with backoff.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=8,
)
def job_run(self, job_id: int) -> int | None:
    """Run engine job ``job_id`` (queue ``gpu``); returns the proposal id, or None."""
    try:
        proposal = job_execute(job_id=job_id, worker=self.request.hostname or "local")
    except JobBusy:
        # Another worker is running it. Look again once its lease could have run out, so that
        # if that worker dies this message finishes the job.
        raise self.retry(countdown=settings.LOUPE_JOB_LEASE_S, max_retries=None) from None
    return proposal.pk if proposal else None

"""Celery tasks: thin calls of services. Idempotent — a job identifies the one proposal it makes."""
from celery import shared_task

from reviews.services.jobs import job_execute


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def job_run(self, job_id: int) -> int | None:
    """Run engine job ``job_id`` (queue ``gpu``); returns the proposal id, or None."""
    proposal = job_execute(job_id=job_id, worker=self.request.hostname or "local")
    return proposal.pk if proposal else None

"""Celery tasks: thin calls of services. Idempotent — a job identifies the one proposal it makes.

Web processes import this module to queue tasks (``.delay``), so it imports nothing heavy at
module level: each task imports what it runs (``reviews.worker``, the engine) in its body, on
the worker (docs/adr/0010-light-web-processes.md).
"""
import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)


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
    from reviews.worker.jobs import JobBusy, job_execute

    try:
        proposal = job_execute(job_id=job_id, worker=self.request.hostname or "local")
    except JobBusy:
        # Another worker is running it. Look again once its lease could have run out, so that
        # if that worker dies this message finishes the job: as a fresh message, not
        # self.retry(), which counts against max_retries (Celery reads max_retries=None as the
        # task's own 8) — a job that outlived them was left with no message once its worker died.
        job_run.apply_async((job_id,), countdown=settings.LOUPE_JOB_LEASE_S)
        return None
    return proposal.pk if proposal else None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def look_model_train_run(production_id: int, pairs: list[list[int]], actor_id: int, name: str,
                         parameters: dict) -> int | None:
    """Train a look model (queue ``gpu``); returns its id, or None when training was refused."""
    from django.contrib.auth.models import User

    from reviews.errors import ServiceError
    from reviews.models import Production
    from reviews.worker.looks import look_model_train

    production = Production.objects.get(pk=production_id)
    shots = {shot.pk: shot for shot in production.shots.select_related("clip")}
    try:
        look_model = look_model_train(
            production=production, actor=User.objects.get(pk=actor_id), name=name, parameters=parameters,
            pairs=[(shots[source], shots[graded]) for source, graded in pairs],
        )
    except ServiceError as error:
        logger.warning("look model %r of %s not trained: %s", name, production.code, error)
        return None
    return look_model.pk


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, retry_backoff_max=120, max_retries=8)
def learned_model_train_run(self, model_id: int) -> int | None:
    """Train learned model ``model_id`` (queue ``gpu``); returns its id, or None when it was not
    trained (cancelled, failed, or running on another worker: then looked at again once that
    worker's lease could have run out, as :func:`job_run` does)."""
    from reviews.worker.training import TrainingBusy, learned_model_train_execute

    try:
        model = learned_model_train_execute(model_id=model_id, worker=self.request.hostname or "local")
    except TrainingBusy:
        learned_model_train_run.apply_async((model_id,), countdown=settings.LOUPE_JOB_LEASE_S)
        return None
    return model.pk if model else None


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=2, max_retries=8)
def clip_proxy_run(clip_id: int) -> None:
    """Make clip ``clip_id``'s browser review proxy (queue ``default``)."""
    from reviews.worker.proxies import clip_proxy_make

    clip_proxy_make(clip_id=clip_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=2, max_retries=8)
def clip_ingest_run(ingest_id: int) -> str | None:
    """Run ingest ``ingest_id`` (queue ``default``): probe, checksum, thumbnail, store the clip.
    Returns its state, None if it had ended or is gone. A failure is recorded on the ingest (and
    in the audit trail), not raised to Celery."""
    from reviews.worker.ingest import clip_ingest_execute

    ingest = clip_ingest_execute(ingest_id)
    return ingest.state if ingest else None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def fix_request_screen_run(fix_request_id: int) -> bool | None:
    """Screen a fix request's frames for faces (queue ``gpu``); returns whether it was flagged,
    None when the fix request no longer exists."""
    from reviews.models import FixRequest
    from reviews.worker.likeness import fix_request_screen_likeness

    fix_request = FixRequest.objects.select_related("shot__clip", "production").filter(pk=fix_request_id).first()
    if fix_request is None:
        return None
    return fix_request_screen_likeness(fix_request=fix_request)["flagged"]


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=2, max_retries=8)
def delivery_run(delivery_id: int) -> str | None:
    """Render delivery ``delivery_id`` (queue ``default``); returns its status, None if it is gone.
    A failure is recorded on the delivery (and in the audit trail), not raised to Celery."""
    from reviews.errors import ServiceError
    from reviews.models import Delivery
    from reviews.worker.deliveries import delivery_render

    delivery = Delivery.objects.select_related("production", "created_by").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    try:
        delivery = delivery_render(delivery=delivery)
    except ServiceError as error:
        logger.warning("delivery %s of %s failed: %s", delivery.number, delivery.production.code, error)
        delivery.refresh_from_db()
    return delivery.status


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=2, max_retries=8)
def report_export_run(export_id: int) -> str | None:
    """Build report export ``export_id``'s PDF (queue ``default``); returns its state, None if it
    had ended or is gone. A failure is recorded on the export (and in the audit trail)."""
    from reviews.worker.reports import report_export_build

    export = report_export_build(export_id)
    return export.state if export else None


@shared_task
def notification_digest_run() -> int:
    """The daily notification digest (``manage.py send_notification_digest``), for Celery beat."""
    from reviews.services.notifications import notification_digest_send

    return notification_digest_send()

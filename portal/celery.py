"""The Celery app. Configuration comes from Django settings (``CELERY_*``); routing is there too."""
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Signal handlers of the operations side: the request id carried into tasks, the worker's
# metrics exporter (docs/operations.md).
from portal import metrics, request_id  # noqa: E402,F401


@worker_init.connect
def _load_the_engine(sender=None, **kwargs) -> None:
    """A worker that runs engine jobs (it consumes the queue ``job_run`` is routed to) loads the
    engine (torch, OpenCV, OpenColorIO's bindings) before it consumes, not in its first job: it
    answers a ping only once it can run one at full speed, and with a prefork pool the children
    share what the parent loaded. Other workers (ingest, proxies, reports on ``default``) do not
    carry it: a report's PDF job keeps its memory target. Web processes never send
    ``worker_init``, so they stay light (ADR 0010)."""
    from django.conf import settings

    engine_queue = settings.CELERY_TASK_ROUTES["reviews.tasks.job_run"]["queue"]
    if sender is not None and engine_queue in (sender.app.amqp.queues.consume_from or {}):
        import reviews.worker.jobs  # noqa: F401


def broker_connection(*, timeout_s: float):
    """A new kombu connection to the broker the settings name now (``CELERY_BROKER_URL``), not yet
    connected, giving up on connecting after ``timeout_s`` seconds. Used by the readiness check
    and the queue-depth metric; close it (``with``)."""
    from django.conf import settings
    from kombu import Connection

    return Connection(settings.CELERY_BROKER_URL, transport_options=dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS),
                      connect_timeout=timeout_s)


def queue_names() -> list[str]:
    """Every queue tasks are routed to (``CELERY_TASK_ROUTES`` and the default queue), sorted."""
    from django.conf import settings

    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return sorted(routed | {settings.CELERY_TASK_DEFAULT_QUEUE})

"""Job metrics, recorded in the worker where a job's task ends (``portal.metrics``: the metric
definitions and how they are scraped).

A delivery of ``reviews.tasks.job_run`` that took the job from not finished to finished records
``loupe_job_duration_seconds{kind, state}`` (the job's ``started_at`` → ``finished_at``) and, when
it failed, ``loupe_job_failures_total{kind}``. A redelivery of a job that had already ended, or a
delivery that found the job running elsewhere (``JobBusy``, retried later), records nothing, so
each job is counted once.
"""
from celery.signals import task_postrun, task_prerun

from portal.metrics import JOB_DURATION, JOB_FAILURES
from reviews.models import Job, JobState

JOB_TASK = "reviews.tasks.job_run"
# task id → whether its job had ended before this delivery ran (this process's deliveries only).
_ended_before: dict[str, bool] = {}


def _job(job_id: int) -> Job | None:
    return Job.objects.select_related("fix_request").filter(pk=job_id).first()


@task_prerun.connect
def _note_job_state(task_id=None, task=None, args=None, kwargs=None, **_):
    if task.name != JOB_TASK:
        return
    job = _job(args[0] if args else kwargs.get("job_id"))
    _ended_before[task_id] = job is None or job.is_finished


@task_postrun.connect
def job_record_end(task_id=None, task=None, args=None, kwargs=None, **_):
    """Record the metrics of the job that this delivery of ``job_run`` ended (see the module)."""
    if task.name != JOB_TASK or _ended_before.pop(task_id, True):
        return
    job = _job(args[0] if args else kwargs.get("job_id"))
    if job is None or not job.is_finished or job.started_at is None or job.finished_at is None:
        return
    kind = job.fix_request.kind
    JOB_DURATION.labels(kind, job.state).observe((job.finished_at - job.started_at).total_seconds())
    if job.state == JobState.FAILED:
        JOB_FAILURES.labels(kind).inc()

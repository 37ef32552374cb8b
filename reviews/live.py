"""Live job progress without a shared channel layer (the embedded defaults: no Redis).

A worker is another process; with the in-memory channel layer its ``events.broadcast`` reaches
no browser. So in that mode each web process runs one *database relay*: once a second it reads
what changed in the database — jobs queued, running or just finished (state, frames done),
versions made, trainings of learned models in work — and sends the same ``job``, ``proposal``
and ``learned_model`` events into the production groups
of its own in-memory layer. Every page that shows a job (production page, shot board, jobs page,
review room) already listens to those groups, so they update live in both modes. With Redis
(``settings.CHANNEL_LAYER_IS_SHARED``) the worker's own events arrive and no relay runs.
"""
import asyncio
import logging
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from . import events
from .models import Job, JobState, LearnedModel, Notification, Proposal

logger = logging.getLogger(__name__)

#: Seconds between two reads of the database.
RELAY_INTERVAL_S = 1.0
_ACTIVE = (JobState.QUEUED, JobState.RUNNING)


@dataclass
class RelayState:
    """What the relay last saw: each job still in work (id → (state, frames done)) and the
    newest version's id."""

    jobs: dict[int, tuple[str, int]] = field(default_factory=dict)
    trainings: dict[int, tuple[str, int]] = field(default_factory=dict)
    last_proposal: int | None = None
    last_notification: int | None = None


def relay_changes(seen: RelayState) -> list[tuple[str, str, dict]]:
    """``(group, event, data)`` for every change since ``seen`` (updated in place): jobs that
    appeared or changed state or progress — finished ones once, then forgotten — and new
    versions, new notifications and trainings. The first call only takes stock. Four queries."""
    from .services.jobs import job_payload  # services import this package's modules

    found = []
    first = seen.last_proposal is None
    jobs = Job.objects.filter(pk__in=list(seen.jobs)) | Job.objects.filter(state__in=_ACTIVE)
    current = {}
    for job in jobs.order_by("pk"):
        now = (job.state, job.frames_done)
        if job.state in _ACTIVE:
            current[job.pk] = now
        if not first and seen.jobs.get(job.pk) != now:
            found.append((events.production_group(job.production_id), "job", job_payload(job)))
    seen.jobs = current
    newer = Proposal.objects.order_by("pk")
    if not first:
        newer = newer.filter(pk__gt=seen.last_proposal)
        for proposal in newer:
            found.append((events.production_group(proposal.production_id), "proposal",
                          {"id": proposal.pk, "fix_request": proposal.fix_request_id,
                           "version": proposal.version_label}))
    last = newer.values_list("pk", flat=True).last()
    seen.last_proposal = last if last is not None else (seen.last_proposal or 0)
    found += _relay_notifications(seen, first)
    found += _relay_trainings(seen, first)
    return found


def _relay_trainings(seen: RelayState, first: bool) -> list[tuple[str, str, dict]]:
    """``learned_model`` events for trainings that appeared or changed state or progress —
    finished ones once, then forgotten (as for jobs). One query."""
    from .services.learned_models import learned_model_payload

    found, current = [], {}
    trainings = (LearnedModel.objects.filter(pk__in=list(seen.trainings))
                 | LearnedModel.objects.filter(state__in=_ACTIVE))
    for model in trainings.order_by("pk"):
        now = (model.state, model.steps_done)
        if model.state in _ACTIVE:
            current[model.pk] = now
        if not first and seen.trainings.get(model.pk) != now:
            found.append((events.production_group(model.production_id), "learned_model",
                          learned_model_payload(model)))
    seen.trainings = current
    return found


def _relay_notifications(seen: RelayState, first: bool) -> list[tuple[str, str, dict]]:
    """``notification`` events for the in-app notifications made since ``seen`` (by a worker, or
    another process); the first call only takes stock. Browsers drop one they already have."""
    from .services.notifications import notification_payload, user_group

    newer = Notification.objects.order_by("pk")
    found = []
    if not first:
        newer = newer.filter(pk__gt=seen.last_notification)
        found = [(user_group(n.recipient_id), "notification", notification_payload(n))
                 for n in newer.filter(in_app=True)]
    last = newer.values_list("pk", flat=True).last()
    seen.last_notification = last if last is not None else (seen.last_notification or 0)
    return found


_relay: asyncio.Task | None = None


async def _run() -> None:
    seen = RelayState()
    layer = get_channel_layer()
    while True:
        try:
            for group, event, data in await database_sync_to_async(relay_changes)(seen):
                await layer.group_send(group, {"type": "relay", "event": event, "data": data})
        except Exception:  # a database hiccup must not end live updates for the process
            logger.exception("database relay of job progress failed; trying again")
        await asyncio.sleep(RELAY_INTERVAL_S)


def database_relay_ensure() -> None:
    """Start this process's database relay if the channel layer is not shared and it is not
    running yet (called by the consumers of pages that show jobs, in the event loop)."""
    global _relay
    loop = asyncio.get_running_loop()
    if settings.CHANNEL_LAYER_IS_SHARED or (_relay is not None and not _relay.done() and _relay.get_loop() is loop):
        return
    _relay = loop.create_task(_run())

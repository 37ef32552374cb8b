"""A running attempt's lease on its row — an engine job (``Job``) or a training
(``LearnedModel``): the one rule both follow.

The row's ``heartbeat_at`` is renewed every ``HEARTBEAT_INTERVAL_S`` by a thread of the
attempt's own (with its own database connection), whatever the engine is busy with — a fit
before the first frame, one slow 4K frame or a long training step on a loaded host — so the
lease runs out only when the worker is gone (killed, or stalled past ``LOUPE_JOB_LEASE_S``).
A second delivery of the task's message then finds the row running with a live heartbeat and
waits; once the lease has run out it takes the row over and names itself in it.

The lease is *lost* when the row names another attempt: renewing stops and ``lost`` is set.
The attempt that lost it stops at its next callback and neither ends the row nor stores
anything: its outcome is the new owner's to record (:func:`end_after_error`).
"""
import logging
import threading
from collections.abc import Callable

from django.db import DatabaseError, connection, models
from django.utils import timezone

from engine.errors import Cancelled, EngineError
from reviews.models import JobState

logger = logging.getLogger(__name__)

#: The lease is renewed this often (seconds); it runs out after ``LOUPE_JOB_LEASE_S``.
HEARTBEAT_INTERVAL_S = 1.0


class Lease:
    """The lease of the attempt that ``owner`` names on row ``pk`` of ``model``: ``owner`` is the
    fields whose values tell attempts apart (a job's ``worker`` and ``attempts``, a training's
    ``worker`` and ``started_at``). Use as a context manager around the attempt.

    A row this connection cannot see (a test's uncommitted transaction) is not a loss."""

    def __init__(self, model: type[models.Model], pk: int, **owner):
        self.model, self.pk, self.owner = model, pk, owner
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, daemon=True,
                                        name=f"lease-{model._meta.model_name}-{pk}")

    def __enter__(self) -> "Lease":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _mine(self):
        return self.model.objects.filter(pk=self.pk, **self.owner)

    def _renew_until_stopped(self) -> None:
        try:
            while not self._stop.wait(HEARTBEAT_INTERVAL_S):
                try:
                    if self._mine().filter(state=JobState.RUNNING).update(heartbeat_at=timezone.now()):
                        continue
                    owner = self.model.objects.filter(pk=self.pk).values(*self.owner).first()
                except DatabaseError:
                    continue  # transient: the next period tries again (and the lease runs out if it lasts)
                if owner is not None and owner != self.owner:
                    logger.warning("%s %s: %s lost its lease to %s", self.model._meta.verbose_name, self.pk,
                                   self.owner, owner)
                    self.lost.set()
                    return
        finally:
            connection.close()  # this thread's own

    def still_held(self) -> bool:
        """True while the row names this attempt (as this connection sees it)."""
        return not self.lost.is_set() and self._mine().exists()

    def held(self) -> bool:
        """:meth:`still_held`, locking the row: call it inside the transaction that stores the
        attempt's result, so that no takeover slips in between."""
        return not self.lost.is_set() and self._mine().select_for_update().exists()


def end_after_error(error: Exception, lease: Lease, end: Callable[..., None], *, what: str, again: str) -> bool:
    """How an attempt that raised ``error`` ends its row — the one rule for jobs and trainings:
    nothing when it lost ``lease`` (the owning attempt records the outcome); cancelled on
    ``Cancelled``; failed with the engine's message on ``EngineError`` (logged as ``what``
    failed); failed on anything else, saying so and what to do (``again``).
    ``end(state, error="")`` ends the row. Returns True when the error was unexpected and
    should propagate."""
    if not lease.still_held():
        return False
    if isinstance(error, Cancelled):
        end(JobState.CANCELLED)
        return False
    if isinstance(error, EngineError):
        end(JobState.FAILED, str(error))
        logger.warning("%s failed: %s", what, error)
        return False
    end(JobState.FAILED, f"The worker hit an unexpected error ({type(error).__name__}: {error}). {again}")
    return True

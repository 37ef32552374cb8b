"""Learned models, the worker side: training a production's inpainting or upscale model on a
Celery worker (queue ``gpu``); people ask for one through ``reviews.services.learned_models``.

Like an engine job (``reviews.worker.jobs``) a training holds a lease (``reviews.worker.lease``:
``heartbeat_at`` renewed about every second by a thread of the attempt's own, whatever the
training step is doing), so a redelivered message finds it alive (``TrainingBusy``) and takes
it over only once the lease has run out; an attempt that lost its lease stops at its next step
and leaves the training to the new owner. Each attempt writes the model file under a temporary
name of its own, renamed into place in the transaction that gives the model its version, and
only while the attempt still owns the training; a cancelled or failed training leaves no file
and no version.
"""
import functools
import logging
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone

from engine.errors import Cancelled
from engine.media.decode import FrameSource
from engine.models import inpaint, upscale
from reviews.media import media_path
from reviews.models import JobState, LearnedModel, LearnedModelKind, Shot
from reviews.services.audit import audit_record
from reviews.services.learned_models import learned_model_broadcast

from .lease import Lease, end_after_error

logger = logging.getLogger(__name__)

#: Progress is written and broadcast at most this often (seconds), plus at the end.
PROGRESS_INTERVAL_S = 0.5
#: A cancel request is looked for at most this often (seconds).
CANCEL_CHECK_INTERVAL_S = 1.0


class TrainingBusy(Exception):
    """The training runs on another worker whose lease has not run out; try again later."""


def model_file(model: LearnedModel) -> str:
    """Where a trained model's file lives, relative to MEDIA_ROOT: ``models/<production>/<kind>-vNNN.pt``."""
    return f"models/{model.production.code}/{model.kind}-v{model.version:03d}.pt"


class _TrainingMonitor:
    """The engine's ``progress`` and ``should_cancel`` callbacks for one training: writes
    progress and looks for a cancel request or a lost lease, each at most every so often."""

    def __init__(self, model: LearnedModel, lease: Lease):
        self.model = model
        self.lease = lease
        self.last_progress = 0.0
        self.last_cancel_check = 0.0
        self.cancelled = False

    def progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last_progress < PROGRESS_INTERVAL_S:
            return
        self.last_progress = now
        LearnedModel.objects.filter(pk=self.model.pk).update(steps_done=done, steps_total=total)
        self.model.steps_done, self.model.steps_total = done, total
        learned_model_broadcast(self.model)

    def should_cancel(self) -> bool:
        """True once a cancel was requested or the lease was lost (the engine then raises
        ``Cancelled``; :func:`learned_model_train_execute` tells the two apart by ``lease.lost``)."""
        if self.lease.lost.is_set():
            return True
        now = time.monotonic()
        if not self.cancelled and now - self.last_cancel_check >= CANCEL_CHECK_INTERVAL_S:
            self.last_cancel_check = now
            self.cancelled = LearnedModel.objects.filter(pk=self.model.pk, cancel_requested_at__isnull=False).exists()
        return self.cancelled


def _start(model_id: int, worker: str) -> LearnedModel | None:
    """Take the training's lease and mark it running; None when it has ended or is gone."""
    now = timezone.now()
    with transaction.atomic():
        model = LearnedModel.objects.select_for_update().select_related("production").filter(pk=model_id).first()
        if model is None or model.is_finished:
            return None
        lease = timedelta(seconds=settings.LOUPE_JOB_LEASE_S)
        if model.state == JobState.RUNNING and model.heartbeat_at and now - model.heartbeat_at < lease:
            raise TrainingBusy(f"{model.label} is training on {model.worker}")
        model.state, model.worker = JobState.RUNNING, worker
        model.started_at = model.heartbeat_at = now
        model.steps_done = 0
        model.save(update_fields=["state", "worker", "started_at", "heartbeat_at", "steps_done"])
        learned_model_broadcast(model)
    return model


def _end(model: LearnedModel, state: str, error: str = "") -> None:
    with transaction.atomic():
        model.state, model.error, model.finished_at = state, error, timezone.now()
        model.save(update_fields=["state", "error", "finished_at"])
        audit_record(production=model.production, actor=None, action=f"learned_model.{state}", target=model,
                     payload={"error": error} if error else {})
        learned_model_broadcast(model)


def _source(shot: Shot) -> FrameSource:
    clip = shot.clip
    return FrameSource(Path(clip.source_path), shot.source_in, shot.source_out,
                       input_colorspace=clip.input_colorspace or None)


def _train_inpaint(model: LearnedModel, shots: list[Shot], monitor: _TrainingMonitor, staging: Path) -> dict:
    """Train and save an inpainting model; returns the row's fields from its lineage and figures."""
    trained = inpaint.train_inpaint([_source(shot) for shot in shots],
                                    inpaint.InpaintTrainParams.from_dict(model.parameters),
                                    progress=monitor.progress, should_cancel=monitor.should_cancel)
    trained.save(staging)
    lineage = dict(trained.lineage, clips=[dict(entry, shot=shot.code)
                                           for entry, shot in zip(trained.lineage["clips"], shots)])
    heldout = trained.heldout
    return {"lineage": lineage, "beats_classical": trained.beats_classical,
            "measurements": {"psnr_model_db": heldout["psnr_model_db"],
                             "psnr_classical_db": heldout["psnr_classical_db"],
                             "heldout_frames": heldout["frames"], "steps_done": trained.lineage["steps_done"]},
            "training_seconds": trained.lineage["training_seconds"], "device": trained.lineage["device"]}


def _train_upscale(model: LearnedModel, shots: list[Shot], monitor: _TrainingMonitor, staging: Path) -> dict:
    """Train and save an upscale model (frames sampled evenly from each shot, as
    ``python -m engine upscale train`` does); returns the row's fields."""
    params = upscale.UpscaleTrainParams.from_dict(model.parameters)
    clips = []
    for shot in shots:
        source = _source(shot)
        frames = []
        for number, frame in source.frames(step=max(1, len(source) // params.frames_per_clip), as_float=True):
            if len(frames) == params.frames_per_clip:
                break
            if monitor.should_cancel():
                raise Cancelled(f"upscale training cancelled while reading {shot.code} frame {number}")
            frames.append((number, frame))
        clips.append((shot.code, frames))
    trained = upscale.train_upscale(clips, params=params, progress=monitor.progress,
                                    should_cancel=monitor.should_cancel)
    trained.save(staging)
    held_out = trained.held_out
    beats = all(held_out.get(f"psnr_model_db_x{scale:g}", -1) > held_out.get(f"psnr_lanczos_db_x{scale:g}", 0)
                for scale in params.scales)
    lineage = dict(trained.lineage, clips=[dict(entry, shot=shot.code, clip=shot.clip.source_path)
                                           for entry, shot in zip(trained.lineage["clips"], shots)],
                   lens_profile=trained.profile.to_dict())
    return {"lineage": lineage, "beats_classical": beats, "measurements": dict(held_out),
            "training_seconds": trained.lineage["training_seconds"], "device": trained.lineage["device"]}


TRAIN = {LearnedModelKind.INPAINT: _train_inpaint, LearnedModelKind.UPSCALE: _train_upscale}


def learned_model_train_execute(*, model_id: int, worker: str) -> LearnedModel | None:
    """Train learned model ``model_id`` as it was requested, store its file under MEDIA_ROOT and
    give it the production's next version of its kind, with its lineage (shots, clips and
    frames trained on and held out, parameters, device, training time) and held-out figures.

    Returns the model, or None when it was not trained: it had ended already (a redelivered
    message), was cancelled (no file left) or failed — engine errors (unreadable footage, too few
    frames, no edges to measure) end it as failed with the engine's message. Raises
    ``TrainingBusy`` while another worker holds its lease; unexpected errors fail it and propagate.
    """
    model = _start(model_id, worker)
    if model is None:
        return None
    with Lease(LearnedModel, model.pk, worker=model.worker, started_at=model.started_at) as lease:
        return _train_and_store(model, lease)


def _train_and_store(model: LearnedModel, lease: Lease) -> LearnedModel | None:
    """One attempt at a training (:func:`learned_model_train_execute`), for as long as it holds ``lease``."""
    shots = list(model.shots.select_related("clip").order_by("pk"))
    folder = media_path(f"models/{model.production.code}")
    folder.mkdir(parents=True, exist_ok=True)
    # Each attempt its own file: one that lost its lease cannot overwrite the new owner's.
    staging = folder / f".training-{model.pk}-{model.started_at.timestamp():.6f}.pt"
    monitor = _TrainingMonitor(model, lease)
    try:
        fields = TRAIN[model.kind](model, shots, monitor, staging)
    except (OperationalError, InterfaceError):
        staging.unlink(missing_ok=True)
        raise
    except Exception as error:
        staging.unlink(missing_ok=True)
        if end_after_error(error, lease, functools.partial(_end, model), what=f"training of {model.label}",
                           again=f"Train again; if it fails again, report learned model {model.pk}."):
            raise
        return None
    except BaseException:  # the worker stopping (SystemExit, KeyboardInterrupt): the lease runs out
        staging.unlink(missing_ok=True)
        raise

    with transaction.atomic():
        if not lease.held():
            staging.unlink(missing_ok=True)
            return None  # lost to another attempt while training: one version per training, that one's
        # Locks the production's models of this kind: two trainings ending at once get v001 and v002.
        list(LearnedModel.objects.select_for_update().filter(production=model.production, kind=model.kind)
             .values_list("pk", flat=True))
        model.version = (LearnedModel.objects.filter(production=model.production, kind=model.kind)
                         .aggregate(v=Max("version"))["v"] or 0) + 1
        model.file_path = model_file(model)
        staging.replace(media_path(model.file_path))
        for name, value in fields.items():
            setattr(model, name, value)
        model.lineage = dict(model.lineage, engine_version=model.engine_version, parameters=model.parameters)
        model.state, model.finished_at, model.steps_done = JobState.SUCCEEDED, timezone.now(), model.steps_total
        model.save()
        audit_record(production=model.production, actor=None, action="learned_model.train", target=model,
                     payload={"kind": model.kind, "version": model.version, "shots": [s.code for s in shots],
                              "measurements": model.measurements, "beats_classical": model.beats_classical,
                              "device": model.device, "training_seconds": model.training_seconds})
        learned_model_broadcast(model)
    return model

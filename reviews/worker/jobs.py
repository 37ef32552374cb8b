"""Engine jobs, the worker side: a job executed on a Celery worker (queue ``gpu``); people submit
them through ``reviews.services.jobs``.

A job runs at most once at a time and makes at most one proposal:

- a running job holds a lease — ``heartbeat_at``, renewed about every second by a thread of the
  attempt's own (``reviews.worker.lease``), whatever the engine is busy with — so a second delivery of its
  message (a broker redelivering after a worker died, or a visibility timeout) finds it alive
  and raises ``JobBusy``; the task tries again later, and takes the job over once the lease has
  run out;
- an attempt that lost its lease (its worker stalled past ``LOUPE_JOB_LEASE_S`` and another took
  over) stops at its next frame and leaves the job to the new owner: it neither ends the job nor
  stores anything — each attempt renders into a staging folder of its own, renamed into place
  in the transaction that creates the proposal, and only while the attempt still owns the job;
  the proposal is one-to-one with its job;
- a delivery for a job that has ended does nothing.
"""
import base64
import dataclasses
import functools
import json
import logging
import shutil
import time
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone

from engine.errors import EngineError
from engine.fixes import continuity
from engine.media import colour
from engine.media.decode import FrameSource
from engine.media.images import quantise, write_image
from engine.media.probe import Encoding
from reviews import events, selectors, states, tasks
from reviews.errors import ServiceError
from reviews.fixes import engine_parameters, fix_spec
from reviews.media import (REGION_OUTLINE_FILE, encode_review_jpeg, frame_name, media_path, proposal_media_dir,
                           trace_region_outline)
from reviews.models import ContinuityFinding, FixRequest, FixRequestStatus, Job, JobStage, JobState, Proposal
from reviews.services.audit import audit_record
from reviews.services.jobs import job_broadcast as _broadcast
from reviews.services.learned_models import CLASSICAL, learned_model_of, learned_model_pick
from reviews.services.looks import look_model_file
from reviews.services.ocio_configs import production_ocio_config
from reviews.services.proposals import proposal_supersede_older

from .fixes import RUNS, FixInputs
from .lease import Lease, end_after_error
from .review_views import ReviewViews
from .masks import mask_sequence_make, stored_mask_sequence

#: Beside a proposal's frames: a copy of the mask sequence the fix used (reviews.media).
SEGMENTATION_DIR = "segmentation"

logger = logging.getLogger(__name__)

# Progress is written and broadcast at most this often (seconds), plus on the last frame.
PROGRESS_INTERVAL_S = 0.5
# A cancel request is looked for at most this often (seconds).
CANCEL_CHECK_INTERVAL_S = 1.0
# While a job renders, a small preview of its latest frame goes to browsers this often (seconds).
PREVIEW_INTERVAL_S = 2.0
PREVIEW_WIDTH = 320


#: What an unexpected failure tells people to do.
_RETRY_THE_JOB = "Retry the job; if it fails again, report job {job}."


class JobBusy(Exception):
    """The job is running on another worker whose lease has not run out; try again later."""


def _enqueue_likeness_screening(fix_request: FixRequest) -> None:
    """Screen the fix request's frames for faces (``engine.ops.likeness``) on a worker once its
    first version exists: after the job, so that it never delays a proposal."""
    transaction.on_commit(lambda: tasks.fix_request_screen_run.delay(fix_request.pk))


def _job_start(job_id: int, worker: str) -> Job | None:
    """Take the job's lease and mark it running. None when it has ended or is gone (nothing to do);
    ``JobBusy`` when another worker holds a live lease on it."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().select_related("production").filter(pk=job_id).first()
        if job is None:
            logger.warning("job %s no longer exists; dropping its message", job_id)
            return None
        if job.is_finished:
            return None
        lease = timedelta(seconds=settings.LOUPE_JOB_LEASE_S)
        if job.state == JobState.RUNNING and job.heartbeat_at and now - job.heartbeat_at < lease:
            raise JobBusy(f"job {job.pk} is running on {job.worker}")
        if job.state == JobState.RUNNING:
            logger.warning("job %s: taking over from %s, whose lease ran out", job.pk, job.worker)
        job.state = JobState.RUNNING
        job.worker = worker
        job.attempts += 1
        job.started_at = job.heartbeat_at = now
        job.frames_done = 0
        job.save(update_fields=["state", "worker", "attempts", "started_at", "heartbeat_at", "frames_done"])
        _broadcast(job)
    return job


def _job_end(job: Job, state: str, error: str = "") -> None:
    with transaction.atomic():
        job.state = state
        job.error = error
        job.finished_at = timezone.now()
        job.save(update_fields=["state", "error", "finished_at"])
        audit_record(production=job.production, actor=None, action=f"job.{state}", target=job,
                     payload={"error": error} if error else {})
        _broadcast(job)


class _ProposalWriter:
    """The engine's sink: writes the rendered frame (``_store_rendered``) and the review frames
    (JPEG) of both sides in each review view.

    Frames of 8-bit sources come as uint8 and are stored as they are; frames of deeper sources
    come as float32 at source precision (issue #21): the rendered frame is stored at the
    source's precision (``encoding``, set once the shot is opened: a 16-bit PNG for integer
    sources, EXR of the source's sample type for half/float ones). The review frames of both go
    through each view's display transform (``ReviewViews``, in the clip's colour space
    ``colorspace``, set by ``open_views`` once the shot is opened; Rec.709 until then).
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.colorspace = colour.REC709
        self.encoding = Encoding()  # the source's: how the rendered frames are stored
        self.views: ReviewViews | None = None
        self.latest: tuple[int, np.ndarray] | None = None  # the last frame rendered, for previews
        self.first: int | None = None  # the frames rendered: [first, last]
        self.last: int | None = None
        (folder / "frames").mkdir(parents=True, exist_ok=True)

    def open_views(self, colorspace: str) -> None:
        """Render review frames through ``LOUPE_REVIEW_VIEWS`` for frames in ``colorspace``.
        Raises ``ParameterError`` when the config lacks a display or view."""
        self.views = ReviewViews(colorspace)
        self.views.write_manifest(self.folder)

    def review_pictures(self, before: np.ndarray, after: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(before, after) as each review view shows them (uint8 [h, w, 3] display codes, in the
        order of ``views.entries``): what the review JPEGs are encoded from."""
        if self.views is None:
            self.open_views(colour.REC709)
        return list(zip(self.views.pictures(before), self.views.pictures(after)))

    def matte(self, frame: int, alpha: np.ndarray) -> None:
        """Store a frame's matte (uint8 [H, W], 255 = foreground) as ``matte/NNNNNN.png``."""
        self._per_frame("matte", frame, alpha)

    def mask(self, frame: int, hole: np.ndarray) -> None:
        """Store the region a frame may change (uint8 [H, W], 255 = changed or may be) as
        ``mask/NNNNNN.png``."""
        self._per_frame("mask", frame, hole)

    def _per_frame(self, name: str, frame: int, image: np.ndarray) -> None:
        (self.folder / name).mkdir(exist_ok=True)
        if not cv2.imwrite(str(self.folder / name / frame_name(frame, "png")), image, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise OSError(f"could not write the {name} of frame {frame} to {self.folder}")

    def __call__(self, frame: int, before: np.ndarray, after: np.ndarray) -> None:
        self._store_rendered(frame, after)
        pictures = self.review_pictures(before, after)
        for entry, (before_codes, after_codes) in zip(self.views.entries, pictures):
            folder = self.folder / entry["folder"]
            (folder / "before" / frame_name(frame, "jpg")).write_bytes(encode_review_jpeg(before_codes))
            (folder / "after" / frame_name(frame, "jpg")).write_bytes(encode_review_jpeg(after_codes))
        self.latest = (frame, pictures[0][1])
        self.first = frame if self.first is None else min(self.first, frame)
        self.last = frame if self.last is None else max(self.last, frame)

    def _store_rendered(self, frame: int, image: np.ndarray) -> None:
        """Store a rendered frame ([H, W, 3] RGB) losslessly at the source's precision, in
        ``frames/``: uint8 as an 8-bit PNG; float32 of an integer source as a 16-bit PNG (code /
        65535, rounded); float32 of a half/float source as an EXR of that sample type (zip,
        through ``engine.media.images.write_image`` as ``engine.media.encode`` writes EXR), the
        scene values as they are — above 1.0 too — tagged with the clip's colour space.

        Raises ``OSError`` (or ``FrameWriteError``) when the file cannot be written."""
        if image.dtype != np.uint8 and self.encoding.sample_type in ("half", "float"):
            write_image(self.folder / "frames" / frame_name(frame, "exr"), image, sample_type=self.encoding.sample_type,
                        colorspace=self.colorspace)
            return
        rendered = image if image.dtype == np.uint8 else quantise(image, np.uint16)
        if not cv2.imwrite(str(self.folder / "frames" / frame_name(frame, "png")),
                           cv2.cvtColor(rendered, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise OSError(f"could not write frame {frame} to {self.folder}")


class _JobMonitor:
    """The engine's progress and should_cancel callbacks: writes progress and looks for a cancel
    request or a lost lease — each at most every so often, since the engine calls per frame."""

    def __init__(self, job: Job, writer: _ProposalWriter | None, lease: Lease):
        self.job = job
        self.writer = writer
        self.lease = lease
        self.last_preview = 0.0
        self.last_progress = 0.0
        self.last_cancel_check = time.monotonic()
        self.cancelled = False

    def progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last_progress < PROGRESS_INTERVAL_S:
            return
        self.last_progress = now
        Job.objects.filter(pk=self.job.pk).update(frames_done=done, frames_total=total)
        self.job.frames_done, self.job.frames_total = done, total
        _broadcast(self.job)
        if self.writer is not None and self.writer.latest is not None and now - self.last_preview >= PREVIEW_INTERVAL_S:
            self.last_preview = now
            frame, image = self.writer.latest
            data_url = "data:image/jpeg;base64," + base64.b64encode(encode_review_jpeg(image, PREVIEW_WIDTH)).decode()
            events.broadcast(events.production_group(self.job.production_id), "job.preview",
                             {"id": self.job.pk, "fix_request": self.job.fix_request_id, "frame": frame,
                              "image": data_url})

    def should_cancel(self) -> bool:
        """True once a cancel was requested or the lease was lost (the engine then raises
        ``Cancelled``; :func:`job_execute` tells the two apart by ``lease.lost``)."""
        if self.lease.lost.is_set():
            return True
        now = time.monotonic()
        if not self.cancelled and now - self.last_cancel_check >= CANCEL_CHECK_INTERVAL_S:
            self.last_cancel_check = now
            self.cancelled = Job.objects.filter(pk=self.job.pk, cancel_requested_at__isnull=False).exists()
        return self.cancelled


#: The measurement under which a proposal names the OCIO display and view its colour figures
#: (CIELAB means, ΔE2000, flicker in L*) were taken in: ``{"display", "view"}``.
MEASUREMENT_VIEW_KEY = "colour_measured_in"


def with_measurement_view(measurements: dict, shot: FrameSource) -> dict:
    """``measurements`` with ``MEASUREMENT_VIEW_KEY`` naming the display and view the engine
    took its colour figures in (``engine.media.colour.measurement_view`` of the shot's colour
    space), when it reported any; unchanged otherwise."""
    colour_figures = any("delta_e" in key or "flicker" in key or key.startswith(("mean_l_", "mean_a_", "mean_b_"))
                         for key in measurements)
    if not colour_figures:
        return measurements
    display, view = colour.measurement_view(shot.colorspace)
    return {**measurements, MEASUREMENT_VIEW_KEY: {"display": display, "view": view}}


def _clip_source(clip, first: int, stop: int) -> FrameSource:
    """Frames [first, stop) of a clip, read in the clip's input colour space (blank: from the file)."""
    return FrameSource(Path(clip.source_path), first, stop, input_colorspace=clip.input_colorspace or None)


def job_execute(*, job_id: int, worker: str) -> Proposal | None:
    """Run the engine for a job and store its result: the fix request's next proposal version,
    or, for a fix that reports findings (a continuity check), its continuity findings.

    Returns the proposal, or None when none was made: a check's findings were stored, or the
    job had ended already (a redelivered message), was cancelled (partial output removed), or
    failed — engine errors (unreadable footage, bad parameters) end it as failed with the
    engine's message. Raises ``JobBusy`` while another worker holds the job's lease; unexpected
    errors fail the job and propagate.
    """
    job = _job_start(job_id, worker)
    if job is None:
        return None
    fix_request = FixRequest.objects.select_related("shot__clip", "reference_shot__clip").get(pk=job.fix_request_id)
    with Lease(Job, job.pk, worker=job.worker, attempts=job.attempts) as lease:
        if job.stage == JobStage.MASK:
            _mask_job_execute(job, fix_request, lease)
            return None
        return _fix_job_execute(job, fix_request, lease)


def _fix_job_execute(job: Job, fix_request: FixRequest, lease: Lease) -> Proposal | None:
    """One attempt at a fix job (:func:`job_execute`), for as long as it holds ``lease``."""
    spec = fix_spec(fix_request.kind)
    final_dir = proposal_media_dir(job.pk)
    staging = media_path(final_dir).with_name(f".staging-job-{job.pk}-{job.attempts}")
    for earlier in staging.parent.glob(f".staging-job-{job.pk}-*"):
        if earlier != staging:  # an earlier attempt's, whose worker died (or lost its lease) mid-job
            shutil.rmtree(earlier, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    writer = _ProposalWriter(staging)
    monitor = _JobMonitor(job, writer, lease)
    reference = fix_request.reference_shot
    parameters, pinned = engine_parameters(fix_request.parameters)
    params = spec.params_type.from_dict(parameters)
    # Colour spaces, working spaces, review views and measurements in the production's OCIO config.
    with colour.use_config(production_ocio_config(job.production)):
        try:
            params, learned = _with_learned_model(job, spec.learned_model_kind, params, pinned)
            shot = _clip_source(fix_request.shot.clip, fix_request.frame_in, fix_request.frame_out)
            writer.colorspace = shot.colorspace
            writer.encoding = shot.encoding
            writer.open_views(shot.colorspace)
            mask_sequence = (stored_mask_sequence(fix_request) if spec.uses_mask_sequence
                             and spec.mask_sequence_applies(fix_request.parameters) else None)
            run = RUNS[fix_request.kind]
            result = run.run(FixInputs(
                shot=shot,
                reference=_clip_source(reference.clip, reference.source_in, reference.source_out) if reference else None,
                params=params,
                look_path=look_model_file(job.production, params.look_model) if spec.needs_look_model else None,
                sink=writer,
                progress=monitor.progress,
                should_cancel=monitor.should_cancel,
                mask=fix_request.mask,
                clean_plate=_clean_plate_source(fix_request) if spec.needs_clean_plate(fix_request.parameters) else None,
                matte_sink=writer.matte,
                mask_sink=writer.mask,
                mask_sequence=mask_sequence,
            ))
            if spec.learned_model_kind:
                result.measurements["learned_model"] = _learned_model_named(spec.learned_model_kind, learned, result)
            if spec.reports_findings:
                document = continuity.write_findings(result, staging / "findings.json")
            else:
                if writer.first is None:
                    raise EngineError("The fix produced no frames.")
                cv2.imwrite(str(staging / "region.png"), result.region.astype(np.uint8) * 255)
                (staging / REGION_OUTLINE_FILE).write_text(json.dumps(trace_region_outline(staging / "region.png")))
                for name, data in run.extra_files(result).items():
                    (staging / name).write_bytes(data)
                if mask_sequence is not None:  # the mask it was made with, kept with the proposal
                    shutil.copytree(mask_sequence, staging / SEGMENTATION_DIR)
                metrics = with_measurement_view(result.measurements, shot)
        except (OperationalError, InterfaceError):
            # Transient database trouble: the task retries, and takes the job over once its lease
            # has run out.
            shutil.rmtree(staging, ignore_errors=True)
            raise
        except Exception as error:
            shutil.rmtree(staging, ignore_errors=True)
            if end_after_error(error, lease, functools.partial(_job_end, job), what=f"job {job.pk}",
                               again=_RETRY_THE_JOB.format(job=job.pk)):
                raise
            return None
        except BaseException:  # the worker stopping (SystemExit, KeyboardInterrupt): the lease runs out
            shutil.rmtree(staging, ignore_errors=True)
            raise

    with transaction.atomic():
        if not lease.held():
            shutil.rmtree(staging, ignore_errors=True)
            return None  # lost to another attempt while rendering: one proposal per job, that one's
        FixRequest.objects.select_for_update().filter(pk=fix_request.pk).first()
        target = media_path(final_dir)
        shutil.rmtree(target, ignore_errors=True)
        staging.replace(target)
        job.state = JobState.SUCCEEDED
        job.finished_at = timezone.now()
        job.frames_done = job.frames_total
        job.save(update_fields=["state", "finished_at", "frames_done"])
        if spec.reports_findings:
            FixRequest.objects.filter(pk=fix_request.pk).update(status=FixRequestStatus.CHECKED)
            _store_findings(job, fix_request, document, final_dir)
            _broadcast(job)
            return None
        FixRequest.objects.filter(pk=fix_request.pk).update(status=FixRequestStatus.IN_REVIEW)
        latest = Proposal.objects.filter(fix_request=fix_request).aggregate(v=Max("version"))["v"] or 0
        proposal = Proposal.objects.create(
            production=job.production,
            fix_request=fix_request,
            job=job,
            version=latest + 1,
            # The frames the fix rendered: the fix request's, or one frame for a clean plate.
            frame_in=writer.first,
            frame_out=writer.last + 1,
            media_dir=final_dir,
            region_fraction=float(result.region.mean()),
            metrics=metrics,
            parameters=fix_request.parameters,
            method=spec.method_for(fix_request.parameters),
        )
        audit_record(production=job.production, actor=None, action="proposal.create", target=proposal,
                     payload={"job": job.pk, "version": proposal.version_label, "metrics": metrics})
        proposal_supersede_older(proposal=proposal)
        if not fix_request.likeness_screening and states.screening_may_raise(fix_request.kind):
            _enqueue_likeness_screening(fix_request)
        _broadcast(job)
        events.broadcast(events.production_group(job.production_id), "proposal",
                         {"id": proposal.pk, "fix_request": fix_request.pk, "version": proposal.version_label})
    return proposal


#: The engine parameter that takes the file of a learned model of each kind.
_MODEL_FILE_PARAMETER = {"inpaint": "inpaint_model", "upscale": "model"}


def _with_learned_model(job: Job, kind: str | None, params, pinned: int | None):
    """``(params, model)``: the engine parameters naming the file of the learned model the job
    uses — the one its fix request pins, else :func:`learned_model_pick`'s — and that model
    (None: the classical method). Raises ``EngineError`` when the pinned model is no longer
    one the production can use."""
    if kind is None:
        return params, None
    try:
        if pinned is not None:
            model = learned_model_of(job.production, pinned, kind)
        else:
            scale = params.size[0] / params.box[2] if kind == "upscale" else None
            model = learned_model_pick(job.production, kind, scale=scale)
    except ServiceError as error:
        raise EngineError(str(error)) from None
    if model is None:
        return params, None
    return dataclasses.replace(params, **{_MODEL_FILE_PARAMETER[kind]: str(media_path(model.file_path))}), model


def _learned_model_named(kind: str, model, result) -> str:
    """What filled the removal's unseen pixels or upscaled the reframe, for the proposal: the
    learned model's version (``inpaint v003``), or the classical method."""
    if model is None:
        return CLASSICAL[kind]
    used = result.measurements.get("inpaint_model_used" if kind == "inpaint" else "upscaler") == 1.0
    if used:
        return model.label
    return f"{CLASSICAL[kind]} ({model.label} did not beat it on its held-out frames)"


def _mask_job_execute(job: Job, fix_request: FixRequest, lease: Lease) -> None:
    """Run a mask job (``reviews.worker.masks``): the mask sequence is stored, progress goes to
    the production's group like a fix's; engine errors (an empty corrected mask, unreadable
    footage) fail the job with the engine's message. An attempt that lost ``lease`` leaves the
    job to the attempt that owns it."""
    monitor = _JobMonitor(job, None, lease)
    try:
        with colour.use_config(production_ocio_config(job.production)):  # the clip read as its jobs read it
            shot = _clip_source(fix_request.shot.clip, fix_request.frame_in, fix_request.frame_out)
            media_dir = mask_sequence_make(job, fix_request, shot, progress=monitor.progress,
                                           should_cancel=monitor.should_cancel)
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:
        if end_after_error(error, lease, functools.partial(_job_end, job), what=f"mask job {job.pk}",
                           again=_RETRY_THE_JOB.format(job=job.pk)):
            raise
        return
    with transaction.atomic():
        if not lease.held():
            return  # the owning attempt writes the job's mask sequence (the same folder, the same masks)
        job.state = JobState.SUCCEEDED
        job.finished_at = timezone.now()
        job.frames_done = job.frames_total
        job.save(update_fields=["state", "finished_at", "frames_done"])
        audit_record(production=job.production, actor=None, action="job.succeeded", target=job,
                     payload={"stage": JobStage.MASK, "media_dir": media_dir,
                              "strokes": len(fix_request.mask_strokes)})
        _broadcast(job)
        events.broadcast(events.production_group(job.production_id), "mask",
                         {"job": job.pk, "fix_request": fix_request.pk})


def _clean_plate_source(fix_request: FixRequest) -> FrameSource:
    """The shot's clean plate (``plate.png`` of :func:`selectors.clean_plate_of`) as a one-frame
    source. Raises ``EngineError`` when the shot has none (it was rejected since the request)."""
    plate = selectors.clean_plate_of(fix_request.shot)
    if plate is None:
        raise EngineError(f"Shot {fix_request.shot.code} has no clean plate in review or approved: "
                          f"file a clean plate fix on it, then retry this job.")
    return FrameSource(media_path(plate.media_dir) / "plate.png")


def _store_findings(job: Job, fix_request: FixRequest, document: dict, media_dir: str) -> None:
    """Store a continuity check's findings (FINDINGS.json as :func:`engine.fixes.continuity.write_findings`
    wrote it, crops and masks beside it in ``media_dir``) and audit them. An object's outline (its
    mask's polygon, in shot B's pixels) is kept in the finding's details as ``outline``."""
    findings = ContinuityFinding.objects.bulk_create(
        ContinuityFinding(production=job.production, fix_request=fix_request, job=job, kind=entry["kind"],
                          frames_a=entry["frames_a"], frames_b=entry["frames_b"], box=entry["box"],
                          confidence=entry["confidence"], media_dir=media_dir,
                          details={**entry["details"], **({"outline": entry["outline"]} if entry.get("outline") else {})},
                          crop_a=entry["crop_a"], crop_b=entry["crop_b"])
        for entry in document["findings"])
    audit_record(production=job.production, actor=None, action="continuity.findings", target=fix_request,
                 payload={"job": job.pk, "findings": [{"kind": f.kind, "box": f.box, "confidence": f.confidence}
                                                      for f in findings],
                          "measurements": document["measurements"]})
    events.broadcast(events.production_group(job.production_id), "findings",
                     {"fix_request": fix_request.pk, "shot": fix_request.shot_id, "count": len(findings)})

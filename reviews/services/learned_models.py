"""Learned models, the web side: a production's inpainting and upscale models (issues #19 and
#26), versioned per production like its look models (docs/adr/0014-production-model-versions.md).

A post supervisor asks for one to be trained on some of the production's shots
(:func:`learned_model_request`); a Celery worker trains it (``reviews.worker.training``, which
this module never imports: web processes stay free of torch and OpenCV,
docs/adr/0010-light-web-processes.md) with live progress and cancel
(:func:`learned_model_cancel`). Removal and reframe jobs pick the model they use with
:func:`learned_model_pick`, or use the one a fix request pins (:func:`learned_model_of`).
"""
import math

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from engine.errors import ParameterError
from engine.models.params import InpaintTrainParams, UpscaleTrainParams
from reviews import authz, events, tasks
from reviews.errors import Conflict, ServiceError
from reviews.models import JobState, LearnedModel, LearnedModelKind, Production, Shot

from .audit import audit_record

#: The engine's training parameters of each kind (checked here, on the web side, before queuing).
TRAIN_PARAMS = {LearnedModelKind.INPAINT: InpaintTrainParams, LearnedModelKind.UPSCALE: UpscaleTrainParams}
#: What a removal falls back to without a learned model, and what a reframe upscales with.
CLASSICAL = {LearnedModelKind.INPAINT: "classical fill", LearnedModelKind.UPSCALE: "Lanczos"}
#: A reframe whose box is at most this much smaller than the delivery frame is not upscaled
#: (``engine.fixes.reframe.render_frame``): no model is picked for it.
UPSCALE_FROM = 1.05


def learned_model_payload(model: LearnedModel) -> dict:
    """What browsers are told about a learned model and its training (production events, the page)."""
    return {"id": model.pk, "kind": model.kind, "label": model.label, "version": model.version, "name": model.name,
            "state": model.state, "state_label": model.get_state_display(), "steps_done": model.steps_done,
            "steps_total": model.steps_total, "error": model.error, "measurements": model.measurements,
            "beats_classical": model.beats_classical}


def learned_model_broadcast(model: LearnedModel) -> None:
    events.broadcast(events.production_group(model.production_id), "learned_model", learned_model_payload(model))


def steps_total(kind: str, params) -> int:
    """Adam steps a training of ``kind`` with these engine parameters takes (its progress' total)."""
    return params.steps if kind == LearnedModelKind.INPAINT else params.iterations * len(params.scales)


def learned_model_request(*, production: Production, kind: str, shots: list[Shot], actor: User, name: str,
                          parameters: dict | None = None) -> LearnedModel:
    """Queue the training of ``production``'s next ``kind`` model (``inpaint`` or ``upscale``) on
    ``shots`` (their source ranges); it goes to the ``gpu`` queue once the transaction commits.
    ``parameters`` are the engine's training parameters (:class:`engine.models.params.InpaintTrainParams`
    or :class:`~engine.models.params.UpscaleTrainParams`), missing ones taking their defaults.

    Returns the queued :class:`LearnedModel` (no version yet). Raises ``NotAllowed`` unless
    ``actor`` is the production's supervisor; ``ServiceError`` naming an unknown kind, no shots,
    a shot of another production, a blank name or the parameter that is wrong.
    """
    authz.require(actor, production, authz.TRAIN_MODEL)
    if kind not in TRAIN_PARAMS:
        raise ServiceError(f"Unknown model kind {kind!r}; choose one of {', '.join(TRAIN_PARAMS)}.")
    if not shots:
        raise ServiceError("Give at least one shot to learn from.")
    foreign = [shot.code for shot in shots if shot.production_id != production.pk]
    if foreign:
        raise ServiceError(f"Shot(s) {', '.join(foreign)} do not belong to {production.code}: a model learns only "
                           f"from its own production's footage.")
    if not name.strip():
        raise ServiceError("Give the model a name.")
    try:
        params = TRAIN_PARAMS[kind].from_dict(parameters or {})
    except ParameterError as error:
        raise ServiceError(f"Parameters: {error}") from None
    with transaction.atomic():
        model = LearnedModel.objects.create(
            production=production, kind=kind, name=name.strip(), parameters=params.to_dict(),
            steps_total=steps_total(kind, params), trained_by=actor, engine_version=settings.LOUPE_VERSION)
        model.shots.set(shots)
        audit_record(production=production, actor=actor, action="learned_model.request", target=model,
                     payload={"kind": kind, "name": model.name, "shots": [shot.code for shot in shots],
                              "parameters": model.parameters})
        learned_model_broadcast(model)
        pk = model.pk
        transaction.on_commit(lambda: tasks.learned_model_train_run.delay(pk))
    return model


def learned_model_cancel(*, learned_model: LearnedModel, actor: User) -> LearnedModel:
    """Cancel a training. A queued one ends at once; a running one is asked to stop, and its
    worker stops within a second or so, removes its partial file and marks it cancelled.

    Raises ``NotAllowed`` unless ``actor`` is the production's supervisor; ``Conflict`` if the
    training has ended.
    """
    authz.require(actor, learned_model.production, authz.TRAIN_MODEL)
    with transaction.atomic():
        model = LearnedModel.objects.select_for_update().select_related("production").get(pk=learned_model.pk)
        if model.is_finished:
            raise Conflict(f"The training of {model.label} has already {model.get_state_display().lower()}; "
                           f"there is nothing to cancel.")
        model.cancel_requested_at = now = model.cancel_requested_at or timezone.now()
        fields = ["cancel_requested_at"]
        if model.state == JobState.QUEUED:
            model.state, model.finished_at = JobState.CANCELLED, now
            fields += ["state", "finished_at"]
        model.save(update_fields=fields)
        audit_record(production=model.production, actor=actor, action="learned_model.cancel", target=model,
                     payload={"state": model.state})
        learned_model_broadcast(model)
    return model


def learned_model_of(production: Production, learned_model_id: object, kind: str) -> LearnedModel:
    """The trained ``kind`` model ``learned_model_id`` of ``production`` (a fix request pins one by id).

    Raises ``ServiceError`` naming what is wrong: not an id, not one of the production's models
    (another production's answers the same, confirming nothing), another kind, or not trained.
    """
    if isinstance(learned_model_id, bool) or not isinstance(learned_model_id, int):
        raise ServiceError(f"Parameters: learned_model must be the id of one of {production.code}'s "
                           f"{LearnedModelKind(kind).label.lower()}s, got {learned_model_id!r}.")
    model = production.learned_models.filter(pk=learned_model_id).first() if 0 < learned_model_id < 2**63 else None
    if model is None:
        raise ServiceError(f"Learned model {learned_model_id} is not one of {production.code}'s learned models.")
    if model.kind != kind:
        raise ServiceError(f"Learned model {learned_model_id} ({model.label}) is an "
                           f"{model.get_kind_display().lower()}; this fix needs an "
                           f"{LearnedModelKind(kind).label.lower()}.")
    if model.state != JobState.SUCCEEDED:
        raise ServiceError(f"Learned model {learned_model_id} has not been trained (its training is "
                           f"{model.get_state_display().lower()}).")
    return model


def nearest_scale(model: LearnedModel, scale: float) -> float:
    """The scale of ``model``'s networks nearest ``scale`` (the one the engine applies)."""
    return min(model.parameters["scales"], key=lambda trained: abs(math.log(trained / scale)))


def beats_lanczos(model: LearnedModel, scale: float) -> bool:
    """Whether the upscale model's network for ``scale`` beat Lanczos on its held-out frames."""
    name = f"x{nearest_scale(model, scale):g}"
    ours, lanczos = (model.measurements.get(f"psnr_{who}_db_{name}") for who in ("model", "lanczos"))
    return ours is not None and lanczos is not None and ours > lanczos


def learned_model_pick(production: Production, kind: str, *, scale: float | None = None) -> LearnedModel | None:
    """The model a job of ``production`` uses when its fix request pins none: the newest trained
    inpainting model that beat the classical fill on its held-out frames, or (``scale``: the
    reframe's delivery width ÷ box width) the newest upscale model whose network for that scale
    beat Lanczos on its held-out frames; None for the classical method (or a reframe not upscaled)."""
    trained = production.learned_models.filter(kind=kind, state=JobState.SUCCEEDED).order_by("-version")
    if kind == LearnedModelKind.INPAINT:
        return trained.filter(beats_classical=True).first()
    if scale is None or scale <= UPSCALE_FROM:
        return None
    return next((model for model in trained if beats_lanczos(model, scale)), None)

"""Look models, the worker side (queue ``gpu``): ``reviews.tasks.look_model_train_run`` and
``manage.py train_look`` train a production's next look model here, from pairs of its own
dailies."""
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max

from engine.errors import EngineError, ParameterError
from engine.media.decode import FrameSource
from engine.models import look as engine_look
from reviews import authz
from reviews.errors import ServiceError
from reviews.media import media_path
from reviews.models import LookModel, Production, Shot
from reviews.services.audit import audit_record


def look_model_train(*, production: Production, pairs: list[tuple[Shot, Shot]], actor: User, name: str,
                     parameters: dict | None = None) -> LookModel:
    """Train the production's next look model version from ``pairs`` of shots (camera original,
    graded — the same frames, e.g. a colourist's grade of hero frames) and store it as a
    ``.cube`` with its lineage. Every shot must belong to ``production``: a look learns only
    from its own production's footage.

    Raises ``NotAllowed`` unless ``actor`` is a supervisor or artist; ``ServiceError`` for no
    pairs, a shot of another production, invalid parameters or footage the engine cannot read.
    """
    authz.require(actor, production, authz.TRAIN_LOOK)
    if not pairs:
        raise ServiceError("Give at least one pair of shots: camera original and graded.")
    for source, graded in pairs:
        if source.production_id != production.pk or graded.production_id != production.pk:
            raise ServiceError(f"Shots {source.code} and {graded.code} must both belong to {production.code}: "
                               "a look model learns only from its own production's footage.")
    try:
        params = engine_look.LookTrainParams.from_dict(parameters or {})
        trained = engine_look.train_look(
            [(FrameSource(Path(s.clip.source_path), s.source_in, s.source_out),
              FrameSource(Path(g.clip.source_path), g.source_in, g.source_out)) for s, g in pairs],
            params=params, title=name,
        )
    except ParameterError as error:
        raise ServiceError(f"Parameters: {error}") from None
    except EngineError as error:
        raise ServiceError(str(error)) from None

    with transaction.atomic():
        version = (LookModel.objects.select_for_update().filter(production=production)
                   .aggregate(v=Max("version"))["v"] or 0) + 1
        cube_path = f"looks/{production.code}/v{version:03d}.cube"
        look_model = LookModel.objects.create(
            production=production, version=version, name=name, cube_path=cube_path,
            lineage=[dict(entry, source_shot=s.code, graded_shot=g.code)
                     for entry, (s, g) in zip(trained.lineage, pairs)],
            measurements=trained.measurements, parameters=params.to_dict(), trained_by=actor,
        )
        destination = media_path(cube_path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        trained.write_cube(destination)
        audit_record(production=production, actor=actor, action="look_model.train", target=look_model,
                     payload={"version": version, "pairs": [[s.code, g.code] for s, g in pairs],
                              "measurements": trained.measurements})
    return look_model

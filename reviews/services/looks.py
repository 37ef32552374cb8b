"""Look models: a production's own look, learned from pairs of its own dailies (trained on a
worker: ``reviews.worker.looks.look_model_train``)."""
from pathlib import Path

from reviews.errors import ServiceError
from reviews.media import media_path
from reviews.models import Production


def look_model_file(production: Production, look_model_id: int) -> Path:
    """The ``.cube`` file of one of ``production``'s look models (never another production's).
    Raises ``ServiceError`` if the production has no such look model."""
    look_model = production.look_models.filter(pk=look_model_id).first()
    if look_model is None:
        raise ServiceError(f"Look model {look_model_id} is not one of {production.code}'s look models.")
    return media_path(look_model.cube_path)

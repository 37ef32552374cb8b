"""Reads of footage and refused attempts, recorded.

``media.view``: every media file served (thumbnail, review frame, proposal frame) is an audit
event of its production — one small row in the request's own short transaction.
``access.denied``: a refused attempt is an event of the production it aimed at when that
production exists (found by its code or the object's id, never said to the person: their
answer is the same 404 as for something that does not exist); otherwise a log line.
"""
import logging

from django.contrib.auth.models import AnonymousUser, User
from django.db import models, transaction

from reviews.models import Production

from .audit import audit_record

logger = logging.getLogger("reviews.access")


def _actor(user: User | AnonymousUser | None) -> User | None:
    return user if user is not None and user.is_authenticated else None


@transaction.atomic
def media_view_record(*, production: Production, actor: User, target: models.Model, media: str) -> None:
    """Audit one read of a media file (``media``: its path under MEDIA_ROOT) of ``target``."""
    audit_record(production=production, actor=actor, action="media.view", target=target, payload={"media": media})


def access_denied_record(*, actor: User | AnonymousUser | None, method: str, path: str, reason: str,
                         production_code: str | None = None, target_model: type[models.Model] | None = None,
                         target_id: int | None = None) -> None:
    """Record a refused request for ``path``: an ``access.denied`` event in the production it
    aimed at (that of the ``target_model`` row ``target_id``, else the one coded
    ``production_code``) if it exists, else a warning log line. ``reason``: ``not signed in``,
    ``not a member``, ``role`` or ``second factor``."""
    target = None
    if target_model is not None and target_id is not None:
        target = target_model.objects.select_related("production").filter(pk=target_id).first()
    production = target.production if target is not None else None
    if production is None and production_code:
        production = Production.objects.filter(code=production_code).first()
    user_id = _actor(actor).pk if _actor(actor) else None
    if production is None:
        logger.warning("access denied user=%s %s %s reason=%s (no such production)", user_id, method, path, reason)
        return
    with transaction.atomic():
        audit_record(production=production, actor=_actor(actor), action="access.denied",
                     target=target if target is not None else production,
                     payload={"method": method, "path": path, "reason": reason})
    logger.warning("access denied user=%s %s %s reason=%s production=%s", user_id, method, path, reason,
                   production.code)

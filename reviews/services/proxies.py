"""Browser review proxies of clips: queued after ingest, made by a task on the ``default`` queue
(``reviews.worker.proxies.clip_proxy_make``).

A proxy (``clips/<id>/proxy.mp4``, see ``reviews.media``) is the clip re-encoded as H.264 at
review width, frame for frame (``engine.media.proxy``): frame N of the proxy is frame N of the
original. Its state and progress (frames done) live on the Clip and are broadcast to the
production's browsers as ``clip.proxy`` events.
"""
from django.conf import settings
from django.db import transaction

from reviews import events
from reviews.models import Clip


def proxy_event(clip: Clip) -> dict:
    """What browsers are told about a clip's proxy (the ``clip.proxy`` event's data)."""
    return {"clip": clip.pk, "state": clip.proxy_state, "frames_done": clip.proxy_frames_done,
            "frames_total": clip.frame_count, "error": clip.proxy_error}


def proxy_state_write(clip: Clip, **fields) -> None:
    """Set ``fields`` (proxy state, frames done, error) on ``clip`` and tell its production's
    browsers (a ``clip.proxy`` event once saved)."""
    for name, value in fields.items():
        setattr(clip, name, value)
    with transaction.atomic():
        clip.save(update_fields=list(fields))
        events.broadcast(events.production_group(clip.production_id), "clip.proxy", proxy_event(clip))


def clip_proxy_enqueue(clip: Clip) -> None:
    """Queue the making of ``clip``'s proxy once the current transaction commits (no-op when
    ``LOUPE_REVIEW_PROXIES`` is off)."""
    if not settings.LOUPE_REVIEW_PROXIES:
        return
    from reviews.tasks import clip_proxy_run

    transaction.on_commit(lambda: clip_proxy_run.delay(clip.pk))

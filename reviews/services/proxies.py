"""Browser review proxies of clips: made after ingest by a task on the ``default`` queue.

A proxy (``clips/<id>/proxy.mp4``, see ``reviews.media``) is the clip re-encoded as H.264 at
review width, frame for frame (``engine.media.proxy``): frame N of the proxy is frame N of the
original. Its state and progress (frames done) live on the Clip and are broadcast to the
production's browsers as ``clip.proxy`` events.
"""
import logging
import time

from django.conf import settings
from django.db import transaction

from engine.errors import EngineError
from reviews import events
from reviews.media import clip_proxy_path
from reviews.models import Clip, ProxyState
from reviews.services.ocio_configs import production_ocio_config

logger = logging.getLogger(__name__)

#: Progress is written and broadcast at most this often (seconds), plus on the last frame.
PROGRESS_INTERVAL_S = 0.5


def proxy_event(clip: Clip) -> dict:
    """What browsers are told about a clip's proxy (the ``clip.proxy`` event's data)."""
    return {"clip": clip.pk, "state": clip.proxy_state, "frames_done": clip.proxy_frames_done,
            "frames_total": clip.frame_count, "error": clip.proxy_error}


def _set(clip: Clip, **fields) -> None:
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


def clip_proxy_make(*, clip_id: int) -> Clip | None:
    """Encode clip ``clip_id``'s review proxy, recording state and progress on the Clip.

    Returns the clip, or None when it no longer exists (deleted before the task ran). A proxy
    already made is not made again. An unreadable original ends in ``failed`` with the
    engine's message; the proxy file is written atomically, so it is whole or absent.
    """
    # on the worker only: web processes stay free of OpenCV (docs/adr/0010-light-web-processes.md)
    from engine.media import colour
    from engine.media.decode import FrameSource
    from engine.media.proxy import write_review_proxy

    clip = Clip.objects.filter(pk=clip_id).first()
    if clip is None:
        logger.warning("proxy of clip %s not made: the clip no longer exists", clip_id)
        return None
    path = clip_proxy_path(clip.pk)
    if clip.proxy_state == ProxyState.READY and path.exists():
        return clip
    _set(clip, proxy_state=ProxyState.RUNNING, proxy_frames_done=0, proxy_error="")
    last_report = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_report
        if done == total or time.monotonic() - last_report >= PROGRESS_INTERVAL_S:
            last_report = time.monotonic()
            _set(clip, proxy_frames_done=done)

    try:
        with colour.use_config(production_ocio_config(clip.production)):
            source = FrameSource(clip.source_path, input_colorspace=clip.input_colorspace or None)
            write_review_proxy(source, path, max_width=settings.LOUPE_REVIEW_WIDTH, progress=progress)
    except EngineError as error:
        logger.warning("proxy of clip %s failed: %s", clip.pk, error)
        _set(clip, proxy_state=ProxyState.FAILED, proxy_error=str(error))
        return clip
    _set(clip, proxy_state=ProxyState.READY)
    return clip

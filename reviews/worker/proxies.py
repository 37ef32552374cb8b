"""Browser review proxies, the worker side (queue ``default``): ``reviews.tasks.clip_proxy_run``
runs ``clip_proxy_make`` after ingest queued it (``reviews.services.proxies.clip_proxy_enqueue``).

A proxy (``clips/<id>/proxy.mp4``, see ``reviews.media``) is the clip re-encoded as H.264 at
review width, frame for frame (``engine.media.proxy``): frame N of the proxy is frame N of the
original. Its state and progress (frames done) live on the Clip and are broadcast to the
production's browsers as ``clip.proxy`` events.
"""
import logging
import time

from django.conf import settings

from engine.errors import EngineError
from engine.media import colour
from engine.media.decode import FrameSource
from engine.media.proxy import write_review_proxy
from reviews.media import clip_proxy_path
from reviews.models import Clip, ProxyState
from reviews.services.ocio_configs import production_ocio_config
from reviews.services.proxies import proxy_state_write

logger = logging.getLogger(__name__)

#: Progress is written and broadcast at most this often (seconds), plus on the last frame.
PROGRESS_INTERVAL_S = 0.5


def clip_proxy_make(*, clip_id: int) -> Clip | None:
    """Encode clip ``clip_id``'s review proxy, recording state and progress on the Clip.

    Returns the clip, or None when it no longer exists (deleted before the task ran). A proxy
    already made is not made again. An unreadable original ends in ``failed`` with the
    engine's message; the proxy file is written atomically, so it is whole or absent.
    """
    clip = Clip.objects.filter(pk=clip_id).first()
    if clip is None:
        logger.warning("proxy of clip %s not made: the clip no longer exists", clip_id)
        return None
    path = clip_proxy_path(clip.pk)
    if clip.proxy_state == ProxyState.READY and path.exists():
        return clip
    proxy_state_write(clip, proxy_state=ProxyState.RUNNING, proxy_frames_done=0, proxy_error="")
    last_report = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_report
        if done == total or time.monotonic() - last_report >= PROGRESS_INTERVAL_S:
            last_report = time.monotonic()
            proxy_state_write(clip, proxy_frames_done=done)

    try:
        with colour.use_config(production_ocio_config(clip.production)):
            source = FrameSource(clip.source_path, input_colorspace=clip.input_colorspace or None)
            write_review_proxy(source, path, max_width=settings.LOUPE_REVIEW_WIDTH, progress=progress)
    except EngineError as error:
        logger.warning("proxy of clip %s failed: %s", clip.pk, error)
        proxy_state_write(clip, proxy_state=ProxyState.FAILED, proxy_error=str(error))
        return clip
    proxy_state_write(clip, proxy_state=ProxyState.READY)
    return clip

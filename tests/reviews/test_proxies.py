"""Browser review proxies: made on the default queue after ingest, frame for frame with the
original (frame N of the proxy is frame N of the original), their progress on the clip."""
import shutil
import time

import cv2
import numpy as np
import pytest
from django.conf import settings
from django.test import Client

from engine.media.decode import FrameSource, read_frame
from engine.media.probe import probe
from reviews.media import clip_proxy_path
from reviews.models import Clip, ProxyState
from reviews.services.clips import clip_ingest
from reviews.worker.proxies import clip_proxy_make


def _difference(proxy_frame: np.ndarray, original: np.ndarray) -> float:
    size = (proxy_frame.shape[1], proxy_frame.shape[0])
    return float(np.abs(proxy_frame.astype(np.float32) - cv2.resize(original, size, interpolation=cv2.INTER_AREA)).mean())


@pytest.mark.django_db
@pytest.mark.parametrize("original", ["clips/harmonizer_aerial_dusk_lowlight.mp4", "vos/tennis/frames"],
                         ids=["1080p-video", "png-sequence"])
def test_a_proxy_has_every_frame_of_the_original_in_place(production, people, footage, original):
    frames = footage / original
    clip = clip_ingest(production=production, path=frames, actor=people["supervisor"])
    assert clip.proxy_state == ProxyState.QUEUED

    clip_proxy_make(clip_id=clip.pk)

    clip.refresh_from_db()
    assert clip.proxy_state == ProxyState.READY and clip.proxy_frames_done == clip.frame_count
    path = clip_proxy_path(clip.pk)
    facts = probe(path)
    assert facts.frame_count == clip.frame_count and facts.frame_rate == clip.frame_rate
    assert facts.width <= settings.LOUPE_REVIEW_WIDTH
    originals = dict(FrameSource(frames).frames())
    for number in (1, clip.frame_count // 2, clip.frame_count - 2):
        proxy_frame = read_frame(path, number)
        here = _difference(proxy_frame, originals[number])
        # Off by one frame either way would show the motion (the drone's, the player's).
        neighbours = min(_difference(proxy_frame, originals[number - 1]), _difference(proxy_frame, originals[number + 1]))
        assert here < 0.6 * neighbours, (number, here, neighbours)


@pytest.mark.django_db
def test_an_original_that_became_unreadable_fails_its_proxy_with_the_reason(production, people, footage, tmp_path):
    copy = tmp_path / "cups.mp4"
    shutil.copyfile(footage / "clips" / "sam2_02_cups.mp4", copy)
    clip = clip_ingest(production=production, path=copy, actor=people["supervisor"])
    with copy.open("r+b") as original:  # the storage lost the second half of the file
        original.truncate(copy.stat().st_size // 2)

    clip_proxy_make(clip_id=clip.pk)

    clip.refresh_from_db()
    assert clip.proxy_state == ProxyState.FAILED
    assert "cups.mp4" in clip.proxy_error
    assert not clip_proxy_path(clip.pk).exists()
    assert not list(clip_proxy_path(clip.pk).parent.glob(".proxy*"))  # no partial file left behind


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.CHANNEL_LAYER_IS_SHARED, reason="needs Redis (REDIS_URL) for a real broker")
def test_ingest_queues_the_proxy_and_a_worker_makes_it(celery_worker_process, production, people, footage, settings):
    settings.LOUPE_REVIEW_PROXIES = True
    clip = clip_ingest(production=production, path=footage / "vos" / "tennis" / "frames", actor=people["supervisor"])

    deadline = time.monotonic() + 90
    while Clip.objects.get(pk=clip.pk).proxy_state != ProxyState.READY:
        assert time.monotonic() < deadline, "the default queue's worker did not make the proxy in 90 s"
        assert Clip.objects.get(pk=clip.pk).proxy_state != ProxyState.FAILED, Clip.objects.get(pk=clip.pk).proxy_error
        time.sleep(0.25)

    member, outsider = Client(), Client()
    member.force_login(people["director"])
    outsider.force_login(people["outsider"])
    response = member.get(f"/media/clips/{clip.pk}/proxy.mp4")
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == clip_proxy_path(clip.pk).read_bytes()
    assert outsider.get(f"/media/clips/{clip.pk}/proxy.mp4").status_code == 404

"""Metrics for Prometheus (portal/metrics.py, reviews/metrics.py), read back from the exposition
a scrape gets: HTTP requests by view, queue depth from the real broker, WebSocket connections
and frames streamed from a real review room, job durations and failures from a real job."""
import json

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from portal.metrics import exposition

pytestmark = pytest.mark.django_db


def sample(name: str, **labels) -> float:
    """The value of the sample ``name`` with ``labels`` in a scrape (0 when absent)."""
    for family in text_string_to_metric_families(Client().get("/metrics").content.decode()):
        for each in family.samples:
            if each.name == name and all(each.labels.get(key) == value for key, value in labels.items()):
                return each.value
    return 0.0


def test_http_requests_are_counted_and_timed_by_view_name():
    before = sample("loupe_http_requests_total", view="healthz", method="GET", status="200")
    timed_before = sample("loupe_http_request_duration_seconds_count", view="healthz", method="GET")
    for _ in range(3):
        Client().get("/healthz")
    assert sample("loupe_http_requests_total", view="healthz", method="GET", status="200") == before + 3
    assert sample("loupe_http_request_duration_seconds_count", view="healthz", method="GET") == timed_before + 3


def test_queue_depth_is_read_from_the_broker(settings):
    """Three messages waiting in a queue of their own show as its depth."""
    from portal.celery import broker_connection

    queue = "ops-test-depth"
    settings.CELERY_TASK_ROUTES = dict(settings.CELERY_TASK_ROUTES, **{"tests.depth_probe": {"queue": queue}})
    with broker_connection(timeout_s=5) as connection:
        channel = connection.default_channel
        channel.queue_declare(queue=queue, durable=True, auto_delete=False)
        channel.queue_purge(queue)
        try:
            producer = connection.Producer(channel)
            for number in range(3):
                producer.publish({"n": number}, routing_key=queue, exchange="")
            assert sample("loupe_broker_up") == 1
            assert sample("loupe_queue_depth", queue=queue) == 3
            assert sample("loupe_queue_depth", queue="gpu") >= 0
        finally:
            channel.queue_purge(queue)


def test_scrape_survives_an_unreachable_broker(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    text = exposition().decode()
    assert "loupe_broker_up 0.0" in text
    assert "loupe_queue_depth{" not in text


@pytest.mark.django_db(transaction=True)
def test_review_room_connections_and_frames_streamed_are_counted(small_proposal, people):
    from tests.reviews.helpers import receive_frames, websocket

    opened = sample("loupe_websocket_connections_total", route="review")
    frames = sample("loupe_frames_streamed_total", route="review")
    sent_bytes = sample("loupe_frames_streamed_bytes_total", route="review")

    socket = websocket(f"/ws/review/{small_proposal.pk}/", people["director"])

    async def review(open_now: list):
        connected, _ = await socket.connect()
        assert connected
        open_now.append(sample_async_safe("loupe_websocket_connections_open", route="review"))
        await socket.send_to(text_data=json.dumps({"type": "frame", "frame": small_proposal.frame_in}))
        got = await receive_frames(socket, 2)
        await socket.disconnect()
        return got

    open_now: list[float] = []
    got = async_to_sync(review)(open_now)
    assert open_now == [1]
    assert sample("loupe_websocket_connections_total", route="review") == opened + 1
    assert sample("loupe_websocket_connections_open", route="review") == 0
    assert sample("loupe_frames_streamed_total", route="review") == frames + 2
    assert sample("loupe_frames_streamed_bytes_total", route="review") > sent_bytes + sum(
        image.size for _, image in got) / 100  # JPEG bytes: far fewer than pixels, but not nothing


def sample_async_safe(name: str, **labels) -> float:
    """``sample`` from inside an event loop: the exposition is read directly, not through a request."""
    for family in text_string_to_metric_families(exposition(queues=False).decode()):
        for each in family.samples:
            if each.name == name and all(each.labels.get(key) == value for key, value in labels.items()):
                return each.value
    return 0.0


def test_job_duration_and_failure_are_recorded_per_fix_kind_once(fix_request, people):
    """A real job that fails (its reference shot's frames are gone) is counted once as failed —
    its redelivery counts nothing."""
    from reviews.models import Job
    from reviews.tasks import job_run

    shot = fix_request.reference_shot
    shot.clip.source_path = "/nonexistent/reference.mp4"
    shot.clip.save(update_fields=["source_path"])
    failures = sample("loupe_job_failures_total", kind="color_match")
    timed = sample("loupe_job_duration_seconds_count", kind="color_match", state="failed")
    job = Job.objects.create(production=fix_request.production, fix_request=fix_request,
                             frames_total=fix_request.duration_frames, created_by=people["artist"])
    job_run.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == "failed"
    assert sample("loupe_job_failures_total", kind="color_match") == failures + 1
    assert sample("loupe_job_duration_seconds_count", kind="color_match", state="failed") == timed + 1
    job_run.apply(args=[job.pk])  # a redelivery of the ended job
    assert sample("loupe_job_failures_total", kind="color_match") == failures + 1

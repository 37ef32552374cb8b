"""Liveness and readiness (portal/health.py) against the real database, Redis and media folder —
and a Redis that does not answer, which makes the process not ready (503) and names the checks."""
import socket

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_liveness_answers_without_looking_at_dependencies(settings):
    settings.MEDIA_ROOT = "/nonexistent/loupe-media"  # a broken dependency does not make it dead
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"alive": True}


def test_ready_when_every_dependency_answers():
    response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["ready"] is True
    assert set(body["checks"]) == {"database", "channel_layer", "broker", "media"}
    assert all(check["ok"] for check in body["checks"].values())


def test_not_ready_when_redis_is_unreachable(settings):
    unreachable = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                           "CONFIG": {"hosts": [{"address": unreachable}]}}}
    settings.CELERY_BROKER_URL = unreachable
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["ready"] is False
    assert body["checks"]["channel_layer"]["ok"] is False
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["media"]["ok"] is True
    assert "Connection" in body["checks"]["channel_layer"]["detail"]


def test_not_ready_when_media_storage_is_missing(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "not-mounted"
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["media"] == {"ok": False, "detail": f"OSError: {tmp_path / 'not-mounted'} is not a folder"}


def test_probes_are_not_redirected_to_https(settings):
    """Behind TLS (SECURE_SSL_REDIRECT), probes still reach web processes over plain HTTP."""
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get("/healthz").status_code == 200
    assert Client().get("/productions/").status_code == 301

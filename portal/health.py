"""Liveness and readiness of a web process, for load balancers and orchestrators.

- ``GET /healthz`` (liveness): the process answers; nothing else is looked at, so a database
  outage does not get every web process restarted.
- ``GET /readyz`` (readiness): the database, the channel layer's Redis, the Celery broker and the
  media storage are reachable from this process. ``200`` when all are, else ``503``; the body
  names each check: ``{"ready": bool, "checks": {"database": {"ok": bool, "detail": str}, ...}}``.
  The checks run at once, each given ``LOUPE_READY_TIMEOUT_S`` seconds (a hung NFS mount or a
  dropped packet is a failure, not a hung probe).
"""
import asyncio
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def check_database() -> str:
    """``SELECT 1`` on the default database. Runs in a thread of its own (``readiness``): it
    closes that thread's connection afterwards, so probes leave no connection behind."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return connection.vendor
    finally:
        connection.close()


def check_channel_layer() -> str:
    """Pings each Redis host of the channel layer (``CHANNEL_LAYERS['default']``)."""
    import redis

    layer = settings.CHANNEL_LAYERS["default"]
    hosts = layer.get("CONFIG", {}).get("hosts")
    if not hosts:
        return f"{layer['BACKEND'].rsplit('.', 1)[-1]} (in this process)"
    for host in hosts:
        address = host["address"] if isinstance(host, dict) else host
        if not isinstance(address, str):
            address = f"redis://{address[0]}:{address[1]}"
        client = redis.Redis.from_url(address, socket_timeout=settings.LOUPE_READY_TIMEOUT_S,
                                      socket_connect_timeout=settings.LOUPE_READY_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    return f"{len(hosts)} Redis host(s) answered"


def check_broker() -> str:
    from portal.celery import broker_connection

    with broker_connection(timeout_s=settings.LOUPE_READY_TIMEOUT_S) as broker:
        broker.ensure_connection(max_retries=1, interval_start=0)
        return broker.as_uri()


def check_media() -> str:
    """MEDIA_ROOT is a folder this process can write to (workers write there, web processes
    read): a probe file is written and removed."""
    root = Path(settings.MEDIA_ROOT)
    if not root.is_dir():
        raise OSError(f"{root} is not a folder")
    probe = root / f".readyz-{os.getpid()}-{uuid.uuid4().hex}"
    probe.write_bytes(b"")
    probe.unlink()
    return str(root)


CHECKS = {"database": check_database, "channel_layer": check_channel_layer, "broker": check_broker,
          "media": check_media}


async def _run(check) -> dict:
    try:
        detail = await asyncio.wait_for(asyncio.to_thread(check), timeout=settings.LOUPE_READY_TIMEOUT_S)
    except TimeoutError:
        return {"ok": False, "detail": f"no answer within {settings.LOUPE_READY_TIMEOUT_S} s"}
    except Exception as error:  # noqa: BLE001 — any failure of a dependency makes the process not ready
        return {"ok": False, "detail": f"{type(error).__name__}: {error}"}
    return {"ok": True, "detail": detail}


async def readiness() -> dict:
    """Every check's outcome, run concurrently: ``{name: {"ok": bool, "detail": str}}``."""
    outcomes = await asyncio.gather(*(_run(check) for check in CHECKS.values()))
    return dict(zip(CHECKS, outcomes))


async def readyz(request):
    checks = await readiness()
    ready = all(outcome["ok"] for outcome in checks.values())
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)


async def healthz(request):
    return JsonResponse({"alive": True})

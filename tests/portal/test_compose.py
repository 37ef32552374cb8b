"""deploy/compose.yaml agrees with the code and with deploy/nginx.conf (no container runtime is
needed to check that): every worker queue the settings route to is consumed, every long-running
service restarts and has a health check, what nginx reads is mounted where nginx.conf says, and
the web processes hand media to nginx through the location nginx keeps internal."""
import re

import yaml

from portal.celery import queue_names
from portal.processes import NGINX_CONF
from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
LONG_RUNNING = [name for name in SERVICES if name != "migrate"]


def test_every_routed_queue_has_a_worker_service():
    consumed = set()
    for service in SERVICES.values():
        command = service.get("command", [])
        if command[:1] == ["worker"]:
            consumed.update(command[command.index("-Q") + 1].split(","))
    assert consumed == set(queue_names()) == {"gpu", "default"}


def test_services_restart_and_report_health():
    for name in LONG_RUNNING:
        assert SERVICES[name]["restart"] == "unless-stopped", name
        assert SERVICES[name]["healthcheck"]["test"], name
    assert "/readyz" in " ".join(SERVICES["web-1"]["healthcheck"]["test"])


def test_two_web_processes_are_nginx_upstreams():
    upstreams = re.findall(r"server (web-\d):8000", NGINX_CONF.read_text())
    assert upstreams == ["web-1", "web-2"]
    assert all(upstream in SERVICES for upstream in upstreams)


def test_nginx_mounts_what_its_config_reads():
    config = NGINX_CONF.read_text()
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in SERVICES["nginx"]["volumes"]}
    assert mounts["/etc/nginx/nginx.conf"] == "./nginx.conf"
    for folder in ("/etc/nginx/tls", "/srv/loupe/static", "/srv/loupe/media"):
        assert folder + "/" in config and folder in mounts, folder
    # Media and static are the same named volumes the web processes and workers use.
    assert mounts["/srv/loupe/media"] == "media" and mounts["/srv/loupe/static"] == "static"
    assert "media:/srv/loupe/media" in SERVICES["worker-gpu"]["volumes"]
    assert "static:/data/static:ro" in SERVICES["web-1"]["volumes"]
    assert set(mounts.values()) - {"./nginx.conf", "./tls"} <= set(COMPOSE["volumes"])


def test_media_goes_through_the_internal_location():
    environment = SERVICES["web-1"]["environment"]
    assert environment["LOUPE_MEDIA_SERVE"] == "x-accel-redirect"
    assert environment["LOUPE_MEDIA_ROOT"] == "/srv/loupe/media"
    location = re.search(r"location (\S+) \{\s*internal;\s*alias /srv/loupe/media/;", NGINX_CONF.read_text())
    assert location and location.group(1) == environment["LOUPE_MEDIA_ACCEL_PREFIX"]

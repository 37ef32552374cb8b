"""Command lines of Loupe's processes, in one place for the demo, the tests and the benchmarks."""
import shutil
import subprocess
import sys
from pathlib import Path


def celery_worker_command(*, queues: str = "gpu,default", concurrency: int = 1, pool: str | None = None,
                          hostname: str | None = None, loglevel: str = "INFO") -> list[str]:
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queues,
               "--concurrency", str(concurrency), "--loglevel", loglevel]
    if pool:
        command += ["--pool", pool]
    if hostname:
        command += ["--hostname", hostname]
    return command


def asgi_server_command(*, port: int, host: str = "127.0.0.1") -> list[str]:
    """The web process: uvicorn serving HTTP and WebSockets. Not Daphne: Daphne reads a request's
    whole body (into memory) before the application sees its headers, so an oversized upload
    could not be refused before it was received (``portal.request_limits``)."""
    return [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", host, "--port", str(port),
            "--lifespan", "off", "--ws", "websockets-sansio", "--no-access-log"]


def database_url(settings_dict: dict) -> str:
    """A ``DATABASE_URL`` for the database described by a Django connection's ``settings_dict``
    (SQLite or PostgreSQL), so a child process can be pointed at it — e.g. at a test database."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    return (f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD'] or ''}@{settings_dict['HOST']}:"
            f"{settings_dict['PORT']}/{settings_dict['NAME']}")


NGINX_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
#: Debian's nginx (it lives in /usr/sbin, which not every PATH has); None when not installed.
NGINX = shutil.which("nginx") or next((path for path in ("/usr/sbin/nginx",) if Path(path).is_file()), None)


def nginx_local_config(*, upstream_ports: list[int], http_port: int, https_port: int, tls_dir: Path,
                       static_dir: Path, media_root: Path) -> str:
    """``deploy/nginx.conf`` with its compose names replaced for processes on this machine (the
    tests and ``bench/cluster.py``): the two upstreams at ``127.0.0.1:<port>``, listening on
    127.0.0.1 at ``http_port`` / ``https_port``, the TLS files (fullchain.pem, privkey.pem) in
    ``tls_dir``, static files and media from the given folders. Raises ``ValueError`` when the
    file no longer has exactly one of each name replaced, so it cannot drift from what is tested."""
    if len(upstream_ports) != 2:
        raise ValueError("deploy/nginx.conf has two upstream web processes")
    replacements = {
        "server web-1:8000": f"server 127.0.0.1:{upstream_ports[0]}",
        "server web-2:8000": f"server 127.0.0.1:{upstream_ports[1]}",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "/etc/nginx/tls/fullchain.pem": str(tls_dir / "fullchain.pem"),
        "/etc/nginx/tls/privkey.pem": str(tls_dir / "privkey.pem"),
        "alias /srv/loupe/static/;": f"alias {static_dir}/;",
        "alias /srv/loupe/media/;": f"alias {media_root}/;",
    }
    text = NGINX_CONF.read_text()
    for name, local in replacements.items():
        if text.count(name) != 1:
            raise ValueError(f"deploy/nginx.conf should contain {name!r} once, not {text.count(name)} times")
        text = text.replace(name, local)
    return text


def nginx_command(*, config: Path, prefix: Path, test: bool = False) -> list[str]:
    """Debian's nginx in the foreground on ``config``, its pid file under ``prefix``; ``test``:
    only check the configuration (``nginx -t``). Runs its workers as root when started as root
    (the tests' media folders are private to the user who made them)."""
    command = [NGINX or "nginx", "-p", str(prefix), "-c", str(config), "-g", f"pid {prefix}/nginx.pid; user root; daemon off;"]
    return command + (["-t"] if test else [])


def self_signed_certificate(tls_dir: Path, *, host: str = "127.0.0.1") -> None:
    """A throwaway TLS key and certificate for ``host`` in ``tls_dir`` (fullchain.pem, privkey.pem), by openssl."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={host}",
                    "-addext", f"subjectAltName=IP:{host}", "-keyout", str(tls_dir / "privkey.pem"),
                    "-out", str(tls_dir / "fullchain.pem")], check=True, capture_output=True)

"""Point the test run at PostgreSQL and Redis when they are reachable.

Loaded with ``-p`` (pytest.ini) so it runs before pytest-django reads the settings. Uses
``DATABASE_URL`` / ``REDIS_URL`` when set, else the local services on their standard ports if
they answer, else the embedded defaults (SQLite, in-memory channel layer). With ``CI=true``
both services are required and their absence stops the run with a clear message.
"""
import os
import socket

LOCAL = {
    "DATABASE_URL": ("127.0.0.1", 5432, "postgres://postgres@127.0.0.1:5432/loupe"),
    "REDIS_URL": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/1"),
}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _configure() -> None:
    missing = []
    for variable, (host, port, url) in LOCAL.items():
        if os.environ.get(variable):
            continue
        if _reachable(host, port):
            os.environ[variable] = url
        else:
            missing.append(f"{variable} (nothing answers on {host}:{port})")
    if missing and os.environ.get("CI", "").lower() == "true":
        raise SystemExit("CI=true needs PostgreSQL and Redis; missing: " + ", ".join(missing))


_configure()

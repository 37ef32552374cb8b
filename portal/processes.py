"""Command lines of Loupe's processes, in one place for the demo, the tests and the benchmarks."""
import sys


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

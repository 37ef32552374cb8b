"""Benchmark: the review room over real WebSockets, against one web process (uvicorn) on the Redis
channel layer (prints; not a test).

Prints, in one run, each with the baseline measured beside it:
- time to the first frame after a seek (once the room has shown its first frame, as the player
  does on opening): request → the "before" image, and → the whole before+after pair, p50/p99
  (target: < 100 ms); baseline: the server's own work for a pair
  (read both JPEGs and burn the watermark in) called directly in this process;
- sustained before+after pairs per second to one client at 720p, requests pipelined as the
  player's prefetch window does (target ≥ 24 pairs/s); baseline: pairs/s of that same server
  work in one thread here (the ceiling without sockets and the channel layer);
- playhead fan-out: the presenter moves the playhead, p50/p99 until each follower has the new
  state, with 1 (baseline), 50 and 200 followers in the session (target: p99 < 100 ms at 200).

The proposal is rendered by the real engine from ``sam2_02_cups.mp4`` (1280×720) with review
frames at 1280 pixels wide (``LOUPE_REVIEW_WIDTH``), in a throwaway database (``test_loupe_bench_review`` by default)
and media folder, both removed at the end. The presenter's socket runs in this process, the
followers in processes of their own, 50 to a process (the ``websockets`` library), so that
at 200 followers the figures are not this process's own parsing.
Needs PostgreSQL and Redis (``DATABASE_URL``, ``REDIS_URL``; by default the local ones).

    .venv/bin/python bench/review.py [--frames 48] [--seeks 30] [--seconds 5] [--rounds 30]
        [--followers 200] [--profile-server web.prof]   (then: python -m pstats web.prof)
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# Its own database name: create_test_db(autoclobber) would drop another benchmark's test_loupe.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loupe_bench_review")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Its people sign in by session without an authenticator app, as in the demo (the second factor
# directors, supervisors and producers need by default is not what is measured).
os.environ.setdefault("LOUPE_MFA_REQUIRED_ROLES", "")
os.environ["LOUPE_REVIEW_WIDTH"] = "1280"  # 720p review frames
MEDIA = tempfile.mkdtemp(prefix="loupe-bench-media-")
os.environ["LOUPE_MEDIA_ROOT"] = MEDIA

import django  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from portal.processes import asgi_server_command, database_url  # noqa: E402
from reviews.consumers import serve_frame  # noqa: E402
from reviews.models import Job, Membership, Role  # noqa: E402
from reviews.services.clips import clip_ingest  # noqa: E402
from reviews.services.fix_requests import fix_request_create  # noqa: E402
from reviews.worker.jobs import job_execute  # noqa: E402
from reviews.services.productions import membership_add, production_create  # noqa: E402
from reviews.services.shots import shot_create  # noqa: E402

TARGET_FIRST_FRAME_MS = 100
TARGET_PAIRS_PER_S = 24
TARGET_FANOUT_P99_MS = 100


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


async def keep_present(socket) -> None:
    """Ping every 15 s as the browser does: presence not renewed for 60 s is dropped, and a
    presenter dropped from presence loses control to the next one in (which is how an earlier
    version of this bench lost its presenter during the 200-follower joins)."""
    while True:
        await asyncio.sleep(15)
        await socket.send(json.dumps({"type": "ping"}))


class RoomClient:
    """One browser's socket: a reader task puts every message in ``inbox`` with its arrival time."""

    def __init__(self, socket):
        self.socket = socket
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())
        self.pinger = asyncio.create_task(keep_present(socket))

    async def _read(self):
        async for payload in self.socket:
            self.inbox.put_nowait((time.perf_counter(), payload))

    def send_json(self, message: dict) -> None:
        asyncio.create_task(self.socket.send(json.dumps(message)))

    async def close(self) -> None:
        self.pinger.cancel()
        await self.socket.close()
        self.reader.cancel()

    async def next_frame(self) -> tuple[float, dict]:
        while True:
            at, payload = await self.inbox.get()
            if isinstance(payload, bytes):
                (length,) = struct.unpack(">I", payload[:4])
                return at, json.loads(payload[4:4 + length])

    async def next_event(self, event: str, where=lambda data: True) -> tuple[float, dict]:
        while True:
            at, payload = await self.inbox.get()
            if isinstance(payload, str):
                message = json.loads(payload)
                if message["event"] == event and where(message["data"]):
                    return at, message["data"]


async def open_client(port: int, path: str, cookie: str) -> RoomClient:
    socket = await connect(f"ws://127.0.0.1:{port}{path}", additional_headers={"Cookie": cookie},
                           origin=f"http://127.0.0.1:{port}", max_size=None, open_timeout=60)
    client = RoomClient(socket)
    await client.next_event("room")
    return client


def cookie_for(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def setup(frames: int, followers: int):
    with transaction.atomic():
        production = production_create(code="BENCH", name="Review benchmark", actor=None)
        director = User.objects.create_user("bench-director", first_name="Bench", last_name="Director")
        supervisor = User.objects.create_user("bench-supervisor")
        membership_add(production=production, user=director, role=Role.DIRECTOR, actor=None)
        membership_add(production=production, user=supervisor, role=Role.SUPERVISOR, actor=None)
        viewers = User.objects.bulk_create([User(username=f"bench-viewer-{i:03d}") for i in range(followers)])
        Membership.objects.bulk_create([Membership(user=v, production=production, role=Role.PRODUCER)
                                        for v in viewers])
    clips = settings.LOUPE_FOOTAGE / "clips"
    cups = clip_ingest(production=production, actor=supervisor, path=clips / "sam2_02_cups.mp4")
    coffee = clip_ingest(production=production, actor=supervisor, path=clips / "sam2_04_coffee.mp4")
    shot = shot_create(production=production, clip=cups, code="CUPS", source_in=0, source_out=cups.frame_count,
                       actor=supervisor)
    reference = shot_create(production=production, clip=coffee, code="COFFEE", source_in=0, source_out=60,
                            actor=supervisor)
    fix_request = fix_request_create(production=production, actor=supervisor, shot=shot, kind="color_match",
                                     frame_in=0, frame_out=min(frames, cups.frame_count), reference_shot=reference)
    job = Job.objects.create(production=production, fix_request=fix_request, frames_total=fix_request.duration_frames)
    started = time.perf_counter()
    proposal = job_execute(job_id=job.pk, worker="bench")
    print(f"rendered {proposal.version_label}: {fix_request.duration_frames} frames of {cups.name} "
          f"({cups.width}×{cups.height}) in {time.perf_counter() - started:.1f} s")
    return proposal, director, list(viewers)


def local_pair_seconds(proposal, reviewer: str, count: int = 60) -> list[float]:
    """The server's work for one before+after pair, called directly (the baseline)."""
    times = []
    for i in range(count):
        frame = proposal.frame_in + i % (proposal.frame_out - proposal.frame_in)
        started = time.perf_counter()
        for side in ("before", "after"):
            serve_frame(proposal=proposal, side=side, frame=frame, watermark_for=reviewer)
        times.append(time.perf_counter() - started)
    return times


async def first_frame_after_seek(client: RoomClient, proposal, seeks: int) -> tuple[list[float], list[float]]:
    first, pair = [], []
    frames = list(range(proposal.frame_in, proposal.frame_out))
    # The room opens on its playhead: the player asks for that frame first (not a seek).
    client.send_json({"type": "frame", "frame": proposal.frame_in})
    await client.next_frame()
    await client.next_frame()
    for _ in range(seeks):
        frame = random.choice(frames)
        sent = time.perf_counter()
        client.send_json({"type": "frame", "frame": frame, "flush": True})
        at_before, header = await client.next_frame()
        at_after, header_after = await client.next_frame()
        assert header["frame"] == header_after["frame"] == frame
        first.append(at_before - sent)
        pair.append(at_after - sent)
    return first, pair


async def sustained_pairs(client: RoomClient, proposal, seconds: float, window: int = 8) -> float:
    frames = list(range(proposal.frame_in, proposal.frame_out))
    position, received, outstanding = 0, 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        while outstanding < window:
            client.send_json({"type": "frame", "frame": frames[position % len(frames)]})
            position += 1
            outstanding += 1
        await client.next_frame()
        await client.next_frame()
        received += 1
        outstanding -= 1
    elapsed = time.perf_counter() - started
    for _ in range(outstanding * 2):  # drain what is still on its way
        await client.next_frame()
    return received / elapsed


FOLLOWERS_PER_PROCESS = 50


def follower_process(conn, port: int, path: str, cookies: list[str]) -> None:
    """A process of up to ``FOLLOWERS_PER_PROCESS`` followers, forked before the bench's event
    loop starts. Like browsers, each on its own machine, followers must not share the bench's one
    Python thread with the presenter and each other: 200 sockets parsed in one process measure
    that process. Each socket records when each ``room.state`` arrived (``time.perf_counter``
    is CLOCK_MONOTONIC, one clock for every process of the machine); the parent asks, per move,
    for the arrivals of that frame. Commands on ``conn``: ``("join", n)``, ``("wait", frame,
    seconds)``, ``("close",)``, ``("exit",)``."""
    asyncio.run(_follow(conn, port, path, cookies))


async def _follow(conn, port: int, path: str, cookies: list[str]) -> None:
    limit = asyncio.Semaphore(2)  # joins at once from this process (each one is audited)
    arrived = asyncio.Event()
    arrivals: list[dict[int, float]] = []
    sockets: list = []

    async def follow(cookie: str, seen: dict[int, float], joined: asyncio.Future):
        async with limit:
            socket = await connect(f"ws://127.0.0.1:{port}{path}", additional_headers={"Cookie": cookie},
                                   origin=f"http://127.0.0.1:{port}", max_size=None, open_timeout=120)
        sockets.append(socket)
        pinger = asyncio.create_task(keep_present(socket))
        socket.pinger = pinger
        async for payload in socket:
            at = time.perf_counter()
            # The server writes {"event": ..., "data": ...}: only what is needed is parsed.
            if not isinstance(payload, str):
                continue
            if payload.startswith('{"event": "room.state"'):
                seen[json.loads(payload)["data"]["frame"]] = at
                arrived.set()
            elif payload.startswith('{"event": "room"') and not joined.done():
                joined.set_result(True)

    tasks: list[asyncio.Task] = []
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command[0] == "join":
            arrivals = [{} for _ in range(command[1])]
            joins = [asyncio.get_running_loop().create_future() for _ in arrivals]
            tasks = [asyncio.create_task(follow(cookie, seen, joined))
                     for cookie, seen, joined in zip(cookies, arrivals, joins, strict=False)]
            await asyncio.gather(*joins)
            conn.send("ready")
        elif command[0] == "wait":  # the arrivals of frame, None where none came in time
            _, frame, seconds = command
            deadline = time.perf_counter() + seconds
            while not all(frame in seen for seen in arrivals) and time.perf_counter() < deadline:
                arrived.clear()
                try:
                    await asyncio.wait_for(arrived.wait(), timeout=max(0.0, deadline - time.perf_counter()))
                except TimeoutError:
                    break
            conn.send([seen.get(frame) for seen in arrivals])
        elif command[0] == "close":
            for socket in sockets:
                socket.pinger.cancel()
            await asyncio.gather(*(socket.close() for socket in sockets))
            for task in tasks:
                task.cancel()
            sockets.clear()
            conn.send("closed")
        else:
            return


def start_followers(port: int, path: str, cookies: list[str]) -> list:
    """Processes of ``FOLLOWERS_PER_PROCESS`` followers each (idle until told to join); their
    ``(pipe, process)``."""
    context = multiprocessing.get_context("fork")
    followers = []
    for start in range(0, len(cookies), FOLLOWERS_PER_PROCESS):
        parent, child = context.Pipe()
        process = context.Process(target=follower_process, daemon=True,
                                  args=(child, port, path, cookies[start:start + FOLLOWERS_PER_PROCESS]))
        process.start()
        followers.append((parent, process))
    return followers


async def fan_out(presenter: RoomClient, followers: list, count: int, rounds: int, frames: list[int]) -> list[float]:
    """``count`` followers join (from as many follower processes as they fill); the presenter
    moves the playhead ``rounds`` times; the latency of each move to each follower."""
    pipes = []
    for start, (pipe, _) in zip(range(0, count, FOLLOWERS_PER_PROCESS), followers, strict=False):
        pipe.send(("join", min(FOLLOWERS_PER_PROCESS, count - start)))
        pipes.append(pipe)
    for pipe in pipes:
        if not await asyncio.to_thread(pipe.poll, 600):
            raise SystemExit("the followers did not join within 10 minutes")
        assert pipe.recv() == "ready"
    await asyncio.sleep(1.0)  # let the presence announcements of the joins settle
    latencies, missed = [], 0
    for i in range(rounds):
        frame = frames[i % len(frames)]
        sent = time.perf_counter()
        presenter.send_json({"type": "state", "frame": frame, "wipe": round(random.random(), 3)})
        for pipe in pipes:
            pipe.send(("wait", frame, 10))
        replies = await asyncio.gather(*(asyncio.to_thread(pipe.recv) for pipe in pipes))
        arrivals = [at for reply in replies for at in reply]
        # A move that never arrived counts as infinitely late: the percentiles do not hide it.
        latencies += [float("inf") if at is None else at - sent for at in arrivals]
        missed += sum(at is None for at in arrivals)
        await asyncio.sleep(0.05)
    if missed:
        print(f"  {missed} of {rounds * count} playhead moves did not reach a follower within 10 s")
    for pipe in pipes:
        pipe.send(("close",))
    for pipe in pipes:
        await asyncio.to_thread(pipe.recv)
    await asyncio.sleep(1.0)
    return latencies


async def run_sockets(port: int, proposal, director_cookie: str, followers: list, args) -> None:
    path = f"/ws/review/{proposal.pk}/"
    presenter = await open_client(port, path, director_cookie)

    first, pair = await first_frame_after_seek(presenter, proposal, args.seeks)
    local = local_pair_seconds(proposal, "Bench Director")
    local_p50 = percentile(local, 50)
    print(f"first frame after a seek ({args.seeks} seeks, 720p, watermarked): before image p50 "
          f"{percentile(first, 50) * 1000:.1f} ms p99 {percentile(first, 99) * 1000:.1f} ms; whole pair p50 "
          f"{percentile(pair, 50) * 1000:.1f} ms p99 {percentile(pair, 99) * 1000:.1f} ms "
          f"(target < {TARGET_FIRST_FRAME_MS} ms: {verdict(percentile(pair, 99) * 1000 < TARGET_FIRST_FRAME_MS)})")
    print(f"  baseline, the server's work for a pair called directly: p50 {local_p50 * 1000:.1f} ms "
          f"→ socket pair / direct = {percentile(pair, 50) / local_p50:.2f}x; slowest pair "
          f"{max(pair) * 1000:.1f} ms at seek {pair.index(max(pair)) + 1} of {len(pair)}")

    rate = await sustained_pairs(presenter, proposal, args.seconds)
    local_rate = 1 / (sum(local) / len(local))
    print(f"sustained before+after pairs to one client at 720p: {rate:.1f} pairs/s "
          f"(target ≥ {TARGET_PAIRS_PER_S}: {verdict(rate >= TARGET_PAIRS_PER_S)})")
    print(f"  baseline, the same work in one thread here: {local_rate:.1f} pairs/s → socket / direct = "
          f"{rate / local_rate:.2f}x")

    frames = list(range(proposal.frame_in, proposal.frame_out))
    results = {}
    for count in (1, 50, 200):
        if count > args.followers:
            break
        values = await fan_out(presenter, followers, count, args.rounds, frames)
        results[count] = (percentile(values, 50), percentile(values, 99))
        print(f"playhead fan-out to {count} follower{'s' if count > 1 else ''}, {args.rounds} moves: "
              f"p50 {results[count][0] * 1000:.1f} ms p99 {results[count][1] * 1000:.1f} ms")
    if 200 in results:
        base = results[1][1]
        print(f"  p99 at 200 / p99 at 1 (baseline) = {results[200][1] / base:.1f}x; "
              f"target p99 < {TARGET_FANOUT_P99_MS} ms at 200: {verdict(results[200][1] * 1000 < TARGET_FANOUT_P99_MS)}")
    await presenter.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # so the cleanup below runs
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=48, help="frames in the proposal")
    parser.add_argument("--seeks", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to stream pairs")
    parser.add_argument("--rounds", type=int, default=30, help="playhead moves per fan-out size")
    parser.add_argument("--followers", type=int, default=200)
    parser.add_argument("--profile-server", metavar="FILE",
                        help="run the web process under cProfile and write its profile here (pstats) at the end")
    args = parser.parse_args()
    if not settings.CHANNEL_LAYER_IS_SHARED:
        raise SystemExit("bench/review needs Redis: set REDIS_URL")

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"(1 / 5 / 15 min) — figures are this run's, on this machine as it was")
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    server, followers = None, []
    try:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("loupe:room:*"):
            client.delete(key)
        proposal, director, viewers = setup(args.frames, args.followers)
        director_cookie = cookie_for(director)
        viewer_cookies = [cookie_for(viewer) for viewer in viewers]
        port = free_port()
        # Capacity is measured, not the per-connection message limit (LOUPE_WS_MESSAGES_PER_S).
        env = dict(os.environ, DATABASE_URL=database_url(connection.settings_dict), LOUPE_WS_MESSAGES_PER_S="1000000")
        command = asgi_server_command(port=port)
        if args.profile_server:  # python -m cProfile -o FILE -m uvicorn ...
            command[1:1] = ["-m", "cProfile", "-o", str(Path(args.profile_server).resolve())]
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the web process did not start")
                time.sleep(0.2)
        followers = start_followers(port, f"/ws/review/{proposal.pk}/", viewer_cookies)
        asyncio.run(run_sockets(port, proposal, director_cookie, followers, args))
    finally:
        for pipe, process in followers:
            if process.is_alive():
                pipe.send(("exit",))
                process.join(10)
            if process.is_alive():
                process.kill()
        if server is not None:
            # SIGINT: uvicorn stops cleanly, so a profile (--profile-server) is written.
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        connection.close()
        connection.creation.destroy_test_db(test_db, verbosity=0)
        shutil.rmtree(MEDIA, ignore_errors=True)


if __name__ == "__main__":
    main()

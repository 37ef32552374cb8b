"""Two web processes behind nginx (deploy/nginx.conf), one review room across both — the
scenarios of bench/cluster.py that are not timing figures: reviewers on either process see the
same presence and each other's notes, and when one process is killed (kill -9) its reviewers
reconnect through nginx to the other and get the room back with every note written before."""
import asyncio
import json
import ssl
import urllib.request

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from tests.reviews.helpers import session_cookie

from .test_nginx import NGINX, nginx_in_front

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(NGINX is None, reason="needs nginx (apt-get install nginx)"),
    pytest.mark.skipif(not settings.CHANNEL_LAYER_IS_SHARED, reason="needs Redis: web processes share the room"),
]
TLS = ssl._create_unverified_context()


def open_rooms(port: int) -> float:
    """Review-room WebSockets open on the web process at ``port``, from its own /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    return next((sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                 if sample.name == "loupe_websocket_connections_open" and sample.labels["route"] == "review"), 0.0)


async def next_event(socket_, event: str, where=lambda data: True) -> dict:
    while True:
        payload = await asyncio.wait_for(socket_.recv(), 60)  # a hang guard only
        if isinstance(payload, str):
            message = json.loads(payload)
            if message["event"] == event and where(message["data"]):
                return message["data"]


def test_a_review_room_across_two_web_processes_survives_one_being_killed(
        process_env, media_root, tmp_path, small_proposal, people):
    names = ("director", "supervisor", "artist", "producer")
    cookies = [session_cookie(people[name]).decode() for name in names]
    users = sorted(people[name].pk for name in names)

    with nginx_in_front(process_env, media_root, tmp_path, web_processes=2) as (_, https_port, webs):
        url = f"wss://127.0.0.1:{https_port}/ws/review/{small_proposal.pk}/"
        origin = f"https://127.0.0.1:{https_port}"

        async def join(cookie):
            socket_ = await connect(url, ssl=TLS, origin=origin, additional_headers={"Cookie": cookie},
                                    open_timeout=60, max_size=None)
            return socket_, await next_event(socket_, "room")

        async def scenario():
            sockets = [await join(cookie) for cookie in cookies]  # one after another: nginx alternates
            split = [await asyncio.to_thread(open_rooms, port) for port, _ in webs]
            assert split == [2, 2]
            # Presence: everyone is seen by everyone, whichever process they are on.
            for socket_, _ in sockets:
                await next_event(socket_, "presence", lambda d: sorted(p["user"] for p in d["people"]) == users)
            # A note written on one process reaches the reviewers on both.
            await sockets[0][0].send(json.dumps({"type": "note", "frame": small_proposal.frame_in,
                                                 "text": "the cup's rim flickers"}))
            for socket_, _ in sockets:
                await next_event(socket_, "note", lambda d: d["text"] == "the cup's rim flickers")
            # kill -9 the first web process: its reviewers' sockets close; they reconnect through nginx.
            webs[0][1].kill()
            webs[0][1].wait()
            closed = await asyncio.gather(*(asyncio.wait_for(socket_.wait_closed(), 15) for socket_, _ in sockets),
                                          return_exceptions=True)
            dropped = [cookie for cookie, outcome in zip(cookies, closed) if not isinstance(outcome, BaseException)]
            assert len(dropped) == 2  # the two on the killed process; the others stay connected
            rejoined = [await join(cookie) for cookie in dropped]
            for _, room in rejoined:
                assert "the cup's rim flickers" in [note["text"] for note in room["notes"]]
            # The dead process's presence lapses (PRESENCE_TTL_S); once both are back, everyone is
            # present again, as every reviewer sees.
            for socket_, _ in rejoined + [pair for pair, outcome in zip(sockets, closed)
                                          if isinstance(outcome, BaseException)]:
                await next_event(socket_, "presence", lambda d: sorted(p["user"] for p in d["people"]) == users)
            assert await asyncio.to_thread(open_rooms, webs[1][0]) == 4

        async_to_sync(scenario)()

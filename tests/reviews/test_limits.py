"""Rate and size limits, each a setting, each answered with a message naming it (issue #23,
hole 6): writes per person per minute (API, and notes in review rooms; counted across web
processes), WebSocket messages per second, events per imported cut, pixels per ingested frame.
Points per mask outline: tests/reviews/test_reports.py (the largest mask the API accepts)."""
import json
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.authtoken.models import Token

from reviews.errors import IngestError
from reviews.models import Clip, Cut, ReviewNote

from .helpers import websocket
from .test_bad_input import _until
from .test_permission_matrix import add_objects


def _new_window_if_near_its_end() -> None:
    """Writes are counted per minute: a test that needs its writes in one window waits for a
    fresh one when fewer than 15 s are left (no assertion depends on the clock)."""
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.1)


def test_api_writes_beyond_the_rate_are_refused_with_429(production, people, settings):
    settings.LOUPE_WRITE_RATE_PER_MIN = 3
    _new_window_if_near_its_end()
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=people['supervisor']).key}")
    answers = [client.post(f"/api/productions/{production.code}/continuity-checks/", content_type="application/json",
                           data={"shots": []}) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [400, 400, 400]  # refused input counts too
    refused = answers[3]
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "LOUPE_WRITE_RATE_PER_MIN" in refused.json()["detail"] and "at most 3" in refused.json()["detail"]
    assert client.get("/api/productions/").status_code == 200  # reads are not limited
    other = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=people['director']).key}")
    assert other.post("/api/account/token/").status_code == 201  # per person


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not django_settings.REDIS_URL, reason="counting across processes needs the shared cache (Redis)")
def test_writes_are_counted_across_web_processes(production, people, settings, start_web_process):
    """Two writes in this process and two through a separate web process: the fourth is refused,
    though each process saw only two."""
    settings.LOUPE_WRITE_RATE_PER_MIN = 3
    server = start_web_process(LOUPE_WRITE_RATE_PER_MIN="3")
    key = Token.objects.create(user=people["supervisor"]).key
    _new_window_if_near_its_end()
    here = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert [here.post("/api/productions/TEST/continuity-checks/", content_type="application/json",
                      data={"shots": []}).status_code for _ in range(2)] == [400, 400]  # refused input still counts

    def post() -> tuple[int, dict]:
        request = urllib.request.Request(f"{server}/api/productions/TEST/continuity-checks/", method="POST",
                                         data=b'{"shots": []}', headers={"Authorization": f"Token {key}",
                                                                         "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post()[0] == 400
    status, body = post()
    assert status == 429 and "LOUPE_WRITE_RATE_PER_MIN" in body["detail"]


async def _pong_among_queued(socket) -> bool:
    """Whether a ``pong`` is among the messages the socket has received so far (all read)."""
    found = False
    while not await socket.receive_nothing(0):
        message = await socket.receive_output(1)
        found = found or (bool(message.get("text")) and json.loads(message["text"])["event"] == "pong")
    return found


@pytest.mark.django_db(transaction=True)
def test_review_room_messages_and_notes_beyond_their_rates_are_dropped_with_an_error(production, people, settings):
    settings.LOUPE_WS_MESSAGES_PER_S = 5
    settings.LOUPE_WRITE_RATE_PER_MIN = 3
    objects = add_objects(production, "RATE")
    notes_before = ReviewNote.objects.filter(proposal_id=objects["proposal"]).count()  # the matrix's objects hold one
    socket = websocket(f"/ws/review/{objects['proposal']}/", people["director"])
    _new_window_if_near_its_end()

    async def run():
        connected, _ = await socket.connect()
        assert connected
        await _until(socket, "room")
        for n in range(4):
            await socket.send_to(text_data=json.dumps({"type": "note", "frame": 1, "text": f"note {n}"}))
        error = await _until(socket, "error")
        assert "LOUPE_WRITE_RATE_PER_MIN" in error["detail"] and "Nothing was saved" in error["detail"]
        for _ in range(40):  # a burst well over 2 × 5 messages
            await socket.send_to(text_data=json.dumps({"type": "ping"}))
        error = await _until(socket, "error")
        assert "LOUPE_WS_MESSAGES_PER_S" in error["detail"]
        # The connection was kept: once the burst is through (on a loaded machine the consumer is
        # still working through it) and the bucket has refilled, a ping is answered again.
        for _ in range(40):  # a hang guard: about 20 s
            await socket.send_to(text_data=json.dumps({"type": "ping"}))
            await socket.receive_nothing(0.5)  # waits, consuming nothing (a timeout would end the consumer)
            if await _pong_among_queued(socket):
                break
        else:
            raise AssertionError("no ping answered for 20 s after the burst: the connection was not kept")
        await socket.disconnect()

    async_to_sync(run)()
    assert ReviewNote.objects.filter(proposal_id=objects["proposal"]).count() == notes_before + 3


EDL_EVENT = "{n:03d}  CARPHONE V     C        00:00:00:00 00:00:00:01 01:00:{s:02d}:{f:02d} 01:00:{s:02d}:{g:02d}\n"


def test_a_cut_with_more_events_than_the_limit_is_refused_whole(production, people, settings):
    settings.LOUPE_CUT_MAX_EVENTS = 5
    events = "".join(EDL_EVENT.format(n=n + 1, s=0, f=n, g=n + 1) for n in range(6))
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=people['supervisor']).key}")
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("long.edl", f"TITLE: LONG\nFCM: NON-DROP FRAME\n{events}".encode())
    response = client.post(f"/api/productions/{production.code}/cuts/", data={"file": upload, "rate": "24"})
    assert response.status_code == 400
    assert "6 events" in response.json()["detail"] and "LOUPE_CUT_MAX_EVENTS" in response.json()["detail"]
    assert not Cut.objects.filter(production=production).exists()


def test_frames_larger_than_the_limit_are_refused_before_decoding(production, people, tmp_path):
    """A 12000×12000 image (small on disk: one grey level) is refused from its header."""
    from reviews.services.clips import clip_ingest

    folder = tmp_path / "huge"
    folder.mkdir()
    cv2.imwrite(str(folder / "huge_0001.png"), np.zeros((12000, 12000), np.uint8))
    with pytest.raises(IngestError, match="LOUPE_FRAME_MAX_PIXELS") as refused:
        clip_ingest(production=production, path=folder, actor=people["supervisor"])
    assert "12000x12000" in str(refused.value)
    assert not Clip.objects.filter(production=production).exists()

"""Bad input is answered with a 4xx (or, on a review socket, an ``error`` event with the
connection kept open) — never a server error: JSON nested too deeply, integers beyond the
database's, NUL characters in query parameters, too many form fields, a file that is not
video, and a WebSocket message whose ``type`` is not a name (issue #23, hole 5)."""
import json

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from rest_framework.authtoken.models import Token

from reviews.models import IngestState
from reviews.worker.ingest import clip_ingest_execute

from .helpers import signed_in, websocket
from .test_permission_matrix import add_objects

HUGE = str(10**30)
BIGINT_PLUS_ONE = str(2**63)
QUERIES = [f"offset={HUGE}&limit=5", f"limit={HUGE}", f"offset={BIGINT_PLUS_ONE}&limit=1", "offset=-1&limit=1",
           f"shot={HUGE}", f"fix_request={HUGE}", f"assignee={BIGINT_PLUS_ONE}", f"clip={BIGINT_PLUS_ONE}",
           f"cut=-{HUGE}", "shot=1e400", "shot=NaN", "shot=1.5"]


@pytest.fixture
def api(production, people):
    """The supervisor's API client (by token, so no CSRF) and TEST's objects."""
    key = Token.objects.create(user=people["supervisor"]).key
    return Client(HTTP_AUTHORIZATION=f"Token {key}"), add_objects(production, "BAD")


@pytest.mark.parametrize("path", ["assignments", "jobs", "fix-requests", "continuity-findings", "shots"])
def test_huge_integers_in_list_queries_are_refused_or_match_nothing(api, path):
    client, objects = api
    for query in QUERIES:
        response = client.get(f"/api/productions/{objects['production']}/{path}/?{query}")
        assert response.status_code in (200, 400), (query, response.content[:300])
        if response.status_code == 400:
            assert response.json()["detail"]


def test_huge_ids_in_paths_and_bodies_are_refused_or_not_found(api):
    client, objects = api
    base = f"/api/productions/{objects['production']}"
    for method, path in (("get", "jobs/{id}/"), ("post", "jobs/{id}/cancel/"), ("get", "proposals/{id}/"),
                         ("post", "fix-requests/{id}/jobs/"), ("get", "proposals/{id}/decisions/"),
                         ("post", "continuity-findings/{id}/fix-request/")):
        response = getattr(client, method)(f"{base}/{path.format(id=HUGE)}", content_type="application/json", data={})
        assert response.status_code == 404, (path, response.content[:300])
    for path, body in (("continuity-checks/", {"shots": [objects["shot"], int(HUGE)]}),
                       ("assignments/", {"shots": [objects["shot"]], "assignee": int(BIGINT_PLUS_ONE)})):
        response = client.post(f"{base}/{path}", content_type="application/json", data=body)
        assert response.status_code == 400 and "less than or equal" in response.json()["detail"], response.content


def test_json_nested_too_deeply_is_a_bad_request(api):
    client, objects = api
    response = client.post(f"/api/productions/{objects['production']}/continuity-checks/",
                           data="[" * 100_000, content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=B"])
def test_too_many_form_fields_is_a_bad_request(api, content_type, settings):
    client, objects = api
    fields = range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5)
    if content_type.startswith("multipart"):
        body = "".join(f'--B\r\nContent-Disposition: form-data; name="shots"\r\n\r\n{n}\r\n' for n in fields) + "--B--\r\n"
    else:
        body = "&".join(f"shots={n}" for n in fields)
    response = client.post(f"/api/productions/{objects['production']}/continuity-checks/", data=body,
                           content_type=content_type)
    assert response.status_code == 400 and "Too many form fields" in response.json()["detail"]


def test_nul_in_query_parameters_is_a_bad_request(api, production, people):
    """The shot board, the audit trail (page and exports) and the API: 400 naming the NUL, not
    PostgreSQL's DataError."""
    client, objects = api
    board = signed_in(people["supervisor"])
    for query in ("q=%00", "status=%00", "assignee=a%00b", "sort=%00", "kind=%00", "q%00=1"):
        response = board.get(f"/productions/{production.code}/shots/?{query}")
        assert response.status_code == 400 and "NUL" in response.json()["detail"], query
    producer = signed_in(people["producer"])
    for query in ("person=%00", "shot=x%00", "action=%00", "from=%00", "format=pdf&person=%00"):
        response = producer.get(f"/productions/{production.code}/reports/audit/?{query}")
        assert response.status_code == 400 and "NUL" in response.json()["detail"], query
    response = client.get(f"/api/productions/{objects['production']}/shots/?code=%00")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]


@pytest.mark.parametrize("name", ["drawing.svg", "drawing.mov"])
def test_an_svg_upload_is_refused_with_a_reason(api, tmp_path, name):
    """An SVG, also renamed .mov: accepted (202), then the engine's media error ends the ingest
    failed with a reason naming the file (the engine raises its own error type for it; the
    worker catches every ``EngineError``)."""
    client, objects = api
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" ' \
          b'height="64" fill="red"/></svg>'
    path = tmp_path / name
    path.write_bytes(svg)
    with path.open("rb") as upload:
        response = client.post(f"/api/productions/{objects['production']}/clips/upload/", data={"file": upload})
    assert response.status_code == 202, response.content
    ingest = clip_ingest_execute(response.json()["id"])
    assert ingest.state == IngestState.FAILED and name in ingest.error and ingest.clip is None


@pytest.mark.django_db(transaction=True)
def test_bad_websocket_messages_get_an_error_and_the_connection_stays(production, people):
    objects = add_objects(production, "WS")
    socket = websocket(f"/ws/review/{objects['proposal']}/", people["director"])

    async def run():
        connected, _ = await socket.connect()
        assert connected
        await _until(socket, "room")
        for bad in ("[" * 100_000, json.dumps({"type": ["frame"]}), json.dumps({"type": {"a": 1}}), "not json", "[]"):
            await socket.send_to(text_data=bad)
            error = await _until(socket, "error")
            assert error["detail"].startswith("Bad request"), error
        await socket.send_to(text_data=json.dumps({"type": "ping"}))
        await _until(socket, "pong")  # still open and served
        await socket.disconnect()

    async_to_sync(run)()


async def _until(socket, event: str, timeout: float = 10) -> dict:
    """The data of the next text event named ``event`` on ``socket`` (others skipped)."""
    while True:
        message = await socket.receive_output(timeout)
        if message["type"] == "websocket.close":
            raise AssertionError(f"the server closed the socket ({message.get('code')}) waiting for {event}")
        if message.get("text"):
            decoded = json.loads(message["text"])
            if decoded["event"] == event:
                return decoded["data"]

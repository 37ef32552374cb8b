"""The review room's A side can be the fix request's reference shot (issue #25: wipe against the
reference for a shot match): the presenter sets it for the room, and the frames are the
reference's own, frame for frame from its first frame, at the size of the proposal's review
frames; a fix without a reference shot refuses it."""
import json

import numpy as np
import pytest
from asgiref.sync import async_to_sync

from engine.media import colour
from engine.media.decode import read_frame
from reviews.consumers import reference_frame_number
from reviews.services.productions import production_set_review_watermark

from .helpers import mean_abs_difference, receive_event, receive_frames, review_size, websocket

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_reference_shot_as_the_a_side(small_proposal, people, settings):
    settings.LOUPE_FORENSIC_WATERMARK = False
    production_set_review_watermark(production=small_proposal.production, enabled=False, actor=people["producer"])
    clip = small_proposal.fix_request.shot.clip
    reference = small_proposal.fix_request.reference_shot  # CAR_REF: frames 112–119 of the same clip
    frame = small_proposal.frame_in + 2
    assert reference_frame_number(small_proposal, frame) == reference.source_in + 2
    assert reference_frame_number(small_proposal, small_proposal.frame_in + 9) == reference.source_in + 1  # loops
    socket = websocket(f"/ws/review/{small_proposal.pk}/", people["director"])

    async def run():
        connected, _ = await socket.connect()
        assert connected
        await receive_event(socket, "room")
        await socket.send_to(text_data=json.dumps({"type": "state", "versus": "reference"}))
        state = await receive_event(socket, "room.state", where=lambda data: "by" in data)  # the change, not the landing
        await socket.send_to(text_data=json.dumps({"type": "frame", "frame": frame, "sides": ["reference", "before"]}))
        frames = {header["side"]: image for header, image in await receive_frames(socket, 2)}
        # The presenter shows the sRGB view: the reference goes through it too.
        await socket.send_to(text_data=json.dumps({"type": "state", "view": "sRGB"}))
        view_state = await receive_event(socket, "room.state", where=lambda data: data.get("view") == "sRGB")
        await socket.send_to(text_data=json.dumps({"type": "frame", "frame": frame, "sides": ["reference"],
                                                   "view": "sRGB"}))
        [(srgb_header, srgb_reference)] = await receive_frames(socket, 1)
        await socket.disconnect()
        return state, frames, view_state, srgb_header, srgb_reference

    state, frames, view_state, srgb_header, srgb_reference = async_to_sync(run)()
    assert state["versus"] == "reference" and state["view"] == "Rec.709"
    assert view_state["by"] == people["director"].pk
    truth = review_size(read_frame(clip.source_path, reference.source_in + 2))
    shown = frames["reference"]
    assert shown.shape == frames["before"].shape == truth.shape
    assert mean_abs_difference(shown, truth) < 3  # the reference's frame, as a review JPEG
    assert mean_abs_difference(shown, review_size(read_frame(clip.source_path, frame))) > 10  # not the shot's own
    assert (srgb_header["view"], srgb_header["rendered_in"]) == ("sRGB", "sRGB")
    through_srgb = colour.display_codes(truth.astype(np.float32) / 255, colour.REC709, "sRGB - Display")
    assert mean_abs_difference(srgb_reference, through_srgb) < 3
    assert mean_abs_difference(srgb_reference, truth) > 5
    # An 8-bit Rec.709 shot's colour figures are taken through the display transform, as for any
    # depth (its BT.1886 codes shown on an sRGB display), and say so.
    assert small_proposal.metrics["colour_measured_in"] == {"display": "sRGB - Display", "view": "Video (colorimetric)"}


def test_no_reference_no_reference_side(proposal_without_reference, people):
    socket = websocket(f"/ws/review/{proposal_without_reference.pk}/", people["director"])

    async def run():
        connected, _ = await socket.connect()
        assert connected
        await receive_event(socket, "room")
        answers = []
        for message in ({"type": "state", "versus": "reference"},
                        {"type": "frame", "frame": proposal_without_reference.frame_in, "sides": ["reference"]},
                        {"type": "state", "view": "HDR"},
                        {"type": "frame", "frame": proposal_without_reference.frame_in, "view": "HDR"}):
            await socket.send_to(text_data=json.dumps(message))
            answers.append((await receive_event(socket, "error"))["detail"])
        await socket.disconnect()
        return answers

    state_error, frame_error, state_view_error, frame_view_error = async_to_sync(run)()
    assert state_error == "Bad request: this fix request has no reference shot to compare with."
    assert frame_error == "Bad request: sides is a list of before, after."
    assert state_view_error == frame_view_error == "Bad request: view is one of Rec.709, sRGB, Display P3."


@pytest.fixture
def proposal_without_reference(small_proposal, people):
    """A version of a fix request on ``small_proposal``'s shot that names no reference shot
    (made directly: the refusals come before any frame is read)."""
    from reviews.models import FixRequest, Job, JobState, Proposal

    fix = FixRequest.objects.create(production=small_proposal.production, shot=small_proposal.fix_request.shot,
                                    kind="relight", frame_in=0, frame_out=3)
    job = Job.objects.create(production=fix.production, fix_request=fix, state=JobState.SUCCEEDED)
    return Proposal.objects.create(production=fix.production, fix_request=fix, job=job, version=1, frame_in=0,
                                   frame_out=3, media_dir="nowhere", region_fraction=1.0, method="test")

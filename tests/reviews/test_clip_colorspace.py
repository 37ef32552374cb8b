"""A clip's input colour space, changed after ingest (#21): through the API by the supervisor
only; an unknown space is refused with its name and nothing changes; a change queues every fix
request that has run on the clip again, and the new version is rendered reading the clip in the
new space."""
import json

import cv2
import numpy as np
import pytest

from engine.media.decode import FrameSource
from reviews.media import review_frame_path
from reviews.models import AuditEvent, Job, JobState
from reviews.services.clips import clip_ingest
from reviews.services.fix_requests import fix_request_create
from reviews.worker.jobs import job_execute
from reviews.services.shots import shot_create

from tests.camera_originals import LOGC3 as LOG_C3
from tests.camera_originals import camera_original

from .helpers import signed_in

pytestmark = pytest.mark.django_db

VIDEO = "Gamma 2.4 Encoded Rec.709"


@pytest.fixture
def log_proposal(production, people, footage, tmp_path):
    """A shot match on a LogC3 camera original, rendered in this process by the real engine."""
    supervisor = people["supervisor"]
    shot, reference = (
        shot_create(production=production, code=code, source_in=0, source_out=4, actor=supervisor,
                    clip=clip_ingest(production=production, actor=supervisor,
                                     path=camera_original(footage / "clips" / name, tmp_path / f"{code}.mov")))
        for code, name in (("CUPS_LOG", "sam2_02_cups.mp4"), ("COFFEE_LOG", "sam2_04_coffee.mp4")))
    assert shot.clip.input_colorspace == LOG_C3  # read from the file's tag at ingest
    fix_request = fix_request_create(production=production, actor=supervisor, shot=shot, kind="color_match",
                                     frame_in=0, frame_out=4, reference_shot=reference, assignee=people["artist"])
    job = Job.objects.create(production=production, fix_request=fix_request, frames_total=4,
                             created_by=people["artist"])
    return job_execute(job_id=job.pk, worker="test")


def _url(clip) -> str:
    return f"/api/productions/{clip.production.code}/clips/{clip.pk}/"


def test_a_supervisor_changes_the_space_and_the_fix_is_made_again_in_it(log_proposal, people):
    clip = log_proposal.fix_request.shot.clip
    assert signed_in(people["artist"]).patch(_url(clip), {"input_colorspace": VIDEO},
                                             content_type="application/json").status_code == 403

    response = signed_in(people["supervisor"]).patch(_url(clip), {"input_colorspace": "Rec.709"},
                                                     content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["input_colorspace"] == VIDEO
    clip.refresh_from_db()
    assert clip.input_colorspace == VIDEO
    [requeued] = Job.objects.filter(fix_request=log_proposal.fix_request, state=JobState.QUEUED)
    event = AuditEvent.objects.get(action="clip.input_colorspace")
    assert (event.payload["from"], event.payload["to"], event.payload["jobs"]) == (LOG_C3, VIDEO, [requeued.pk])

    second = job_execute(job_id=requeued.pk, worker="test")
    assert second.version == log_proposal.version + 1
    as_log, as_video = (cv2.imread(str(review_frame_path(p.media_dir, "before", 1))).astype(np.float32)
                        for p in (log_proposal, second))
    # The same code values of the file, read as Rec.709 video rather than LogC3, display
    # differently (log is flat and bright through a video display transform).
    assert np.abs(as_log - as_video).mean() > 10


def test_an_unknown_space_is_refused_by_name_and_nothing_changes(small_proposal, people):
    clip = small_proposal.fix_request.shot.clip
    before = clip.input_colorspace
    response = signed_in(people["supervisor"]).patch(_url(clip), {"input_colorspace": "Kodak Vision3 5219"},
                                                     content_type="application/json")
    assert response.status_code == 400
    assert "Kodak Vision3 5219" in response.json()["detail"]
    clip.refresh_from_db()
    assert clip.input_colorspace == before
    assert not Job.objects.filter(state=JobState.QUEUED).exists()
    assert not AuditEvent.objects.filter(action="clip.input_colorspace").exists()


def test_the_same_space_by_another_name_queues_nothing(small_proposal, people):
    clip = small_proposal.fix_request.shot.clip
    response = signed_in(people["supervisor"]).patch(_url(clip), {"input_colorspace": "Rec.709"},
                                                     content_type="application/json")
    assert response.status_code == 200
    assert not Job.objects.filter(state=JobState.QUEUED).exists()


REC709_DISPLAY, REC709_VIEW = "Rec.1886 Rec.709 - Display", "ACES 2.0 - SDR 100 nits (Rec.709)"


def _ocio_rec709_codes(path, frame: int) -> np.ndarray:
    """uint8 [H, W, 3]: frame ``frame`` of the 10-bit ProRes at ``path`` decoded by PyAV to
    16-bit RGB (not through the engine), through OCIO's own default CPU processor for the
    display/view transform ARRI LogC3 → Rec.1886 Rec.709 display, ACES 2.0 SDR view, built here
    from the studio config, rounded to 8-bit display codes."""
    import av
    import PyOpenColorIO as ocio

    with av.open(str(path)) as container:
        for number, decoded in enumerate(container.decode(video=0)):
            if number == frame:
                rgb = decoded.to_ndarray(format="rgb48le").astype(np.float32) / 65535
                break
    config = ocio.Config.CreateFromFile("ocio://studio-config-latest")
    processor = config.getProcessor(ocio.DisplayViewTransform(src=LOG_C3, display=REC709_DISPLAY, view=REC709_VIEW))
    processor.getDefaultCPUProcessor().applyRGB(rgb)
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def test_the_review_stream_through_the_rec709_view_is_ocio_s_display_transform(log_proposal, people, tmp_path,
                                                                             settings):
    """The review stream of a LogC3 10-bit ProRes clip through the Rec.709 view matches OCIO's own
    processor output within 1 code value. What is compared, for the "before" side of frame 1:

    - OCIO: ``_ocio_rec709_codes`` (PyAV's decode of the file, OCIO's processor, 8-bit codes);
    - the worker's lossless picture: the uint8 display codes the review JPEG of the Rec.709 view
      is encoded from — ``_ProposalWriter.review_pictures`` of the engine's decode of the frame,
      the writer's views opened as the job opens them — within 1 code value at every pixel;
    - the stream: the JPEG the review room sends for that frame and side in the ``Rec.709`` view,
      decoded — within JPEG's loss of that picture (outside the burn-in), and not the sRGB view's.
    """
    from asgiref.sync import async_to_sync

    from reviews.worker.jobs import _ProposalWriter
    from reviews.media import encode_review_jpeg
    from .helpers import decode, mean_abs_difference, outside_watermark, receive_frames, websocket

    settings.LOUPE_FORENSIC_WATERMARK = False
    # Its ΔE2000 before/after name the display and view they were measured in.
    assert log_proposal.metrics["colour_measured_in"] == {"display": "sRGB - Display", "view": REC709_VIEW}
    clip = log_proposal.fix_request.shot.clip
    expected = _ocio_rec709_codes(clip.source_path, 1)

    writer = _ProposalWriter(tmp_path / "writer")
    writer.open_views(clip.input_colorspace)
    assert [(v["name"], v["display"], v["view"]) for v in writer.views.entries][:2] == [
        ("Rec.709", REC709_DISPLAY, REC709_VIEW), ("sRGB", "sRGB - Display", "ACES 2.0 - SDR 100 nits (Rec.709)")]
    [(_, original)] = list(FrameSource(clip.source_path, 1, 2, input_colorspace=clip.input_colorspace).frames(as_float=True))
    pictures = writer.review_pictures(original, original)
    lossless, srgb = pictures[0][0], pictures[1][0]
    assert np.abs(lossless.astype(np.int16) - expected).max() <= 1

    socket = websocket(f"/ws/review/{log_proposal.pk}/", people["director"])

    async def stream():
        assert (await socket.connect())[0]
        for view in ("Rec.709", "sRGB"):
            await socket.send_to(text_data=json.dumps({"type": "frame", "frame": 1, "sides": ["before"], "view": view}))
        got = await receive_frames(socket, 2)
        await socket.disconnect()
        return got

    # The stream sends the stored JPEG (re-encoding only the rows of the burn-in): decoded, it is
    # the lossless picture's JPEG, and not the sRGB view's.
    [(header, image), (srgb_header, srgb_image)] = async_to_sync(stream)()
    assert (header["view"], header["rendered_in"], header["side"], header["frame"]) == ("Rec.709", "Rec.709", "before", 1)
    clean = outside_watermark(image, "director")
    as_encoded = {name: decode(encode_review_jpeg(picture)) for name, picture in (("Rec.709", lossless), ("sRGB", srgb))}
    assert mean_abs_difference(image[clean], as_encoded["Rec.709"][clean]) < 0.5
    assert mean_abs_difference(image[clean], as_encoded["sRGB"][clean]) > 5
    assert srgb_header["view"] == "sRGB"
    assert mean_abs_difference(srgb_image[clean], as_encoded["sRGB"][clean]) < 0.5

"""A clip's input colour space, changed after ingest (#21): through the API by the supervisor
only; an unknown space is refused with its name and nothing changes; a change queues every fix
request that has run on the clip again, and the new version is rendered reading the clip in the
new space."""
import cv2
import numpy as np
import pytest

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

"""Jobs render proposals through the real engine and store them whole, or fail with a message."""
from pathlib import Path

import pytest
from django.conf import settings

from reviews.errors import ServiceError
from reviews.media import region_outline, trace_region_outline
from reviews.models import FixRequest, Job, JobState, Proposal
from reviews.services.fix_requests import fix_request_create
from reviews.worker.jobs import job_execute

pytestmark = pytest.mark.django_db


def test_a_job_makes_one_version_with_frames_region_and_metrics(proposal, fix_request):
    assert proposal.version == 1 and proposal.version_label == "v001"
    folder = Path(settings.MEDIA_ROOT) / proposal.media_dir
    assert len(list((folder / "frames").glob("*.png"))) == fix_request.duration_frames
    assert len(list((folder / "review" / "before").glob("*.jpg"))) == fix_request.duration_frames
    assert proposal.region_fraction == 1.0  # shot match changes the whole frame, and says so
    # The worker traced the region's outline (OpenCV) so that web processes read it as JSON.
    outline = region_outline(proposal.media_dir)
    assert outline == trace_region_outline(folder / "region.png") and len(outline) == 1
    xs, ys = zip(*outline[0])
    assert min(xs) == min(ys) == 0.0 and max(xs) > 0.99 and max(ys) > 0.99  # the whole frame
    assert (folder / "region_outline.json").is_file()
    assert proposal.metrics["delta_e2000_after"] < proposal.metrics["delta_e2000_before"]
    # A redelivered message for a finished job makes nothing more.
    assert job_execute(job_id=proposal.job_id, worker="again") is None
    assert Proposal.objects.filter(fix_request=fix_request).count() == 1
    fix_request.refresh_from_db()
    assert fix_request.status == "in_review"


def test_the_next_job_makes_the_next_version(proposal, fix_request, people):
    job = Job.objects.create(production=fix_request.production, fix_request=fix_request,
                             frames_total=fix_request.duration_frames)
    assert job_execute(job_id=job.pk, worker="test").version_label == "v002"


def test_an_engine_error_fails_the_job_and_stores_nothing(fix_request, people, media_root):
    # The clip file vanished from storage after ingest: the engine cannot read it.
    clip = fix_request.shot.clip
    clip.source_path = str(Path(clip.source_path).with_name("gone.mp4"))
    clip.save()
    job = Job.objects.create(production=fix_request.production, fix_request=fix_request,
                             frames_total=fix_request.duration_frames)
    assert job_execute(job_id=job.pk, worker="test") is None
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "gone.mp4" in job.error
    assert not Proposal.objects.exists()
    assert not any(Path(media_root).glob("proposals/*job-%d*" % job.pk))


def test_fix_request_frames_must_lie_in_the_shot(production, people, shots):
    with pytest.raises(ServiceError, match="source range 0–300"):
        fix_request_create(production=production, actor=people["supervisor"], shot=shots["CUPS"],
                           kind="color_match", frame_in=290, frame_out=310, reference_shot=shots["COFFEE"])
    with pytest.raises(ServiceError, match="Parameters"):
        fix_request_create(production=production, actor=people["supervisor"], shot=shots["CUPS"],
                           kind="color_match", frame_in=0, frame_out=10, reference_shot=shots["COFFEE"],
                           parameters={"strenght": 0.5})
    assert not FixRequest.objects.exists()

"""A reframe (punch-in) fix request renders through the real engine into a new version of the
shot at the delivery size, with its box track beside the frames (its lineage)."""
import json
from pathlib import Path

import cv2
import pytest
from django.conf import settings

from reviews.errors import ServiceError
from reviews.models import FixRequest, Job
from reviews.services.fix_requests import fix_request_create
from reviews.worker.jobs import job_execute

pytestmark = pytest.mark.django_db


def test_a_reframe_job_makes_a_version_at_the_delivery_size_with_its_box_track(production, people, shots):
    keyframes = [{"frame": 10, "box": [320, 180, 640, 360]}, {"frame": 12, "box": [400, 200, 640, 360]}]
    fix_request = fix_request_create(production=production, actor=people["supervisor"], shot=shots["CUPS"],
                                     kind="reframe", frame_in=10, frame_out=13, assignee=people["artist"],
                                     parameters={"size": [960, 540], "keyframes": keyframes})
    job = Job.objects.create(production=production, fix_request=fix_request, frames_total=3,
                             created_by=people["artist"])

    proposal = job_execute(job_id=job.pk, worker="test")

    assert proposal is not None and proposal.version_label == "v001"
    folder = Path(settings.MEDIA_ROOT) / proposal.media_dir
    frames = sorted((folder / "frames").glob("*.png"))
    assert [cv2.imread(str(f)).shape for f in frames] == [(540, 960, 3)] * 3
    track = json.loads((folder / "box_track.json").read_text())["box_track"]
    assert track["10"] == [320, 180, 640, 360] and track["12"] == [400, 200, 640, 360]
    assert 320 < track["11"][0] < 400  # eased between the marks
    assert proposal.region_fraction == 1.0
    assert proposal.metrics["scale"] == 1.5
    assert proposal.parameters["keyframes"] == keyframes
    assert proposal.method.startswith("engine.fixes.reframe")


def test_a_reframe_refuses_a_box_of_another_aspect_and_a_server_path(production, people, shots):
    with pytest.raises(ServiceError, match="aspect"):
        fix_request_create(production=production, actor=people["supervisor"], shot=shots["CUPS"], kind="reframe",
                           frame_in=0, frame_out=5, parameters={"box": [0, 0, 640, 400], "size": [1920, 1080]})
    with pytest.raises(ServiceError, match="model cannot be set here"):
        fix_request_create(production=production, actor=people["supervisor"], shot=shots["CUPS"], kind="reframe",
                           frame_in=0, frame_out=5, parameters={"box": [0, 0, 640, 360], "size": [1920, 1080],
                                                                 "model": "/etc/passwd"})
    assert not FixRequest.objects.exists()

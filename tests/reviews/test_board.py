"""The shot board's rules, through the API as a browser or script calls it: bulk assignment
(supervisors only, fixes still in work only, audited), masks drawn on a frame (checked against
the fix's frames and the picture), sorting and filtering, and each artist's assignments."""
import datetime
import json

import pytest
from django.test import Client

from reviews.models import AuditEvent, FixRequest, FixRequestStatus
from reviews.selectors import shot_board
from reviews.services.fix_requests import fix_request_create

pytestmark = pytest.mark.django_db


def client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post(user, url, body):
    return client(user).post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def fixes(production, people, shots):
    supervisor = people["supervisor"]
    made = {
        "open": fix_request_create(production=production, actor=supervisor, shot=shots["CUPS"], kind="color_match",
                                   frame_in=0, frame_out=10, reference_shot=shots["COFFEE"],
                                   due_date=datetime.date(2026, 12, 3)),
        "coffee": fix_request_create(production=production, actor=supervisor, shot=shots["COFFEE"], kind="relight",
                                     frame_in=0, frame_out=10, reference_shot=shots["CUPS"],
                                     due_date=datetime.date(2026, 12, 1)),
        "approved": fix_request_create(production=production, actor=supervisor, shot=shots["CUPS"],
                                       kind="color_match", frame_in=20, frame_out=30, reference_shot=shots["COFFEE"]),
    }
    FixRequest.objects.filter(pk=made["approved"].pk).update(status=FixRequestStatus.APPROVED)
    return made


def test_bulk_assign_moves_only_fixes_still_in_work_and_audits_each(production, people, shots, fixes):
    response = post(people["supervisor"], "/api/productions/TEST/assignments/",
                    {"shots": [shots["CUPS"].pk, shots["COFFEE"].pk], "assignee": people["artist"].pk})
    assert response.status_code == 200, response.content
    assert sorted(f["id"] for f in response.json()) == sorted([fixes["open"].pk, fixes["coffee"].pk])
    assert FixRequest.objects.get(pk=fixes["approved"].pk).assignee is None  # a finished fix keeps its history
    events = AuditEvent.objects.filter(production=production, action="fix_request.assign")
    assert sorted(e.payload["shot"] for e in events) == ["COFFEE", "CUPS"]

    mine = client(people["artist"]).get("/api/productions/TEST/assignments/").json()["results"]
    assert [f["id"] for f in mine] == [fixes["coffee"].pk, fixes["open"].pk]  # soonest due first
    assert client(people["director"]).get("/api/productions/TEST/assignments/").json()["results"] == []


def test_only_a_supervisor_assigns(people, shots, fixes):
    for role in ("director", "artist", "producer", "performer"):
        response = post(people[role], "/api/productions/TEST/assignments/",
                        {"shots": [shots["CUPS"].pk], "assignee": people["artist"].pk})
        assert response.status_code == 403, role
    assert not FixRequest.objects.filter(assignee__isnull=False).exists()


def test_assigning_to_an_outsider_or_another_productions_shot_changes_nothing(people, shots, fixes):
    outsider = post(people["supervisor"], "/api/productions/TEST/assignments/",
                    {"shots": [shots["CUPS"].pk], "assignee": people["outsider"].pk})
    assert outsider.status_code == 400 and "not a member of TEST" in outsider.json()["detail"]
    unknown = post(people["supervisor"], "/api/productions/TEST/assignments/",
                   {"shots": [shots["CUPS"].pk, 987654], "assignee": people["artist"].pk})
    assert unknown.status_code == 400 and "not one of this production's shots" in unknown.json()["detail"]
    assert not FixRequest.objects.filter(assignee__isnull=False).exists()


MALFORMED_MASKS = [
    ({"frame": 12, "shape": "rectangle", "points": [[10, 10], [50, 40]]}, "one of the fix's frames, 0–9"),
    ({"frame": 3, "shape": "circle", "points": [[10, 10], [50, 40]]}, "rectangle, polygon"),
    ({"frame": 3, "shape": "rectangle", "points": [[10, 10], [5000, 40]]}, "inside the picture, 0–1280 × 0–720"),
    ({"frame": 3, "shape": "rectangle", "points": [[10, 10], [10, 40]]}, "width and a height"),
    ({"frame": 3, "shape": "polygon", "points": [[10, 10], [50, 40]]}, "three points or more"),
    ({"frame": 3, "shape": "polygon", "points": [[10, "x"], [50, 40], [1, 1]]}, "pairs of numbers"),
    ({"frame": 3, "points": []}, '{"frame": N'),
]


def test_a_malformed_mask_is_refused_with_what_is_wrong(people, shots):
    for mask, message in MALFORMED_MASKS:
        response = post(people["supervisor"], "/api/productions/TEST/fix-requests/", {
            "shot": shots["CUPS"].pk, "kind": "color_match", "frame_in": 0, "frame_out": 10,
            "reference_shot": shots["COFFEE"].pk, "mask": mask})
        assert response.status_code == 400 and message in response.json()["detail"], (mask, response.content)
    assert not FixRequest.objects.exists()


def test_a_drawn_rectangle_is_stored_corner_to_corner(people, shots):
    response = post(people["supervisor"], "/api/productions/TEST/fix-requests/", {
        "shot": shots["CUPS"].pk, "kind": "color_match", "frame_in": 0, "frame_out": 10,
        "reference_shot": shots["COFFEE"].pk,
        "mask": {"frame": 4, "shape": "rectangle", "points": [[600.04, 400], [100, 50.26]]}})
    assert response.status_code == 201, response.content
    assert FixRequest.objects.get().mask == {"frame": 4, "shape": "rectangle", "points": [[100.0, 50.3], [600.0, 400.0]]}


def test_the_board_sorts_and_filters_by_fix_kind(production, shots, fixes):
    def codes(**options):
        return [shot.code for shot in shot_board(production, **options)]

    assert codes(sort="due") == ["COFFEE", "CUPS"]
    assert codes(sort="-due") == ["CUPS", "COFFEE"]
    assert codes(sort="code") == ["COFFEE", "CUPS"] and codes(sort="-code") == ["CUPS", "COFFEE"]
    assert codes(kind="relight") == ["COFFEE"]
    assert codes(kind="color_match") == ["CUPS"]  # its approved color_match does not count, its open one does
    assert codes(sort="no-such-key") == codes(sort="cut")


def test_api_lists_filter_and_page_on_request(people, shots, fixes):
    director = client(people["director"])
    everything = director.get("/api/productions/TEST/fix-requests/").json()
    # Paginated without asking: a cursor page, newest first, no count (issue #24).
    assert everything["next"] is None and [f["id"] for f in everything["results"]] == sorted(
        (fix.pk for fix in fixes.values()), reverse=True)

    page = director.get("/api/productions/TEST/fix-requests/?limit=2").json()
    assert len(page["results"]) == 2 and "cursor=" in page["next"] and "count" not in page
    # A fix request filed while someone pages through is neither repeated nor skipped.
    fix_request_create(production=fixes["open"].production, actor=people["supervisor"], shot=shots["COFFEE"],
                       kind="color_match", frame_in=0, frame_out=10, reference_shot=shots["CUPS"])
    rest = director.get(page["next"]).json()
    assert [f["id"] for f in page["results"] + rest["results"]] == [f["id"] for f in everything["results"]]

    def ids(query):
        return [f["id"] for f in director.get(f"/api/productions/TEST/fix-requests/?{query}").json()["results"]]

    assert ids("kind=relight") == [fixes["coffee"].pk]
    assert ids(f"shot={shots['CUPS'].pk}&status=open") == [fixes["open"].pk]
    assert ids("due_before=2026-12-02") == [fixes["coffee"].pk]
    # Another production's or a made-up id matches nothing; neither is confirmed to exist.
    assert ids("shot=987654") == []

    bad = director.get("/api/productions/TEST/fix-requests/?status=nonsense")
    assert bad.status_code == 400 and "status" in bad.content.decode()


def test_board_states_say_what_happened(production, people, shots, fixes):
    """Once no fix of a shot is in work, the board says what became of them — "Rejected" before
    "Approved" — and the Job column shows the shot's last job instead of nothing."""
    from reviews.models import Job, JobState

    FixRequest.objects.filter(pk=fixes["open"].pk).update(status=FixRequestStatus.REJECTED)
    FixRequest.objects.filter(pk=fixes["coffee"].pk).update(status=FixRequestStatus.APPROVED)
    Job.objects.create(production=production, fix_request=fixes["open"], state=JobState.SUCCEEDED, frames_total=10,
                       frames_done=10)
    assert {shot.code: shot.board_status for shot in shot_board(production)} == {"CUPS": "rejected",
                                                                                 "COFFEE": "approved"}
    assert [shot.code for shot in shot_board(production, status="rejected")] == ["CUPS"]
    page = client(people["supervisor"]).get("/productions/TEST/shots/").content.decode()
    assert '<span class="badge rejected">Rejected</span>' in page
    assert '<span class="badge approved">Approved</span>' in page
    assert "Last job: succeeded" in page and ">Done<" not in page


def test_filing_with_run_queues_the_job_and_a_draft_waits(people, shots):
    """``run: true`` (the board's "File and run") queues the fix's first job with it, in one
    transaction; without it the fix is a draft that waits for Run. An artist cannot file."""
    body = {"shot": shots["CUPS"].pk, "kind": "color_match", "frame_in": 0, "frame_out": 4,
            "reference_shot": shots["COFFEE"].pk}
    draft = post(people["supervisor"], "/api/productions/TEST/fix-requests/", body)
    ran = post(people["supervisor"], "/api/productions/TEST/fix-requests/", body | {"run": True})
    assert (draft.status_code, ran.status_code) == (201, 201)
    assert (draft.json()["status"], ran.json()["status"]) == ("open", "in_progress") and "run" not in ran.json()
    assert not FixRequest.objects.get(pk=draft.json()["id"]).jobs.exists()
    [job] = FixRequest.objects.get(pk=ran.json()["id"]).jobs.all()
    assert (job.state, job.created_by) == ("queued", people["supervisor"])
    assert AuditEvent.objects.filter(action="job.submit", target_id=str(job.pk)).exists()
    checks = post(people["supervisor"], "/api/productions/TEST/continuity-checks/",
                  {"shots": [shots["COFFEE"].pk, shots["CUPS"].pk], "run": True})
    assert checks.status_code == 201 and [c["status"] for c in checks.json()] == ["in_progress"]

"""A fix request's mask sequence on real footage (DAVIS tennis, 432×240, five frames), through
the API as the shot board calls it: the mask job segments the outlined player through the
frames and stores a PNG mask a frame; a subtract stroke on a later frame re-propagates the mask
from there; the removal then works on the stored masks (its region is their union) and keeps
a copy beside its frames. Bad strokes are refused naming the problem, with nothing stored; other
productions' people and artists are refused."""
import cv2
import numpy as np
import pytest

from reviews.media import mask_frame_path, mask_media_dir, media_path
from reviews.models import AuditEvent, FixRequest, Job, JobStage
from reviews.services.clips import clip_ingest
from reviews.services.fix_requests import fix_request_create
from reviews.services.productions import membership_add, production_create
from reviews.services.shots import shot_create
from reviews.worker.jobs import job_execute

from .helpers import post_json, signed_in

pytestmark = pytest.mark.django_db

FRAMES = (10, 15)




@pytest.fixture
def removal(production, people, footage):
    """An object removal of the tennis player (margin 0: the region is the mask itself),
    outlined on frame 10 with the convex hull of the sequence's own mask."""
    clip = clip_ingest(production=production, path=footage / "vos" / "tennis" / "frames", actor=people["supervisor"])
    shot = shot_create(production=production, clip=clip, code="TENNIS", source_in=0, source_out=clip.frame_count,
                       actor=people["supervisor"])
    mask = cv2.imread(str(footage / "vos" / "tennis" / "masks" / "00010.png"), cv2.IMREAD_GRAYSCALE) > 0
    hull = cv2.convexHull(cv2.findNonZero(mask.astype(np.uint8)))[:, 0, :]
    return fix_request_create(production=production, actor=people["supervisor"], shot=shot, kind="object_removal",
                              frame_in=FRAMES[0], frame_out=FRAMES[1], parameters={"margin_px": 0},
                              mask={"frame": 10, "shape": "polygon", "points": hull.tolist()})


def url(fix_request, tail=""):
    return f"/api/productions/TEST/fix-requests/{fix_request.pk}/mask/{tail}"


def newest_mask_job(fix_request) -> Job:
    return Job.objects.filter(fix_request=fix_request, stage=JobStage.MASK).latest("pk")


def run_newest_mask_job(fix_request) -> dict[int, np.ndarray]:
    """Execute the newest mask job as a worker does; its stored masks by frame (bool)."""
    job = newest_mask_job(fix_request)
    assert job_execute(job_id=job.pk, worker="test") is None
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    masks = {}
    for frame in range(*FRAMES):
        image = cv2.imread(str(mask_frame_path(mask_media_dir(job.pk), frame)), cv2.IMREAD_UNCHANGED)
        assert image is not None and image.ndim == 2 and set(np.unique(image)) <= {0, 255}
        masks[frame] = image > 0
    return masks


def test_masks_are_stored_corrected_by_a_stroke_and_used_by_the_removal(people, removal):
    supervisor = people["supervisor"]
    started = post_json(supervisor, url(removal))
    assert started.status_code == 201, started.json()
    assert started.json()["job"]["stage"] == "mask" and started.json()["frame_url"] is None
    first = run_newest_mask_job(removal)
    assert all(mask.sum() > 500 for mask in first.values())  # the player on every frame, not nothing
    assert all(mask.mean() < 0.3 for mask in first.values())  # ... and not the frame
    shown = signed_in(supervisor).get(url(removal)).json()
    assert shown["frame_url"] == f"/media/masks/{shown['job']['id']}/{{frame}}.png"
    served = signed_in(supervisor).get(shown["frame_url"].format(frame=12))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert np.array_equal(cv2.imdecode(np.frombuffer(b"".join(served.streaming_content), np.uint8), 0) > 0, first[12])

    # Take the player's lower half out on frame 12 with a broad brush: a keyframe from there on.
    ys, xs = np.nonzero(first[12])
    middle = int(np.median(ys))
    stroke = {"frame": 12, "mode": "subtract", "radius": 40,
              "points": [[float(xs.min()), middle + 40.0], [float(xs.max()), middle + 40.0]]}
    answer = post_json(supervisor, url(removal, "strokes/"), stroke)
    assert answer.status_code == 201, answer.json()
    assert answer.json()["strokes"] == [stroke] and answer.json()["job"]["state"] == "queued"
    second = run_newest_mask_job(removal)
    assert np.array_equal(second[10], first[10])  # the drawn keyframe keeps its outline
    below = np.zeros_like(first[12])
    below[middle + 1:] = True
    assert (second[12] & below).sum() < 0.05 * (first[12] & below).sum()  # the stroke took it out
    for frame in (13, 14):  # and the mask re-propagated from there
        assert (second[frame] & below).sum() < 0.5 * (first[frame] & below).sum(), frame

    ran = post_json(supervisor, f"/api/productions/TEST/fix-requests/{removal.pk}/jobs/")
    assert ran.status_code == 201 and ran.json()["stage"] == "fix"
    proposal = job_execute(job_id=ran.json()["id"], worker="test")
    assert proposal is not None, Job.objects.get(pk=ran.json()["id"]).error
    folder = media_path(proposal.media_dir)
    region = cv2.imread(str(folder / "region.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert np.array_equal(region, np.logical_or.reduce(list(second.values())))
    for frame, mask in second.items():  # the mask it was made with, kept with the proposal
        assert np.array_equal(cv2.imread(str(folder / "segmentation" / f"{frame:06d}.png"), 0) > 0, mask)


def test_a_fix_waits_for_its_mask_and_a_failed_mask_fails_the_fix(people, removal):
    supervisor = people["supervisor"]
    post_json(supervisor, url(removal))
    refused = post_json(supervisor, f"/api/productions/TEST/fix-requests/{removal.pk}/jobs/")
    assert refused.status_code == 409 and "still being propagated" in refused.json()["detail"]
    # A subtract stroke that takes the whole outline out of the keyframe: the mask job fails ...
    whole = {"frame": 10, "mode": "subtract", "radius": 500, "points": [[216, 120]]}
    assert post_json(supervisor, url(removal, "strokes/"), whole).status_code == 201
    assert Job.objects.filter(fix_request=removal, stage=JobStage.MASK, state="cancelled").count() == 1
    job = newest_mask_job(removal)
    job_execute(job_id=job.pk, worker="test")
    job.refresh_from_db()
    assert job.state == "failed" and "covers no pixel" in job.error
    # ... and the fix does not fall back on a mask that misses the correction.
    ran = post_json(supervisor, f"/api/productions/TEST/fix-requests/{removal.pk}/jobs/")
    assert job_execute(job_id=ran.json()["id"], worker="test") is None
    assert f"newest mask job ({job.pk}) has failed" in Job.objects.get(pk=ran.json()["id"]).error


BAD_STROKES = [
    ({"frame": 12, "mode": "erase", "points": [[10, 10]], "radius": 5}, "mode must be one of add, subtract"),
    ({"frame": 30, "mode": "add", "points": [[10, 10]], "radius": 5}, "frame must be one of the fix's frames, 10–14"),
    ({"frame": 12, "mode": "add", "points": [[10, 500]], "radius": 5}, "inside the picture, 0–432 × 0–240"),
    ({"frame": 12, "mode": "add", "points": [], "radius": 5}, "non-empty list"),
    ({"frame": 12, "mode": "add", "points": [[1, "a"]], "radius": 5}, "pairs of numbers"),
    ({"frame": 12, "mode": "add", "points": [[10, 10]], "radius": 0}, "radius must be a number of pixels"),
    ({"frame": 12, "mode": "add", "points": [[10, 10]]}, 'A stroke is {"frame"'),
    ([[10, 10]], 'A stroke is {"frame"'),
]


def test_a_bad_stroke_is_refused_naming_the_problem_and_nothing_is_stored(people, removal):
    for stroke, problem in BAD_STROKES:
        answer = post_json(people["supervisor"], url(removal, "strokes/"), stroke)
        assert answer.status_code == 400 and problem in answer.json()["detail"], (stroke, answer.json())
    assert FixRequest.objects.get(pk=removal.pk).mask_strokes == []
    assert not Job.objects.filter(fix_request=removal).exists()


def test_other_productions_people_and_artists_are_refused(people, removal):
    post_json(people["supervisor"], url(removal))
    job = newest_mask_job(removal)
    stroke = {"frame": 12, "mode": "add", "points": [[10, 10]], "radius": 5}
    other = production_create(code="OTHER", name="Other production", actor=None)
    membership_add(production=other, user=people["outsider"], role="supervisor", actor=None)
    for person in (people["outsider"],):
        assert post_json(person, url(removal)).status_code == 404
        assert post_json(person, url(removal, "strokes/"), stroke).status_code == 404
        assert signed_in(person).get(url(removal)).status_code == 404
        assert signed_in(person).get(f"/media/masks/{job.pk}/12.png").status_code == 404
        assert post_json(person, f"/api/productions/OTHER/fix-requests/{removal.pk}/mask/strokes/", stroke).status_code == 404
    assert post_json(people["artist"], url(removal, "strokes/"), stroke).status_code == 403
    assert FixRequest.objects.get(pk=removal.pk).mask_strokes == []
    # A kind that uses no mask sequence says so.
    relight = fix_request_create(production=removal.production, actor=people["supervisor"], shot=removal.shot,
                                 kind="relight", frame_in=10, frame_out=15, reference_shot=removal.shot)
    answer = post_json(people["supervisor"], url(relight))
    assert answer.status_code == 400 and "does not use a mask sequence" in answer.json()["detail"]


def test_the_newest_stroke_is_undone_and_the_mask_repropagates_without_it(people, removal):
    supervisor = people["supervisor"]
    first = {"frame": 12, "mode": "subtract", "points": [[200, 200]], "radius": 20}
    second = {"frame": 13, "mode": "add", "points": [[10, 10], [30, 10]], "radius": 5}
    assert post_json(supervisor, url(removal, "strokes/"), first).status_code == 201
    assert post_json(supervisor, url(removal, "strokes/"), second).status_code == 201
    painted = newest_mask_job(removal)

    undone = signed_in(supervisor).delete(url(removal, "strokes/last/"))
    assert undone.status_code == 200, undone.json()
    assert undone.json()["strokes"] == [first] and undone.json()["job"]["state"] == "queued"
    assert FixRequest.objects.get(pk=removal.pk).mask_strokes == [first]
    job = newest_mask_job(removal)
    assert job.pk != painted.pk and undone.json()["job"]["id"] == job.pk
    painted.refresh_from_db()
    assert painted.state == "cancelled"  # its result would hold the undone stroke
    event = AuditEvent.objects.filter(action="fix_request.mask_stroke_undo").get()
    assert event.payload == {"job": job.pk, "stroke": second, "strokes": 1}
    masks = run_newest_mask_job(removal)  # the engine re-propagates with the one stroke left
    assert not masks[13][5:16, 5:36].any()  # the undone add stroke is not in the mask

    assert signed_in(people["artist"]).delete(url(removal, "strokes/last/")).status_code == 403
    assert signed_in(supervisor).delete(url(removal, "strokes/last/")).status_code == 200
    empty = signed_in(supervisor).delete(url(removal, "strokes/last/"))
    assert empty.status_code == 400 and empty.json()["detail"] == "The mask has no correction stroke to undo."
    assert FixRequest.objects.get(pk=removal.pk).mask_strokes == []
    assert AuditEvent.objects.filter(action="fix_request.mask_stroke_undo").count() == 2

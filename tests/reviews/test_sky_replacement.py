"""Sky replacement as a fix request of the portal, on real footage through the real worker code:
a background replacement with key "sky" on the pier at dusk (Harmonizer background.mp4, 1080p)
gets its sky proposed by a mask job (no outline drawn), corrected by a subtract stroke, and the
fix composites the snow rally's sky (frames 168–171) inside that mask sequence only — every
pixel outside the region is the source's. A shot without a sky (the aerial city pass) fails
its mask job and its fix with "no sky found"; a chroma-key replacement refuses a mask sequence;
other productions' people and artists are refused."""
import cv2
import numpy as np
import pytest

from engine.media.decode import FrameSource
from reviews.media import mask_frame_path, mask_media_dir, media_path
from reviews.models import Job, JobStage
from reviews.services.clips import clip_ingest
from reviews.services.fix_requests import fix_request_create
from reviews.services.productions import membership_add, production_create
from reviews.services.shots import shot_create
from reviews.worker.jobs import job_execute

from .helpers import post_json

pytestmark = pytest.mark.django_db

FRAMES = (10, 14)




def shot_of(production, people, path, code, source_in=0, source_out=None):
    clip = clip_ingest(production=production, path=path, actor=people["supervisor"])
    return shot_create(production=production, clip=clip, code=code, source_in=source_in,
                       source_out=source_out or clip.frame_count, actor=people["supervisor"])


@pytest.fixture
def sky_plate(production, people, footage):
    return shot_of(production, people, footage / "clips" / "propainter_running_car.mp4", "RALLY", 168, 172)


def sky_fix(production, people, shot, plate, **parameters):
    return fix_request_create(production=production, actor=people["supervisor"], shot=shot,
                              kind="background_replace", frame_in=FRAMES[0], frame_out=FRAMES[1],
                              reference_shot=plate, parameters={"key": "sky", **parameters})


def url(fix_request, tail=""):
    return f"/api/productions/TEST/fix-requests/{fix_request.pk}/mask/{tail}"


def run_newest_mask_job(fix_request) -> Job:
    job = Job.objects.filter(fix_request=fix_request, stage=JobStage.MASK).latest("pk")
    assert job_execute(job_id=job.pk, worker="test") is None
    job.refresh_from_db()
    return job


def stored_mattes(job) -> dict[int, np.ndarray]:
    mattes = {}
    for frame in range(*FRAMES):
        image = cv2.imread(str(mask_frame_path(mask_media_dir(job.pk), frame)), cv2.IMREAD_UNCHANGED)
        assert image is not None and image.ndim == 2 and image.dtype == np.uint8
        mattes[frame] = image
    return mattes


def test_the_sky_is_proposed_corrected_and_replaced_inside_its_mask_only(production, people, footage, sky_plate):
    supervisor = people["supervisor"]
    pier = shot_of(production, people, footage / "matting" / "harmonizer_video" / "background.mp4", "PIER")
    fix_request = sky_fix(production, people, pier, sky_plate)
    assert fix_request.mask is None  # nothing drawn: the sky is proposed

    started = post_json(supervisor, url(fix_request))
    assert started.status_code == 201, started.json()
    job = run_newest_mask_job(fix_request)
    assert job.state == "succeeded", job.error
    first = stored_mattes(job)
    height = first[10].shape[0]
    for matte in first.values():
        assert matte[0].mean() > 0.9 * 255  # the sky along the top edge
        assert matte[height * 2 // 3:].max() == 0  # not the sea or the beach
        assert ((matte > 10) & (matte < 245)).sum() > 500  # soft edges along the roof line

    # Take the top-left corner out of the sky on frame 12: a keyframe from there.
    stroke = {"frame": 12, "mode": "subtract", "radius": 120, "points": [[0, 0], [300, 0], [300, 100]]}
    assert post_json(supervisor, url(fix_request, "strokes/"), stroke).status_code == 201
    job = run_newest_mask_job(fix_request)
    assert job.state == "succeeded", job.error
    second = stored_mattes(job)
    assert second[12][:100, :300].max() < 128 and first[12][:100, :300].min() > 128

    ran = post_json(supervisor, f"/api/productions/TEST/fix-requests/{fix_request.pk}/jobs/")
    assert ran.status_code == 201, ran.json()
    proposal = job_execute(job_id=ran.json()["id"], worker="test")
    assert proposal is not None, Job.objects.get(pk=ran.json()["id"]).error
    assert "sky matte" in proposal.method
    folder = media_path(proposal.media_dir)
    region = cv2.imread(str(folder / "region.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert 0.2 < region.mean() < 0.6 and not region[height * 3 // 4:].any()
    sources = dict(FrameSource(pier.clip.source_path, first=FRAMES[0], stop=FRAMES[1]).frames())
    for number, source in sources.items():
        after = cv2.cvtColor(cv2.imread(str(folder / "frames" / f"{number:06d}.png")), cv2.COLOR_BGR2RGB)
        assert np.array_equal(after[~region], source[~region]), number  # bit for bit outside the region
        sky = second[number] > 250
        assert np.abs(after[sky].astype(int) - source[sky]).mean() > 5  # the new sky is in
    # The stroke's corner stayed the shot's own on frame 12 (it is no longer sky there).
    after = cv2.cvtColor(cv2.imread(str(folder / "frames" / "000012.png")), cv2.COLOR_BGR2RGB)
    assert np.abs(after[:60, :200].astype(int) - sources[12][:60, :200]).mean() < 2
    for frame, matte in second.items():  # the mattes it was made with, kept with the proposal
        assert np.array_equal(cv2.imread(str(folder / "segmentation" / f"{frame:06d}.png"), 0), matte)


def test_a_shot_without_a_sky_says_so(production, people, footage, sky_plate):
    aerial = shot_of(production, people, footage / "clips" / "harmonizer_aerial_dusk_lowlight.mp4", "AERIAL")
    fix_request = sky_fix(production, people, aerial, sky_plate)
    # Without a mask job the fix proposes the sky itself, and fails honestly.
    ran = post_json(people["supervisor"], f"/api/productions/TEST/fix-requests/{fix_request.pk}/jobs/")
    assert job_execute(job_id=ran.json()["id"], worker="test") is None
    assert "no sky found in frames 10–13" in Job.objects.get(pk=ran.json()["id"]).error
    # So does its mask job, naming what to do instead.
    assert post_json(people["supervisor"], url(fix_request)).status_code == 201
    job = run_newest_mask_job(fix_request)
    assert job.state == "failed" and "no sky found" in job.error and "draw the sky's outline" in job.error


def test_only_a_sky_key_takes_a_mask_sequence_and_strangers_are_refused(production, people, footage, sky_plate):
    pier = shot_of(production, people, footage / "matting" / "harmonizer_video" / "background.mp4", "PIER")
    green = fix_request_create(production=production, actor=people["supervisor"], shot=pier,
                               kind="background_replace", frame_in=10, frame_out=14, reference_shot=sky_plate,
                               parameters={"key": "green"})
    answer = post_json(people["supervisor"], url(green))
    assert answer.status_code == 400 and 'a mask sequence is used with key "sky"' in answer.json()["detail"]
    bad = post_json(people["supervisor"], "/api/productions/TEST/fix-requests/", {
        "shot": pier.pk, "kind": "background_replace", "frame_in": 10, "frame_out": 14,
        "reference_shot": sky_plate.pk, "parameters": {"key": "moon"}})
    assert bad.status_code == 400 and "green, blue, clean_plate, sky" in bad.json()["detail"]

    fix_request = sky_fix(production, people, pier, sky_plate)
    stroke = {"frame": 12, "mode": "add", "points": [[10, 10]], "radius": 5}
    other = production_create(code="OTHER", name="Other production", actor=None)
    membership_add(production=other, user=people["outsider"], role="supervisor", actor=None)
    assert post_json(people["outsider"], url(fix_request)).status_code == 404
    assert post_json(people["outsider"], url(fix_request, "strokes/"), stroke).status_code == 404
    assert post_json(people["artist"], url(fix_request)).status_code == 403
    assert post_json(people["artist"], url(fix_request, "strokes/"), stroke).status_code == 403
    assert not Job.objects.filter(fix_request=fix_request).exists()

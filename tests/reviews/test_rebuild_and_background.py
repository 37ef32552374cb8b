"""Rebuilt frames and background replacement as fix kinds of the portal, on real footage
through the real engine: dropped frames of the tennis sequence rebuilt from their neighbours
(and every other frame handed on untouched), and a real green-screen performance put in front
of a new background plate with its matte stored beside the frames."""
import cv2
import numpy as np
import pytest

from engine.media.decode import FrameSource
from reviews.errors import ServiceError
from reviews.media import media_path
from reviews.models import Job
from reviews.services.clips import clip_ingest
from reviews.services.fix_requests import fix_request_create
from reviews.worker.jobs import job_execute
from reviews.services.shots import shot_create

pytestmark = pytest.mark.django_db


def shot_of(production, people, path, code, frames=None):
    clip = clip_ingest(production=production, path=path, actor=people["supervisor"])
    return shot_create(production=production, clip=clip, code=code, source_in=0,
                       source_out=frames or clip.frame_count, actor=people["supervisor"])


def run(fix_request, people):
    job = Job.objects.create(production=fix_request.production, fix_request=fix_request,
                             frames_total=fix_request.duration_frames, created_by=people["artist"])
    proposal = job_execute(job_id=job.pk, worker="test")
    assert proposal is not None, Job.objects.get(pk=job.pk).error
    return proposal


def rendered(proposal, number: int) -> np.ndarray:
    path = media_path(proposal.media_dir) / "frames" / f"{number:06d}.png"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.PSNR(a, b))


def test_dropped_frames_are_rebuilt_and_the_others_pass_untouched(production, people, footage):
    tennis = shot_of(production, people, footage / "vos" / "tennis" / "frames", "TENNIS")
    fix_request = fix_request_create(production=production, actor=people["supervisor"], shot=tennis,
                                     kind="frame_rebuild", frame_in=10, frame_out=16,
                                     parameters={"missing": [12, 13]})

    proposal = run(fix_request, people)

    assert (proposal.frame_in, proposal.frame_out) == (10, 16)
    assert proposal.metrics["frames_interpolated"] == 2
    originals = dict(FrameSource(tennis.clip.source_path, first=10, stop=16).frames())
    for number in (10, 11, 14, 15):
        assert np.array_equal(rendered(proposal, number), originals[number])
    for number in (12, 13):
        # The truth is known (the frames were declared missing, not lost): the rebuild must be
        # closer to it than the obvious stopgap, holding the last good frame.
        assert psnr(rendered(proposal, number), originals[number]) > psnr(originals[11], originals[number]) + 1.0


def test_frames_to_rebuild_must_lie_in_the_fix_request(production, people, footage):
    tennis = shot_of(production, people, footage / "vos" / "tennis" / "frames", "TENNIS")
    for parameters, message in (({"missing": [9]}, "lie outside the fix request's frames 10–15"),
                                ({}, "name the frames to rebuild"),
                                ({"missing": list(range(10, 16))}, "nothing to rebuild from")):
        with pytest.raises(ServiceError, match=message):
            fix_request_create(production=production, actor=people["supervisor"], shot=tennis,
                               kind="frame_rebuild", frame_in=10, frame_out=16, parameters=parameters)


def test_a_green_screen_foreground_goes_over_the_new_plate_and_its_matte_is_stored(production, people, footage):
    dancer = shot_of(production, people, footage / "matting" / "greenscreen_rpi" / "greenscreen_furhat_1_C_original.mp4",
                     "DANCER", frames=40)
    plate = shot_of(production, people, footage / "matting" / "harmonizer_video" / "background.mp4", "PIER",
                    frames=10)
    fix_request = fix_request_create(production=production, actor=people["supervisor"], shot=dancer,
                                     kind="background_replace", frame_in=30, frame_out=33, reference_shot=plate,
                                     parameters={"key": "green", "harmonise_strength": 0.0})

    proposal = run(fix_request, people)

    assert (proposal.frame_in, proposal.frame_out) == (30, 33)
    folder = media_path(proposal.media_dir)
    originals = dict(FrameSource(dancer.clip.source_path, first=30, stop=33).frames())
    plates = [cv2.resize(frame, (1500, 1080), interpolation=cv2.INTER_AREA)
              for _, frame in FrameSource(plate.clip.source_path, first=0, stop=3).frames()]
    for index, number in enumerate(range(30, 33)):
        matte = cv2.imread(str(folder / "matte" / f"{number:06d}.png"), cv2.IMREAD_GRAYSCALE)
        assert matte.shape == (1080, 1500)
        background, foreground = matte == 0, matte == 255
        assert 0.05 < foreground.mean() < 0.8 and background.mean() > 0.2  # a person, not the frame
        after = rendered(proposal, number).astype(np.int16)
        # Where the matte is background the new plate shows (regrained); where it is the
        # performer, the performer (despilled: green pulled down, nothing else moved far).
        to_plate = np.abs(after[background] - plates[index][background]).mean()
        assert to_plate < 6
        assert np.abs(after[background] - originals[number][background]).mean() > 5 * to_plate
        assert np.abs(after[foreground] - originals[number][foreground].astype(np.int16)).mean() < 12


def test_a_clean_plate_key_needs_the_shots_clean_plate(production, people, footage):
    tennis = shot_of(production, people, footage / "vos" / "tennis" / "frames", "TENNIS")
    with pytest.raises(ServiceError, match="needs a clean plate of shot TENNIS"):
        fix_request_create(production=production, actor=people["supervisor"], shot=tennis,
                           kind="background_replace", frame_in=0, frame_out=1, reference_shot=tennis,
                           parameters={"key": "clean_plate"})


def test_a_clean_plate_key_keys_against_the_clean_plate_made_from_the_shot(production, people, footage, tmp_path):
    """A locked-off shot whose first frame is the empty set (Background-Matting's captured clean
    plate) and whose second has the person in it: a clean plate made from the first frame, then
    the background behind the person replaced by keying against that plate."""
    inputs = footage / "matting" / "background_matting_v1"
    folder = tmp_path / "locked_off"
    folder.mkdir()
    (folder / "0000.png").symlink_to(inputs / "input" / "back_cleanplate.png")
    (folder / "0001.png").symlink_to(inputs / "input" / "0001_img.png")
    (tmp_path / "atrium").mkdir()
    (tmp_path / "atrium" / "0000.png").symlink_to(inputs / "target_background" / "0001.png")
    shot = shot_of(production, people, folder, "SKYLINE")
    atrium = shot_of(production, people, tmp_path / "atrium", "ATRIUM")
    plate = run(fix_request_create(production=production, actor=people["supervisor"], shot=shot, kind="clean_plate",
                                   frame_in=0, frame_out=1), people)
    assert (media_path(plate.media_dir) / "plate.png").is_file()

    proposal = run(fix_request_create(production=production, actor=people["supervisor"], shot=shot,
                                      kind="background_replace", frame_in=1, frame_out=2, reference_shot=atrium,
                                      parameters={"key": "clean_plate", "harmonise_strength": 0.0}), people)

    matte = cv2.imread(str(media_path(proposal.media_dir) / "matte" / "000001.png"), cv2.IMREAD_GRAYSCALE)
    person, background = matte == 255, matte == 0
    assert 0.05 < person.mean() < 0.6 and background.mean() > 0.3
    # The region declared is the background (and the light wrap's reach), not the person.
    region = cv2.imread(str(media_path(proposal.media_dir) / "region.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert proposal.region_fraction < 0.95 and not region[person].all()
    after = rendered(proposal, 1).astype(np.int16)
    original = dict(FrameSource(shot.clip.source_path).frames())[1]
    new_plate = cv2.cvtColor(cv2.imread(str(inputs / "target_background" / "0001.png")), cv2.COLOR_BGR2RGB)
    assert np.abs(after[background] - new_plate[background]).mean() < 6
    assert np.array_equal(after[~region], original[~region])  # outside the region: the shot, bit for bit

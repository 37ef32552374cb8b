"""Object removal and clean plates as fix kinds of the portal, on real footage through the real
engine: the object is outlined on one frame (a polygon drawn on the shot board), the job tracks
and removes it, and every rendered pixel outside the stored region is the original's, bit for
bit. The region is drawn, never named by a server path in the parameters."""
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


@pytest.fixture
def tennis(production, people, footage):
    clip = clip_ingest(production=production, path=footage / "vos" / "tennis" / "frames", actor=people["supervisor"])
    return shot_create(production=production, clip=clip, code="TENNIS", source_in=0, source_out=clip.frame_count,
                       actor=people["supervisor"])


def outline_of_player(footage, frame: int) -> list[list[float]]:
    """The tennis player's outline on ``frame`` as a supervisor would draw it: the convex hull
    of the sequence's own mask of that frame."""
    mask = cv2.imread(str(footage / "vos" / "tennis" / "masks" / f"{frame:05d}.png"), cv2.IMREAD_GRAYSCALE) > 0
    points = cv2.findNonZero(mask.astype(np.uint8))
    return [[float(x), float(y)] for x, y in cv2.convexHull(points)[:, 0, :]]


def run(fix_request, people):
    job = Job.objects.create(production=fix_request.production, fix_request=fix_request,
                             frames_total=fix_request.duration_frames, created_by=people["artist"])
    return job_execute(job_id=job.pk, worker="test")


def test_the_drawn_object_is_removed_and_nothing_outside_its_region_changes(production, people, footage, tennis):
    fix_request = fix_request_create(
        production=production, actor=people["supervisor"], shot=tennis, kind="object_removal", frame_in=10,
        frame_out=16, parameters={"margin_px": 6},
        mask={"frame": 10, "shape": "polygon", "points": outline_of_player(footage, 10)})

    proposal = run(fix_request, people)

    assert proposal is not None, Job.objects.get(fix_request=fix_request).error
    assert (proposal.frame_in, proposal.frame_out) == (10, 16)
    assert 0.01 < proposal.region_fraction < 0.6  # the player, tracked over six frames: not the frame
    folder = media_path(proposal.media_dir)
    region = cv2.imread(str(folder / "region.png"), cv2.IMREAD_GRAYSCALE) > 0
    originals = dict(FrameSource(tennis.clip.source_path, first=10, stop=16).frames())
    changed_inside = 0
    for number, original in originals.items():
        rendered = cv2.cvtColor(cv2.imread(str(folder / "frames" / f"{number:06d}.png")), cv2.COLOR_BGR2RGB)
        assert np.array_equal(rendered[~region], original[~region]), f"frame {number} changed outside its region"
        changed_inside += int((rendered[region] != original[region]).any(axis=1).sum())
    assert changed_inside > 0.5 * region.sum()  # the player is gone, not left in place


def test_an_object_removal_needs_a_drawn_mask_and_no_server_paths(production, people, tennis):
    with pytest.raises(ServiceError, match="needs a mask"):
        fix_request_create(production=production, actor=people["supervisor"], shot=tennis, kind="object_removal",
                           frame_in=0, frame_out=5)
    with pytest.raises(ServiceError, match="mask_folder cannot be set here"):
        fix_request_create(production=production, actor=people["supervisor"], shot=tennis, kind="object_removal",
                           frame_in=0, frame_out=5, parameters={"mask_folder": "/etc"},
                           mask={"frame": 0, "shape": "rectangle", "points": [[10, 10], [60, 80]]})


@pytest.mark.parametrize("keyframes", [(20,), (5, 35)], ids=["one outline", "keyframes"])
def test_a_clean_plate_is_one_rendered_frame_with_its_confidence(production, people, footage, tennis, keyframes):
    """What to leave out: one outline (left out where it is on every frame), or outlines on
    keyframes (tracked through the frames)."""
    outlines = [{"frame": frame, "shape": "polygon", "points": outline_of_player(footage, frame)} for frame in keyframes]
    fix_request = fix_request_create(
        production=production, actor=people["supervisor"], shot=tennis, kind="clean_plate", frame_in=0,
        frame_out=40, parameters={"max_frames": 8}, mask=outlines if len(outlines) > 1 else outlines[0])

    proposal = run(fix_request, people)

    assert proposal is not None, Job.objects.get(fix_request=fix_request).error
    assert proposal.frame_out - proposal.frame_in == 1
    folder = media_path(proposal.media_dir)
    plate = cv2.imread(str(folder / "plate.png"))
    confidence = cv2.imread(str(folder / "confidence.png"), cv2.IMREAD_GRAYSCALE)
    assert plate.shape == (tennis.clip.height, tennis.clip.width, 3) and confidence.shape == plate.shape[:2]
    # Nearly all of the background was seen by some sampled frame (less with keyframes: the
    # outlines follow the player, whom the camera keeps near the same place in the picture).
    assert (confidence > 0).mean() > (0.9 if len(keyframes) == 1 else 0.75)
    # The player is not in the plate: where he stands on the plate's frame, the plate differs.
    frame = proposal.frame_in
    original = cv2.imread(str(footage / "vos" / "tennis" / "frames" / f"{frame:05d}.png"))
    player = cv2.imread(str(footage / "vos" / "tennis" / "masks" / f"{frame:05d}.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert np.abs(plate.astype(int) - original)[player].mean() > 25


def test_outlines_on_keyframes_follow_the_player_through_a_turn(production, people, footage, tennis):
    """Frames 20–44: the player runs across, turns and swings while the camera pans. Outlines
    on three keyframes (drawn out of order) are stored in frame order, each tracked to its
    neighbours (a frame between two takes both), and the player is gone from every frame — with
    nothing outside the region touched."""
    keyframes = (40, 20, 30)
    fix_request = fix_request_create(
        production=production, actor=people["supervisor"], shot=tennis, kind="object_removal", frame_in=20,
        frame_out=45, parameters={"margin_px": 6},
        mask=[{"frame": frame, "shape": "polygon", "points": outline_of_player(footage, frame)} for frame in keyframes])
    assert [outline["frame"] for outline in fix_request.mask] == [20, 30, 40]

    proposal = run(fix_request, people)

    assert proposal is not None, Job.objects.get(fix_request=fix_request).error
    folder = media_path(proposal.media_dir)
    region = cv2.imread(str(folder / "region.png"), cv2.IMREAD_GRAYSCALE) > 0
    replaced = {}
    union = np.zeros_like(region)
    for number, original in FrameSource(tennis.clip.source_path, first=20, stop=45).frames():
        rendered = cv2.cvtColor(cv2.imread(str(folder / "frames" / f"{number:06d}.png")), cv2.COLOR_BGR2RGB)
        # Each frame's own mask (tracked outline + margin) is stored with the proposal, and
        # nothing outside it changed on that frame.
        hole = cv2.imread(str(folder / "mask" / f"{number:06d}.png"), cv2.IMREAD_GRAYSCALE) > 0
        assert np.array_equal(rendered[~hole], original[~hole]), f"frame {number} changed outside its mask"
        union |= hole
        player = cv2.imread(str(footage / "vos" / "tennis" / "masks" / f"{number:05d}.png"), cv2.IMREAD_GRAYSCALE) > 0
        replaced[number] = (rendered[player] != original[player]).any(axis=1).mean()
    # The share of the player's pixels (the sequence's own masks) replaced, per frame: one outline
    # tracked from frame 20 keeps under 35 % of him from frame 32 on; the keyframes keep nearly all.
    assert np.mean(list(replaced.values())) > 0.9 and min(replaced.values()) > 0.7, replaced
    assert np.array_equal(union, region)  # the region the proposal declares: the union of the masks


@pytest.mark.parametrize("mask, message", [
    ([], "a list of 1–100 outlines"),
    ([{"frame": 3, "shape": "rectangle", "points": [[1, 1], [9, 9]]}] * 2, "frame\\(s\\) 3 have several"),
    ([{"frame": 3, "shape": "rectangle", "points": [[1, 1], [9, 9]]},
      {"frame": 9, "shape": "rectangle", "points": [[1, 1], [9, 9]]}], "frames, 0–4"),
    ([{"frame": 1, "shape": "circle", "points": [[1, 1], [9, 9]]}], "shape must be one of"),
])
def test_keyframe_outlines_are_checked_one_by_one(production, people, tennis, mask, message):
    with pytest.raises(ServiceError, match=message):
        fix_request_create(production=production, actor=people["supervisor"], shot=tennis, kind="object_removal",
                           frame_in=0, frame_out=5, mask=mask)


def test_a_list_of_one_outline_is_stored_as_that_outline(production, people, tennis):
    outline = {"frame": 2, "shape": "rectangle", "points": [[40, 30], [10, 10]]}
    fix_request = fix_request_create(production=production, actor=people["supervisor"], shot=tennis,
                                     kind="object_removal", frame_in=0, frame_out=5, mask=[outline])
    assert fix_request.mask == {"frame": 2, "shape": "rectangle", "points": [[10.0, 10.0], [40.0, 30.0]]}

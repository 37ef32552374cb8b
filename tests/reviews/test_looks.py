"""Look models and the colour fix kinds in the portal: a look learned from a production's own
pair of shots (camera original → graded) is stored with its lineage and applied to another
shot as a proposal; relight proposals carry their ASC CDL."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from django.conf import settings

from bench.heldout_look import apply_lut, naive_lut
from engine.media.decode import FrameSource, read_frame
from engine.media.encode import FrameWriter
from engine.ops.cielab import delta_e2000, srgb_to_lab
from engine.ops.lut3d import DenseLut8, load_look
from reviews.errors import NotAllowed, ServiceError
from reviews.models import Job, LookModel
from reviews.services.clips import clip_ingest
from reviews.services.fix_requests import fix_request_create
from reviews.worker.jobs import job_execute
from reviews.worker.looks import look_model_train
from reviews.services.shots import shot_create

pytestmark = pytest.mark.django_db

GRADE = "colour_Colour_Correct_foundry.cube"  # a real grade, the ground truth the look must learn


def run_job(fix_request):
    job = Job.objects.create(production=fix_request.production, fix_request=fix_request,
                             frames_total=fix_request.duration_frames)
    return job_execute(job_id=job.pk, worker="test")


def mean_delta_e(a: np.ndarray, b: np.ndarray) -> float:
    lab = lambda f: srgb_to_lab(torch.from_numpy(f.reshape(-1, 3)).float() / 255)  # noqa: E731
    return float(delta_e2000(lab(a), lab(b)).mean())


@pytest.fixture
def graded_pair(production, people, footage, tmp_path):
    """Shots JUGGLE (camera original, frames 0–24) and JUGGLE_GRADED (the same frames through a
    real grade, delivered as a PNG sequence), both ingested into the production."""
    grade = DenseLut8.from_ocio(load_look(footage / "luts" / GRADE))
    original = footage / "clips" / "sam2_05_default_juggle.mp4"
    with FrameWriter(tmp_path / "juggle_graded") as writer:
        for number, frame in FrameSource(original, 0, 24).frames():
            writer.write(number, grade.apply(frame))
    supervisor = people["supervisor"]
    shots = []
    for code, path in (("JUGGLE", original), ("JUGGLE_GRADED", tmp_path / "juggle_graded")):
        clip = clip_ingest(production=production, path=path, actor=supervisor)
        shots.append(shot_create(production=production, clip=clip, code=code, source_in=0, source_out=24,
                                 actor=supervisor))
    return grade, shots[0], shots[1]


def test_a_learned_look_is_stored_with_lineage_and_applied_to_another_shot(production, people, shots,
                                                                           graded_pair):
    grade, source, graded = graded_pair
    look_model = look_model_train(production=production, pairs=[(source, graded)], actor=people["artist"],
                                  name="Foundry day grade")
    assert look_model.version == 1
    assert Path(settings.MEDIA_ROOT, look_model.cube_path).read_text().count("\n") > 33 ** 3
    assert look_model.lineage[0]["source_shot"] == "JUGGLE" and look_model.lineage[0]["frames"]
    assert look_model.measurements["train_delta_e2000_mean"] < 1.0

    fix_request = fix_request_create(production=production, actor=people["supervisor"], shot=shots["CUPS"],
                                     kind="look_transfer", frame_in=0, frame_out=3,
                                     parameters={"look_model": look_model.pk})
    proposal = run_job(fix_request)
    rendered = cv2.cvtColor(cv2.imread(str(Path(settings.MEDIA_ROOT, proposal.media_dir, "frames/000001.png"))),
                            cv2.COLOR_BGR2RGB)
    original = read_frame(shots["CUPS"].clip.source_path, 1)
    # The cups were never in the training pair; the learned look reproduces the real grade on them
    # better than the classical baseline learned from the same pair: a naive 17³ lookup (cell
    # means, empty cells from the nearest filled one — bench/heldout_look.py, where the ΔE
    # targets live). Measured here: look 1.13, naive 2.47, the ungraded frame 3.96.
    truth = grade.apply(original)
    pairs = [(FrameSource(shot.clip.source_path, 0, 24).frames()) for shot in (source, graded)]
    training = [np.concatenate([frame.reshape(-1, 3) for _, frame in frames]).astype(np.float32) / 255
                for frames in pairs]
    naive = np.rint(apply_lut(naive_lut(*training), original.astype(np.float32) / 255) * 255).astype(np.uint8)
    assert mean_delta_e(rendered, truth) < mean_delta_e(naive, truth)
    assert mean_delta_e(original, truth) > 2.0
    # The proposal says, in words, how much of the shot lies in colours training never saw.
    assert 0.0 < proposal.metrics["unseen_colours_fraction"] <= 1.0
    from reviews.measurements import describe
    shown = {row["key"]: row for row in describe(proposal.metrics)}["unseen_colours_fraction"]
    assert shown["label"] == "Share of this shot's colours never in the look's training pairs"
    assert shown["value"] == f"{proposal.metrics['unseen_colours_fraction'] * 100:.1f} %"
    assert "heldout_delta_e2000_mean" in look_model.measurements and look_model.lineage[0]["heldout_frames"]


def test_a_look_trains_only_on_its_own_production_and_applies_only_there(production, people, graded_pair,
                                                                         shots):
    from reviews.services.productions import membership_add, production_create

    _, source, graded = graded_pair
    with pytest.raises(NotAllowed):
        look_model_train(production=production, pairs=[(source, graded)], actor=people["producer"], name="x")
    other = production_create(code="OTHER", name="Another title", actor=None)
    membership_add(production=other, user=people["supervisor"], role="supervisor", actor=None)
    with pytest.raises(ServiceError, match="must both belong to OTHER"):
        look_model_train(production=other, pairs=[(source, graded)], actor=people["supervisor"], name="x")
    look_model = look_model_train(production=production, pairs=[(source, graded)], actor=people["supervisor"],
                                  name="ours", parameters={"iterations": 50})
    other_clip = clip_ingest(production=other, path=shots["CUPS"].clip.source_path, actor=people["supervisor"])
    other_shot = shot_create(production=other, clip=other_clip, code="CUPS", source_in=0, source_out=10,
                             actor=people["supervisor"])
    with pytest.raises(ServiceError, match="not one of OTHER's look models"):
        fix_request_create(production=other, actor=people["supervisor"], shot=other_shot, kind="look_transfer",
                           frame_in=0, frame_out=5, parameters={"look_model": look_model.pk})
    assert LookModel.objects.filter(production=other).count() == 0


def test_relight_proposal_carries_its_cdl(production, people, shots):
    fix_request = fix_request_create(production=production, actor=people["supervisor"], shot=shots["CUPS"],
                                     kind="relight", frame_in=0, frame_out=4, reference_shot=shots["COFFEE"])
    proposal = run_job(fix_request)
    cc = Path(settings.MEDIA_ROOT, proposal.media_dir, "grade.cc").read_text()
    assert "<Slope>" in cc and "<Power>" in cc
    assert "exposure_stops" in proposal.metrics and proposal.method.startswith("engine.fixes.relight")

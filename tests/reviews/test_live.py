"""Without a shared channel layer (no Redis) a worker's events reach no browser, so the web
process relays job progress, new versions, notifications and trainings from the database (reviews/live.py)."""
import pytest

from reviews.live import RelayState, relay_changes
from reviews.models import Job, JobState
from reviews.services.jobs import job_submit
from reviews.worker.jobs import job_execute

pytestmark = pytest.mark.django_db


def test_the_database_relay_reports_progress_finishing_and_new_versions(fix_request, people):
    seen = RelayState()
    assert relay_changes(seen) == []  # the first read takes stock
    job, _ = job_submit(fix_request=fix_request, actor=people["artist"])
    group = f"production-{fix_request.production_id}"
    [(to, event, data)] = relay_changes(seen)
    assert (to, event, data["id"], data["state"], data["frames_done"]) == (group, "job", job.pk, "queued", 0)
    assert relay_changes(seen) == []  # nothing changed
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, frames_done=3)
    assert [(e, d["state_label"], d["frames_done"]) for _, e, d in relay_changes(seen)] == [("job", "Running", 3)]
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED, frames_done=0)  # back as it was, for the engine
    proposal = job_execute(job_id=job.pk, worker="test")
    changes = relay_changes(seen)
    told = [(e, d.get("state"), d.get("version")) for _, e, d in changes if e != "notification"]
    assert told == [("job", "succeeded", None), ("proposal", None, "v001")]
    # The version's notifications, made in the worker, reach each recipient's own group.
    notified = sorted((to, d["kind"]) for to, e, d in changes if e == "notification")
    assert notified == sorted((f"user-{people[name].pk}", "version_ready")
                              for name in ("director", "supervisor", "artist"))
    assert relay_changes(seen) == [] and seen.jobs == {} and seen.last_proposal == proposal.pk


def test_the_database_relay_reports_a_trainings_progress_and_its_end(production, people, shots):
    from reviews.models import LearnedModel
    from reviews.services.learned_models import learned_model_cancel, learned_model_request

    seen = RelayState()
    assert relay_changes(seen) == []
    model = learned_model_request(production=production, kind="inpaint", shots=[shots["CUPS"]],
                                  actor=people["supervisor"], name="day 1")
    [(to, event, data)] = relay_changes(seen)
    assert (to, event, data["label"], data["state"]) == (f"production-{production.pk}", "learned_model",
                                                         f"inpaint training {model.pk}", "queued")
    LearnedModel.objects.filter(pk=model.pk).update(state=JobState.RUNNING, steps_done=40)
    assert [(d["state"], d["steps_done"]) for _, _, d in relay_changes(seen)] == [("running", 40)]
    learned_model_cancel(learned_model=model, actor=people["supervisor"])
    LearnedModel.objects.filter(pk=model.pk).update(state=JobState.CANCELLED)
    assert [d["state"] for _, _, d in relay_changes(seen)] == ["cancelled"]
    assert relay_changes(seen) == [] and seen.trainings == {}

"""Guild consent (SAG-AFTRA 2023): the engine flags a face in the fix region, the supervisor
classifies (lowering needs a written reason), each affected performer is asked with a specific
description, a digital alteration is final only once every one has granted, and revoking
consent withdraws the approval and blocks delivery — every step audited."""
import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from reviews.errors import Conflict, NotAllowed, ServiceError
from reviews.models import (Alteration, AuditEvent, ConsentRequest, ConsentStatus, FixRequestStatus, Job, Notification,
                            Performer, ProposalStatus, Role)
from reviews.services.consent import consent_answer, consent_revoke, fix_request_classify
from reviews.worker.likeness import fix_request_screen_likeness
from reviews.services.fix_requests import fix_request_create
from reviews.worker.jobs import job_execute
from reviews.services.productions import membership_add
from reviews.services.proposals import proposal_decide, proposal_is_final, proposal_require_final

pytestmark = pytest.mark.django_db


@pytest.fixture
def performers(production, people):
    """Ana Lima (the ``performer`` user) with her representative ``agent``, and Ben Ode (another performer)."""
    agent = User.objects.create_user("agent", password="pw-agent")
    ben = User.objects.create_user("ben", password="pw-ben")
    for user in (agent, ben):
        membership_add(production=production, user=user, role=Role.PERFORMER, actor=None)
    return {"ana": Performer.objects.create(production=production, name="Ana Lima", user=people["performer"],
                                            representative=agent),
            "ben": Performer.objects.create(production=production, name="Ben Ode", user=ben),
            "agent": agent, "ben_user": ben}


def actions(production) -> list[str]:
    return list(AuditEvent.objects.filter(production=production).order_by("id").values_list("action", flat=True))


def test_engine_flags_a_face_and_lowering_needs_a_reason(small_proposal, fix_request, people, performers):
    """The carphone shot has a man's face in frame; the cups shot has only hands. A colour match
    over a face stays routine (by its kind); a removal over the face becomes a digital alteration."""
    match = small_proposal.fix_request
    screening = fix_request_screen_likeness(fix_request=match, samples=3)
    assert screening["flagged"] and screening["frames_scanned"] == [0, 2, 4] and not screening["raised"]
    face = screening["faces"][0]
    assert 30 <= face["width"] <= 120 and 0 <= face["x"] < 176 and 0 <= face["y"] < 144  # in QCIF pixels
    match.refresh_from_db()
    assert match.alteration == Alteration.ROUTINE
    assert not AuditEvent.objects.filter(action="fix_request.likeness_flagged").exists()

    assert fix_request_screen_likeness(fix_request=fix_request, samples=2)["flagged"] is False
    fix_request.refresh_from_db()
    assert fix_request.alteration == Alteration.ROUTINE

    # An object removal in the car's lower-left corner changes no face: the screening looks
    # inside the region its version declared, not at the whole frame.
    corner = fix_request_create(production=match.production, actor=people["supervisor"], shot=match.shot,
                                kind="object_removal", frame_in=0, frame_out=6,
                                mask={"frame": 0, "shape": "rectangle", "points": [[4, 112], [36, 140]]})
    job = Job.objects.create(production=match.production, fix_request=corner, frames_total=6, created_by=people["artist"])
    assert job_execute(job_id=job.pk, worker="test") is not None
    assert fix_request_screen_likeness(fix_request=corner, samples=3)["flagged"] is False
    # Over the face, the same removal would replace a performer: raised, audited, kept.
    car = fix_request_create(production=match.production, actor=people["supervisor"], shot=match.shot,
                             kind="object_removal", frame_in=0, frame_out=6,
                             mask={"frame": 0, "shape": "rectangle", "points": [[50, 30], [125, 100]]})
    job = Job.objects.create(production=match.production, fix_request=car, frames_total=6, created_by=people["artist"])
    assert job_execute(job_id=job.pk, worker="test") is not None
    screening = fix_request_screen_likeness(fix_request=car, samples=3)
    assert screening["flagged"] and screening["raised"] and screening["raised_at"]
    car.refresh_from_db()
    assert car.alteration == Alteration.DIGITAL_ALTERATION
    flagged = AuditEvent.objects.get(action="fix_request.likeness_flagged")
    assert flagged.actor is None and flagged.payload["faces"] == len(screening["faces"])
    # ... and told to the supervisors, who name the performers (the engine acted: nobody is left out).
    told = Notification.objects.filter(audit_event=flagged, kind="likeness_raised")
    assert set(told.values_list("recipient__username", flat=True)) == {"supervisor"}
    assert "Likeness screening raised the object removal on" in told.first().text

    with pytest.raises(NotAllowed, match="Only a supervisor"):
        fix_request_classify(fix_request=car, actor=people["director"], alteration="routine", performers=[])
    with pytest.raises(ServiceError, match="needs your written reason"):
        fix_request_classify(fix_request=car, actor=people["supervisor"], alteration="routine", performers=[])
    car.refresh_from_db()
    assert car.alteration == Alteration.DIGITAL_ALTERATION
    reason = "A colour match of the whole frame: the face is untouched beyond the grade."
    fix_request_classify(fix_request=car, actor=people["supervisor"], alteration="routine", performers=[],
                         reason=reason)
    car.refresh_from_db()
    assert (car.alteration, car.alteration_reason) == (Alteration.ROUTINE, reason)
    lowered = AuditEvent.objects.filter(action="fix_request.classify").latest("id")
    assert lowered.payload | {} == {"from": "digital_alteration", "to": "routine", "lowered": True, "reason": reason,
                                    "performers": [], "engine_flagged": True}
    assert lowered.actor == people["supervisor"]
    assert not ConsentRequest.objects.exists()


def test_consent_gate_revocation_and_delivery(small_proposal, people, performers):
    proposal = small_proposal
    fix = proposal.fix_request
    ana, ben = performers["ana"], performers["ben"]
    with pytest.raises(ServiceError, match="Name the performers"):
        fix_request_classify(fix_request=fix, actor=people["supervisor"], alteration="digital_alteration",
                             performers=[])
    fix_request_classify(fix_request=fix, actor=people["supervisor"], alteration="digital_alteration",
                         performers=[ana])
    consent = ConsentRequest.objects.get(fix_request=fix)
    assert (consent.performer, consent.status) == (ana, ConsentStatus.PENDING)
    for words in ("shot CAR_0010", "frames 0–5", "00:00:00:00–00:00:00:05", "6 frames", "Shot match",
                  "the car's later light", f"/review/{proposal.pk}/ (v001)"):
        assert words in consent.description

    proposal_decide(proposal=proposal, director=people["director"], decision="approve")
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED and not proposal_is_final(proposal)
    with pytest.raises(Conflict, match="awaits consent from Ana Lima"):
        proposal_require_final(proposal=proposal)
    assert "proposal.final" not in actions(proposal.production)

    with pytest.raises(NotAllowed, match="Only Ana Lima or their representative"):
        consent_answer(consent_request=consent, actor=performers["ben_user"], grant=True, scope="all")
    with pytest.raises(NotAllowed, match="Only a performer"):
        consent_answer(consent_request=consent, actor=people["director"], grant=True, scope="all")
    with pytest.raises(ServiceError, match="scope"):
        consent_answer(consent_request=consent, actor=people["performer"], grant=True, scope="  ")
    with pytest.raises(ServiceError, match="after today"):
        consent_answer(consent_request=consent, actor=people["performer"], grant=True, scope="this shot",
                       expires_on=timezone.now().date())

    consent_answer(consent_request=consent, actor=people["performer"], grant=True,
                   scope="This shot, frames 0–5, for the theatrical release")
    assert proposal_is_final(proposal)
    proposal_require_final(proposal=proposal)  # deliverable
    final = AuditEvent.objects.get(action="proposal.final")
    assert (final.actor, final.target_id, final.payload["consent"]) == (people["performer"], str(proposal.pk),
                                                                       ["Ana Lima"])

    # Revoked by her representative: the approval is withdrawn and delivery blocked.
    consent_revoke(consent_request=consent, actor=performers["agent"], reason="Changed her mind")
    proposal.refresh_from_db()
    fix.refresh_from_db()
    assert (proposal.status, fix.status) == (ProposalStatus.WITHDRAWN, FixRequestStatus.IN_REVIEW)
    with pytest.raises(Conflict, match="approval withdrawn, not approved"):
        proposal_require_final(proposal=proposal)
    assert actions(proposal.production)[-2:] == ["consent.revoke", "proposal.approval_withdrawn"]
    withdrawn = AuditEvent.objects.get(action="proposal.approval_withdrawn")
    assert (withdrawn.actor, withdrawn.payload["performer"]) == (performers["agent"], "Ana Lima")
    with pytest.raises(Conflict, match="revoked"):
        consent_revoke(consent_request=consent, actor=people["performer"])

    # A second performer joins; the director approves again: final only once both granted.
    fix_request_classify(fix_request=fix, actor=people["supervisor"], alteration="digital_alteration",
                         performers=[ana, ben])
    proposal_decide(proposal=proposal, director=people["director"], decision="approve")
    consent_answer(consent_request=consent, actor=people["performer"], grant=True, scope="This shot only")
    proposal.refresh_from_db()
    assert not proposal_is_final(proposal)
    bens = ConsentRequest.objects.get(fix_request=fix, performer=ben)
    consent_answer(consent_request=bens, actor=performers["ben_user"], grant=False)
    assert not proposal_is_final(proposal)
    tomorrow = timezone.now().date() + datetime.timedelta(days=1)
    consent_answer(consent_request=bens, actor=performers["ben_user"], grant=True, scope="This shot",
                   expires_on=tomorrow)
    assert proposal_is_final(proposal)
    assert not proposal_is_final(proposal, today=tomorrow)  # Ben's consent lapses then
    assert actions(proposal.production).count("proposal.final") == 2


def test_classification_through_the_api(fix_request, people, performers):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(people["supervisor"])
    url = f"/api/productions/TEST/fix-requests/{fix_request.pk}/classification/"
    refused = client.post(url, {"alteration": "digital_alteration", "performers": [2_000_000]}, format="json")
    assert (refused.status_code, refused.json()) == (400, {"detail": "No performer(s) 2000000 in TEST."})
    done = client.post(url, {"alteration": "digital_alteration", "performers": [performers["ana"].pk]}, format="json")
    assert done.status_code == 200
    assert (done.json()["alteration"], done.json()["performers"]) == ("digital_alteration", [performers["ana"].pk])
    lowered = client.post(url, {"alteration": "routine"}, format="json")
    assert lowered.status_code == 400 and "written reason" in lowered.json()["detail"]
    assert ConsentRequest.objects.filter(fix_request=fix_request).count() == 1


def test_the_review_room_shows_the_consent_status_of_the_proposal(awaiting_consent, people):
    from django.test import Client

    director = Client()
    director.force_login(people["director"])
    url = f"/review/{awaiting_consent.fix_request.proposals.get().pk}/"
    page = director.get(url).content.decode()
    assert "Digital alteration of a performer" in page and "Ana Lima: Awaiting answer" in page

    consent_answer(consent_request=awaiting_consent, actor=people["performer"], grant=True,
                   scope="this shot's colour match, in the film and its trailers", expires_on=None)
    assert "Ana Lima: Granted" in director.get(url).content.decode()

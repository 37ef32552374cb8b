"""Notifications: made from the audit trail's events in one place, after the change commits; shown
in the portal and emailed through a real SMTP server (aiosmtpd, started by the test) — at once,
or in the daily digest — as each person's preferences say; and through a real worker process
for a job that failed."""
import io
import re
import json
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from reviews.models import Job, JobState, Notification, NotificationKind
from reviews.services.consent import consent_answer, consent_revoke
from reviews.services.jobs import job_submit
from reviews.services.notifications import preferences_update
from reviews.services.proposals import proposal_decide

from ..conftest import _stop, start_worker
from .helpers import websocket

pytestmark = pytest.mark.django_db(transaction=True)


def unread(page: str) -> int:
    """The bell's unread count on a page."""
    return int(re.search(r'id="notification-count"[^>]*>(\d+)<', page).group(1))


@pytest.fixture(autouse=True)
def _with_email(people):
    """Everyone has an address (before the other fixtures make changes that email them)."""
    for name, user in people.items():
        user.email = f"{name}@example.test"
        user.save(update_fields=["email"])


def test_a_decision_is_emailed_to_the_artist_and_the_supervisor_not_the_director(smtp_inbox, small_proposal,
                                                                                 people):
    # A rolled-back change tells no one.
    with pytest.raises(RuntimeError), transaction.atomic():
        proposal_decide(proposal=small_proposal, director=people["director"], decision="approve")
        raise RuntimeError("the change fails after the decision")
    assert not Notification.objects.filter(kind=NotificationKind.DECISION).exists()

    proposal_decide(proposal=small_proposal, director=people["director"], decision="reject",
                    note="the face is too warm")
    artist_mail = smtp_inbox.wait_for("artist@example.test", 3)[-1]
    assert "[Loupe TEST] Decision made on a version" == artist_mail["Subject"]
    body = artist_mail.get_content()
    assert "v001 of CAR_0010 (Shot match) was rejected." in body and "the face is too warm" in body
    assert f"/review/{small_proposal.pk}/" in body
    assert smtp_inbox.wait_for("supervisor@example.test", 2)[-1]["Subject"] == "[Loupe TEST] Decision made on a version"
    # The director: told v001 was ready, never of their own decision.
    assert [m["Subject"] for m in smtp_inbox.to("director@example.test")] == ["[Loupe TEST] New version ready for review"]
    notification = Notification.objects.get(recipient=people["artist"], kind=NotificationKind.DECISION)
    assert notification.emailed_at is not None and not notification.email_pending
    assert [m["Subject"].split("] ")[1] for m in smtp_inbox.to("artist@example.test")] == [
        "Fix request assigned to you", "New version ready for review", "Decision made on a version"]  # no approval
    assert notification.audit_event.action == "proposal.reject"

    # In the portal: the list, the bell's unread count, opened (read) → where it points.
    client = Client()
    client.force_login(people["artist"])
    page = client.get("/notifications/").content.decode()
    assert "v001 of CAR_0010 (Shot match) was rejected." in page, page
    # Unread: the fix request assigned when it was filed, its v001 ready, and the decision.
    assert unread(page) == 3
    opened = client.get(f"/notifications/{notification.pk}/")
    assert opened.status_code == 302 and opened["Location"] == f"/review/{small_proposal.pk}/"
    assert unread(client.get("/notifications/").content.decode()) == 2
    other = Client()
    other.force_login(people["producer"])
    assert other.get(f"/notifications/{notification.pk}/").status_code == 404  # not theirs


def test_preferences_turn_channels_off_and_the_digest_gathers_the_day(smtp_inbox, awaiting_consent, people):
    supervisor, performer = people["supervisor"], people["performer"]
    # The performer was asked for consent by awaiting_consent: in the portal and by email.
    asked = Notification.objects.get(recipient=performer, kind=NotificationKind.CONSENT_REQUESTED)
    assert asked.in_app and "Your consent is asked for: Shot match on CAR_0010." == asked.text
    smtp_inbox.wait_for("performer@example.test")
    # The supervisor (told at once so far: v001 ready, approved) now takes a daily digest, and no
    # email at all for revocations (in the portal only).
    at_once = len(smtp_inbox.wait_for("supervisor@example.test", 2))
    preferences_update(user=supervisor, email_delivery="daily_digest",
                       kinds={NotificationKind.CONSENT_REVOKED: {"in_app": True, "email": False}})
    consent_answer(consent_request=awaiting_consent, actor=performer, grant=True, scope="this shot")
    consent_revoke(consent_request=awaiting_consent, actor=performer, reason="changed my mind")
    granted = Notification.objects.get(recipient=supervisor, kind=NotificationKind.CONSENT_GRANTED)
    revoked = Notification.objects.get(recipient=supervisor, kind=NotificationKind.CONSENT_REVOKED)
    assert granted.email_pending and not revoked.email_pending and revoked.in_app
    assert "Ana Lima revoked consent to Shot match on CAR_0010." == revoked.text
    assert len(smtp_inbox.to("supervisor@example.test")) == at_once  # nothing at once
    out = io.StringIO()
    call_command("send_notification_digest", stdout=out)
    digest = smtp_inbox.wait_for("supervisor@example.test", at_once + 1)[at_once:]
    assert len(digest) == 1 and "sent 1 digest email(s)" in out.getvalue()
    assert "Ana Lima granted consent" in digest[0].get_content()
    assert "revoked" not in digest[0].get_content()
    granted.refresh_from_db()
    assert not granted.email_pending and granted.emailed_at is not None
    # A second run has nothing left to send.
    call_command("send_notification_digest", stdout=out)
    assert len(smtp_inbox.to("supervisor@example.test")) == at_once + 1


def test_preferences_page_saves_the_choices(people):
    client = Client()
    client.force_login(people["artist"])
    response = client.post("/notifications/preferences/", {"email_delivery": "daily_digest",
                                                           "decision.in_app": "on", "job_failed.email": "on"})
    assert response.status_code == 302
    preferences = people["artist"].notification_preferences
    assert preferences.email_delivery == "daily_digest"
    assert preferences.wants("decision", "in_app") and not preferences.wants("decision", "email")
    assert preferences.wants("job_failed", "email") and not preferences.wants("job_failed", "in_app")
    refused = client.post("/notifications/preferences/", {"email_delivery": "hourly"})
    assert refused.status_code == 200 and "Email delivery is one of immediate, daily_digest" in refused.content.decode()


def test_a_job_that_fails_in_a_real_worker_is_told_live_and_by_email(process_env, fix_request, people, smtp_inbox):
    clip = fix_request.shot.clip
    clip.source_path = str(Path(clip.source_path).with_name("gone.mp4"))  # the original vanished from storage
    clip.save(update_fields=["source_path"])
    worker = start_worker(dict(process_env, EMAIL_URL=smtp_inbox.url), "notify")
    socket = websocket("/ws/notifications/", people["supervisor"])

    async def submit_and_listen():
        connected, _ = await socket.connect()
        assert connected
        await sync_to_async(job_submit)(fix_request=fix_request, actor=people["artist"])
        while True:
            message = json.loads(await socket.receive_from(timeout=120))
            if message["event"] == "notification" and message["data"]["kind"] == "job_failed":
                await socket.disconnect()
                return message["data"]

    try:
        live = async_to_sync(submit_and_listen)()
        mail = smtp_inbox.wait_for("artist@example.test", timeout_s=120)[0]
    finally:
        _stop(worker)
    assert live["text"].startswith("The shot match job on CUPS failed:") and "gone.mp4" in live["text"]
    assert mail["Subject"] == "[Loupe TEST] Job failed" and "gone.mp4" in mail.get_content()
    assert Job.objects.get(fix_request=fix_request).state == JobState.FAILED

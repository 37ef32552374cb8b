"""Notifications: who is told of what, in the portal and by email — the one place they are made.

Every change a person should hear of already writes its audit event (``audit_record``), inside
the change's transaction; :func:`notify_for_audit_event`, called from there, turns the events
named in :data:`RULES` into one ``Notification`` per recipient, in the same transaction (so a
rolled-back change tells no one). Once the transaction commits, each is sent live to the
recipient's browsers (group ``user-<id>``, ``/ws/notifications/``) and, for people who take
email at once, mailed through Django's email backend (``EMAIL_URL``); the others' emails wait
for the daily digest (``manage.py send_notification_digest``). The preferences are the
recipient's (``NotificationPreferences``): per kind, in the portal and/or by email.

A person is never told of their own action.
"""
import logging
from dataclasses import dataclass
from typing import Callable

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from reviews import events
from reviews.errors import ServiceError
from reviews.models import (AuditEvent, ConsentRequest, EmailDelivery, FixRequest, Job, Membership, Notification,
                            NotificationKind, NotificationPreferences, Proposal, Role)

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """The channel-layer group of one person's browsers (their notifications)."""
    return f"user-{user_id}"


@dataclass(frozen=True)
class Message:
    """What one audit event tells: its kind, a line of text, a link, and who is told."""

    kind: str
    text: str
    url: str
    recipients: set[int]


def _people_in(production_id: int, role: str) -> set[int]:
    return set(Membership.objects.filter(production_id=production_id, role=role).values_list("user_id", flat=True))


def _fix_request_people(fix_request: FixRequest) -> set[int]:
    """The artist it is assigned to and the supervisor who filed it."""
    return {pk for pk in (fix_request.assignee_id, fix_request.created_by_id) if pk}


def _version(proposal: Proposal) -> str:
    return f"{proposal.version_label} of {proposal.fix_request.shot.code} ({proposal.fix_request.get_kind_display()})"


def _assignment(event: AuditEvent, fix_request: FixRequest) -> Message | None:
    if fix_request.assignee_id is None:
        return None
    return Message(NotificationKind.ASSIGNMENT,
                   f"{fix_request.get_kind_display()} on {fix_request.shot.code} is assigned to you.",
                   f"/productions/{fix_request.production.code}/shots/{fix_request.shot_id}/",
                   {fix_request.assignee_id})


def _version_ready(event: AuditEvent, proposal: Proposal) -> Message:
    return Message(NotificationKind.VERSION_READY, f"{_version(proposal)} is ready for review.",
                   f"/review/{proposal.pk}/",
                   _people_in(proposal.production_id, Role.DIRECTOR) | _fix_request_people(proposal.fix_request))


def _decision(event: AuditEvent, proposal: Proposal) -> Message:
    verb = {"proposal.approve": "approved", "proposal.reject": "rejected",
            "proposal.request_changes": "sent back with changes requested"}[event.action]
    note = event.payload.get("note") or ""
    return Message(NotificationKind.DECISION, f"{_version(proposal)} was {verb}." + (f" “{note}”" if note else ""),
                   f"/review/{proposal.pk}/", _fix_request_people(proposal.fix_request))


def _consent(kind: str, verb: str) -> Callable[[AuditEvent, ConsentRequest], Message]:
    def message(event: AuditEvent, consent: ConsentRequest) -> Message:
        fix_request = consent.fix_request
        what = f"{fix_request.get_kind_display()} on {fix_request.shot.code}"
        if kind == NotificationKind.CONSENT_REQUESTED:
            performer = consent.performer
            return Message(kind, f"Your consent is asked for: {what}.",
                           f"/productions/{consent.production.code}/consent/",
                           {pk for pk in (performer.user_id, performer.representative_id) if pk})
        return Message(kind, f"{consent.performer.name} {verb} consent to {what}.",
                       f"/productions/{consent.production.code}/shots/{fix_request.shot_id}/",
                       _people_in(consent.production_id, Role.SUPERVISOR) | _fix_request_people(fix_request))
    return message


def _likeness_raised(event: AuditEvent, fix_request: FixRequest) -> Message:
    """Likeness screening raised a fix to a digital alteration: the supervisors (who name the
    performers, or lower it with a reason) and the fix request's people are told."""
    return Message(NotificationKind.LIKENESS_RAISED,
                   f"Likeness screening raised the {fix_request.get_kind_display().lower()} on {fix_request.shot.code} "
                   f"to a digital alteration (a performer's face is in its region): name the performers, or lower "
                   f"it with a reason.",
                   f"/productions/{fix_request.production.code}/shots/{fix_request.shot_id}/",
                   _people_in(fix_request.production_id, Role.SUPERVISOR) | _fix_request_people(fix_request))


def _job_failed(event: AuditEvent, job: Job) -> Message:
    fix_request = job.fix_request
    return Message(NotificationKind.JOB_FAILED,
                   f"The {fix_request.get_kind_display().lower()} job on {fix_request.shot.code} failed: "
                   f"{job.error[:300]}", f"/productions/{job.production.code}/jobs/",
                   {pk for pk in (job.created_by_id,) if pk} | _fix_request_people(fix_request))


#: Audit action → how it is told. The target's model is the audit event's target.
RULES: dict[str, tuple[type, Callable]] = {
    "fix_request.create": (FixRequest, _assignment),
    "fix_request.assign": (FixRequest, _assignment),
    "proposal.create": (Proposal, _version_ready),
    "proposal.approve": (Proposal, _decision),
    "proposal.reject": (Proposal, _decision),
    "proposal.request_changes": (Proposal, _decision),
    "consent.request": (ConsentRequest, _consent(NotificationKind.CONSENT_REQUESTED, "")),
    "consent.grant": (ConsentRequest, _consent(NotificationKind.CONSENT_GRANTED, "granted")),
    "consent.deny": (ConsentRequest, _consent(NotificationKind.CONSENT_DENIED, "denied")),
    "consent.revoke": (ConsentRequest, _consent(NotificationKind.CONSENT_REVOKED, "revoked")),
    "job.failed": (Job, _job_failed),
    "fix_request.likeness_flagged": (FixRequest, _likeness_raised),
}


def preferences_of(user_id: int) -> NotificationPreferences:
    """``user_id``'s preferences (the defaults, unsaved, for someone who never changed them)."""
    return NotificationPreferences.objects.filter(user_id=user_id).first() or NotificationPreferences(user_id=user_id)


def notification_payload(notification: Notification) -> dict:
    """What a browser is told of a notification (``notification`` events, the list page)."""
    return {"id": notification.pk, "kind": notification.kind, "kind_label": notification.get_kind_display(),
            "text": notification.text, "url": notification.url, "created_at": notification.created_at.isoformat(),
            "read": notification.read_at is not None}


def notify_for_audit_event(event: AuditEvent, target) -> list[Notification]:
    """The notifications ``event`` (just recorded, on ``target``) makes, if its action is one of
    :data:`RULES`: one per recipient but the actor, as their preferences ask (none when both
    channels are off). Must run in the change's transaction; live events and immediate emails
    go once it commits."""
    rule = RULES.get(event.action)
    if rule is None:
        return []
    model, describe = rule
    # The target as its rule reads it, fresh (the caller's instance may be a partial one).
    subject = model.objects.select_related("production").get(pk=target.pk)
    message = describe(event, subject)
    if message is None:
        return []
    made = []
    for recipient in sorted(message.recipients - {event.actor_id}):
        preferences = preferences_of(recipient)
        in_app, email = preferences.wants(message.kind, "in_app"), preferences.wants(message.kind, "email")
        if not (in_app or email):
            continue
        notification = Notification.objects.create(
            recipient_id=recipient, production_id=event.production_id, kind=message.kind, text=message.text[:500],
            url=message.url, audit_event=event, in_app=in_app, email_pending=email)
        made.append(notification)
        if in_app:
            events.broadcast(user_group(recipient), "notification", notification_payload(notification))
        if email and preferences.email_delivery == EmailDelivery.IMMEDIATE:
            transaction.on_commit(lambda pk=notification.pk: notification_email_send([pk]))
    return made


def notification_email_send(notification_ids: list[int]) -> int:
    """Email the notifications ``notification_ids`` that still wait for their email, one message
    per recipient (one notification: its own subject; several: a digest), and mark them sent.
    Returns how many emails went. A recipient without an email address is skipped (their
    notifications stay in the portal); an SMTP failure is logged and leaves theirs pending, for
    the next digest run."""
    pending = (Notification.objects.filter(pk__in=notification_ids, email_pending=True)
               .select_related("recipient", "production").order_by("recipient_id", "created_at", "id"))
    by_recipient: dict[int, list[Notification]] = {}
    for notification in pending:
        by_recipient.setdefault(notification.recipient_id, []).append(notification)
    sent = 0
    for notifications in by_recipient.values():
        recipient: User = notifications[0].recipient
        if not recipient.email:
            Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(email_pending=False)
            continue
        subject, body = _email(notifications)
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient.email])
        except Exception:  # the mail server may be down: the change stands, the email waits
            logger.exception("could not email %d notification(s) to %s", len(notifications), recipient.email)
            continue
        Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(
            email_pending=False, emailed_at=timezone.now())
        sent += 1
    return sent


def _email(notifications: list[Notification]) -> tuple[str, str]:
    base = settings.LOUPE_SITE_URL.rstrip("/")
    lines = [f"[{n.production.code}] {n.text}\n{base}{n.url}" for n in notifications]
    footer = f"\n\nChoose what Loupe tells you, and how: {base}/notifications/preferences/\n"
    if len(notifications) == 1:
        n = notifications[0]
        return f"[Loupe {n.production.code}] {n.get_kind_display()}", lines[0] + footer
    return (f"[Loupe] Your digest: {len(notifications)} notifications",
            "\n\n".join(lines) + footer)


def notification_digest_send() -> int:
    """Send every notification still waiting for its email — those of people who take a daily
    digest, and any an SMTP failure held back — one email per person. Returns how many emails
    went. Run once a day (``manage.py send_notification_digest``, cron or Celery beat)."""
    return notification_email_send(list(Notification.objects.filter(email_pending=True).values_list("pk", flat=True)))


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark ``user``'s notifications ``ids`` (all unread ones when None) read; returns how many.
    Only those shown in the portal (``in_app``) are read there: emailed-only ones are not counted."""
    unread = Notification.objects.filter(recipient=user, in_app=True, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, in_app=True, read_at__isnull=True).count()


def preferences_update(*, user: User, kinds: dict[str, dict[str, bool]], email_delivery: str) -> NotificationPreferences:
    """Save ``user``'s preferences. Raises ``ServiceError`` for an unknown kind or delivery."""
    unknown = set(kinds) - set(NotificationKind.values)
    if unknown:
        raise ServiceError(f"Unknown notification kind(s): {', '.join(sorted(unknown))}.")
    if email_delivery not in EmailDelivery.values:
        raise ServiceError(f"Email delivery is one of {', '.join(EmailDelivery.values)}.")
    preferences, _ = NotificationPreferences.objects.update_or_create(
        user=user, defaults={"kinds": {kind: {"in_app": bool(v.get("in_app")), "email": bool(v.get("email"))}
                                       for kind, v in kinds.items()},
                             "email_delivery": email_delivery})
    return preferences

"""Forensic watermark payloads: one per viewing session, kept so that a leaked frame names who
was sent it (``engine.ops.watermark`` embeds and reads them; ``manage.py watermark_identify``)."""
import secrets

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from reviews.models import Clip, ForensicMark, Production, Proposal
from reviews.services.audit import audit_record

PAYLOAD_BITS = 32


def forensic_mark_issue(*, production: Production, viewer: User, channel: str, proposal: Proposal | None = None,
                        clip: Clip | None = None, session_key: str = "") -> ForensicMark:
    """A new random payload for one viewing session of ``proposal`` (or ``clip``), recorded in
    the audit trail (``forensic_mark.issue``) so that the link from payload to person is
    tamper-evident too."""
    for _ in range(8):
        try:
            with transaction.atomic():
                mark = ForensicMark.objects.create(
                    payload=secrets.randbits(PAYLOAD_BITS), production=production, viewer=viewer, proposal=proposal,
                    clip=clip, channel=channel, session_key=session_key)
                audit_record(production=production, actor=viewer, action="forensic_mark.issue",
                             target=proposal or clip or production,
                             payload={"payload": f"{mark.payload:08x}", "channel": channel})
                return mark
        except IntegrityError:
            continue  # that payload was taken: draw again
    raise RuntimeError("eight random 32-bit forensic payloads in a row were taken")


def forensic_mark_for_frame_views(*, production: Production, viewer: User, session_key: str,
                                  proposal: Proposal | None = None, clip: Clip | None = None) -> ForensicMark:
    """The payload of one person's frame views of ``proposal`` (or ``clip``) in one browser
    session: the same for every frame they load there, a new one in another session."""
    existing = ForensicMark.objects.filter(
        production=production, viewer=viewer, proposal=proposal, clip=clip, session_key=session_key,
        channel=ForensicMark.Channel.FRAME_VIEW).first()
    return existing or forensic_mark_issue(production=production, viewer=viewer, proposal=proposal, clip=clip,
                                           channel=ForensicMark.Channel.FRAME_VIEW, session_key=session_key)

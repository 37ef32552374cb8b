"""Forensic watermark payloads: one per viewing session, kept so that a leaked frame names who
was sent it (``engine.ops.watermark`` embeds and reads them; ``manage.py watermark_identify``)."""
import secrets

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from reviews.models import Clip, ForensicMark, Production, Proposal, ShareGuest
from reviews.services.audit import audit_record

PAYLOAD_BITS = 32


def forensic_mark_issue(*, production: Production, viewer: User, channel: str, proposal: Proposal | None = None,
                        clip: Clip | None = None, session_key: str = "",
                        share_guest: ShareGuest | None = None) -> ForensicMark:
    """A new random payload for one viewing session of ``proposal`` (or ``clip``), recorded in
    the audit trail (``forensic_mark.issue``) so that the link from payload to person is
    tamper-evident too. ``share_guest``: the guest (share link) ``viewer`` stands for."""
    for _ in range(8):
        try:
            with transaction.atomic():
                mark = ForensicMark.objects.create(
                    payload=secrets.randbits(PAYLOAD_BITS), production=production, viewer=viewer, proposal=proposal,
                    clip=clip, channel=channel, session_key=session_key, share_guest=share_guest)
                audit_record(production=production, actor=viewer, action="forensic_mark.issue",
                             target=proposal or clip or production,
                             payload={"payload": f"{mark.payload:08x}", "channel": channel,
                                      **({"guest": share_guest.name, "share_link": share_guest.link_id}
                                         if share_guest else {})})
                return mark
        except IntegrityError:
            continue  # that payload was taken: draw again
    raise RuntimeError("eight random 32-bit forensic payloads in a row were taken")


def forensic_mark_for_frame_views(*, production: Production, viewer: User, session_key: str,
                                  proposal: Proposal | None = None, clip: Clip | None = None,
                                  share_guest: ShareGuest | None = None) -> ForensicMark:
    """The payload of one person's frame views of ``proposal`` (or ``clip``) in one browser
    session: the same for every frame they load there, a new one in another session."""
    existing = ForensicMark.objects.filter(
        production=production, viewer=viewer, proposal=proposal, clip=clip, session_key=session_key,
        channel__in=(ForensicMark.Channel.FRAME_VIEW, ForensicMark.Channel.SHARE_LINK)).first()
    channel = ForensicMark.Channel.SHARE_LINK if share_guest else ForensicMark.Channel.FRAME_VIEW
    return existing or forensic_mark_issue(production=production, viewer=viewer, proposal=proposal, clip=clip,
                                           channel=channel, session_key=session_key, share_guest=share_guest)

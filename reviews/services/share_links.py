"""Share links: a version, or a playlist's versions, reviewed by someone without an account (a
studio executive, a performer's agent) — expiring, revocable, optionally behind a password; every arrival and view
audited; the guest's name burnt into every frame (visible and forensic); notes yes, decisions
never (ADR 0013).

A link's scope is one proposal (``ShareScope.PROPOSAL``) or one playlist (``ShareScope.PLAYLIST``:
its versions in the playlist's order, as the playlist is when the guest looks — a version taken
out of the playlist is no longer shared). :func:`share_link_proposals` is the one place that
turns a scope into what the guest may see; every guest read and note goes through it.

Each arrival is a ``ShareGuest`` with an account-less identity: a ``User`` that is inactive, has
no usable password and is a member of nothing, so it can sign in nowhere and no role check ever
passes for it — it only names the guest in notes, forensic marks and the audit trail.
"""
import datetime
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from reviews import authz
from reviews.errors import ServiceError
from reviews.models import Playlist, Proposal, ReviewNote, ShareGuest, ShareLink, ShareScope

from .audit import audit_record
from .forensic import forensic_mark_for_frame_views
from .review_notes import review_note_save

MAX_NAME = 100


class LinkUnusable(Exception):
    """A share link that does not open: ``reason`` is ``unknown``, ``expired`` or ``revoked``;
    the message says so to the guest."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class PasswordThrottled(Exception):
    """Too many wrong passwords for this link from this address: ``wait_s`` until the next try."""

    def __init__(self, wait_s: int):
        super().__init__(f"Too many wrong passwords. Try again in {wait_s // 60 + 1} minutes.")
        self.wait_s = wait_s


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a link's token: what the database keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


def share_link_create(*, actor: User, expires_in: datetime.timedelta, proposal: Proposal | None = None,
                      playlist: Playlist | None = None, password: str = "", label: str = "") -> tuple[ShareLink, str]:
    """A share link to ``proposal`` (scope ``proposal``) or to ``playlist`` (scope ``playlist``:
    its versions in order) — exactly one of the two — valid for ``expires_in`` from now, with an
    optional password (kept hashed); returns the link and its token (the only time the token is
    known: the URL is ``/share/<token>/``). Audited as ``share_link.create``.

    Raises ``NotAllowed`` unless ``actor`` is a supervisor or producer of the production
    (``authz.SHARE_WITH_GUEST``); ``ServiceError`` unless exactly one of ``proposal`` and
    ``playlist`` is given, for an empty playlist, a lifetime not between one hour and
    ``LOUPE_SHARE_LINK_MAX_DAYS`` days, or a password shorter than 8 characters.
    """
    if (proposal is None) == (playlist is None):
        raise ServiceError("A share link shares one version or one playlist: name exactly one.")
    production = (proposal or playlist).production
    authz.require(actor, production, authz.SHARE_WITH_GUEST)
    longest = datetime.timedelta(days=settings.LOUPE_SHARE_LINK_MAX_DAYS)
    if not datetime.timedelta(hours=1) <= expires_in <= longest:
        raise ServiceError(f"A share link lives between one hour and {settings.LOUPE_SHARE_LINK_MAX_DAYS} days "
                           f"(LOUPE_SHARE_LINK_MAX_DAYS).")
    if password and len(password) < 8:
        raise ServiceError("A share link's password has at least 8 characters (or leave it empty for none).")
    if playlist is not None and not playlist.items.exists():
        raise ServiceError(f"The playlist {playlist.name!r} is empty: add versions to it before sharing it.")
    token = secrets.token_urlsafe(24)
    scope = ShareScope.PROPOSAL if proposal is not None else ShareScope.PLAYLIST
    with transaction.atomic():
        link = ShareLink.objects.create(
            production=production, scope=scope, proposal=proposal, playlist=playlist, token_sha256=token_digest(token),
            password_hash=make_password(password) if password else "", label=label.strip()[:200],
            expires_at=timezone.now() + expires_in, created_by=actor)
        target = ({"proposal": proposal.pk, "version": proposal.version_label} if proposal is not None
                  else {"playlist": playlist.pk, "name": playlist.name})
        audit_record(production=production, actor=actor, action="share_link.create", target=link,
                     payload={"scope": link.scope, **target, "expires_at": link.expires_at.isoformat(),
                              "password": bool(password), "label": link.label})
    return link, token


def share_link_revoke(*, link: ShareLink, actor: User) -> ShareLink:
    """Revoke ``link`` at once (its guests' next request is refused). Audited as
    ``share_link.revoke``. Raises ``NotAllowed`` as :func:`share_link_create`; ``ServiceError``
    if it is revoked already."""
    authz.require(actor, link.production, authz.SHARE_WITH_GUEST)
    with transaction.atomic():
        locked = ShareLink.objects.select_for_update().get(pk=link.pk)
        if locked.revoked_at is not None:
            raise ServiceError("This share link is revoked already.")
        locked.revoked_at, locked.revoked_by = timezone.now(), actor
        locked.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(production=locked.production, actor=actor, action="share_link.revoke", target=locked,
                     payload={"scope": locked.scope, "proposal": locked.proposal_id,
                              "playlist": locked.playlist_id})
    return locked


def share_link_open(token: str) -> ShareLink:
    """The live link of ``token``. Raises ``LinkUnusable`` (unknown, expired or revoked)."""
    link = (ShareLink.objects.select_related("production", "proposal__fix_request__shot__clip", "playlist")
            .filter(token_sha256=token_digest(token)).first())
    if link is None:
        raise LinkUnusable("unknown", "This share link does not exist. Check the address you were sent.")
    return _live(link)


def _live(link: ShareLink) -> ShareLink:
    """``link`` if it is neither revoked nor expired; ``LinkUnusable`` saying which otherwise."""
    if link.revoked_at is not None:
        raise LinkUnusable("revoked", "This share link has been revoked by the production. Ask the person who "
                                      "sent it for a new one.")
    if link.expires_at <= timezone.now():
        raise LinkUnusable("expired", f"This share link expired on {link.expires_at:%Y-%m-%d at %H:%M} UTC. Ask "
                                      f"the person who sent it for a new one.")
    return link


def share_link_proposals(link: ShareLink) -> list[Proposal]:
    """What a guest of ``link`` may see, in order: the one place a scope becomes versions. A
    playlist's versions are read as the playlist is now (with shot and clip)."""
    if link.scope == ShareScope.PROPOSAL:
        return [link.proposal]
    if link.scope == ShareScope.PLAYLIST:
        return [item.proposal for item in link.playlist.items.select_related(
            "proposal__production", "proposal__fix_request__shot__clip").order_by("position", "id")]
    raise ServiceError(f"Unknown share link scope {link.scope!r}.")


def _throttle_key(link: ShareLink, address: str) -> str:
    return f"share-password:{link.pk}:{address}"


def share_guest_arrive(*, link: ShareLink, name: str, password: str, address: str, session_key: str) -> ShareGuest:
    """Let a guest in through ``link`` under ``name`` (checked against its password, if it has
    one), from client ``address`` in browser session ``session_key``. Audited as
    ``share_link.arrive``; a wrong password as ``share_link.password_refused``.

    Raises ``ServiceError`` for an empty or overlong name or a wrong password;
    ``PasswordThrottled`` once ``LOUPE_SHARE_PASSWORD_FAILURES`` wrong passwords came from
    ``address`` within ``LOUPE_SHARE_PASSWORD_WINDOW_MIN`` minutes (the right one too is refused
    until the window ends).
    """
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not name:
        raise ServiceError("Enter your name: it is shown on every frame you are sent.")
    if len(name) > MAX_NAME:
        raise ServiceError(f"A name is at most {MAX_NAME} characters.")
    key, window_s = _throttle_key(link, address), settings.LOUPE_SHARE_PASSWORD_WINDOW_MIN * 60
    failures = cache.get(key, {"count": 0, "until": 0})
    now = timezone.now().timestamp()
    if failures["count"] >= settings.LOUPE_SHARE_PASSWORD_FAILURES and failures["until"] > now:
        raise PasswordThrottled(int(failures["until"] - now) + 1)
    if link.password_hash and not check_password(password or "", link.password_hash):
        until = failures["until"] if failures["until"] > now else now + window_s
        cache.set(key, {"count": failures["count"] + 1, "until": until}, timeout=window_s)
        with transaction.atomic():
            audit_record(production=link.production, actor=None, action="share_link.password_refused", target=link,
                         payload={"address": address, "name": name})
        raise ServiceError("That password is not the link's. Check it with the person who sent you the link.")
    cache.delete(key)
    with transaction.atomic():
        user = User(username=f"guest-{secrets.token_hex(8)}", first_name=name[:150], last_name="(guest)",
                    is_active=False)  # named "<name> (guest)" beside their notes
        user.set_unusable_password()
        user.save()
        guest = ShareGuest.objects.create(link=link, name=name, user=user, session_key=session_key)
        audit_record(production=link.production, actor=user, action="share_link.arrive", target=link,
                     payload={"guest": name, "address": address})
    return guest


def share_guest_of(link: ShareLink, guest_id: int | None) -> ShareGuest | None:
    """The guest ``guest_id`` (from the browser session) if they arrived through ``link``."""
    if guest_id is None:
        return None
    return ShareGuest.objects.select_related("user").filter(pk=guest_id, link=link).first()


def guest_label(guest: ShareGuest) -> str:
    """How a guest is named on frames and beside notes: their name, marked as a guest."""
    return f"{guest.name} (guest)"


def share_view_record(*, guest: ShareGuest, what: str, proposal: Proposal) -> None:
    """Audit one view by a guest (``what``: the page, or a frame's media path) as
    ``share_link.view``."""
    with transaction.atomic():
        audit_record(production=guest.link.production, actor=guest.user, action="share_link.view",
                     target=proposal, payload={"share_link": guest.link_id, "guest": guest.name, "what": what})


def share_guest_mark(*, guest: ShareGuest, proposal: Proposal) -> int | None:
    """The forensic payload of ``guest``'s frame views of ``proposal`` (None when the portal does
    not mark frames), linked to the guest (``ForensicMark.share_guest``)."""
    if not settings.LOUPE_FORENSIC_WATERMARK:
        return None
    return forensic_mark_for_frame_views(production=proposal.production, viewer=guest.user, proposal=proposal,
                                         session_key=guest.session_key, share_guest=guest).payload


def share_note_create(*, guest: ShareGuest, proposal: Proposal, frame: int, text: str) -> ReviewNote:
    """A guest's note on ``frame`` of ``proposal``, shown to the production in the review room
    under the guest's name. Raises ``LinkUnusable`` if the link is no longer live,
    ``ServiceError`` if ``proposal`` is not shared by it or as ``review_note_save`` does."""
    link = share_link_open_by_id(guest.link_id)
    if proposal.pk not in {p.pk for p in share_link_proposals(link)}:
        raise ServiceError("This version is not shared by the link.")
    return review_note_save(proposal=proposal, author=guest.user, frame=frame, text=text)


def share_link_open_by_id(link_id: int) -> ShareLink:
    """As :func:`share_link_open`, by the link's id (a guest already in)."""
    return _live(ShareLink.objects.select_related("production", "proposal", "playlist").get(pk=link_id))


def share_link_proposal(link: ShareLink, proposal_id: int | None) -> tuple[int, list[Proposal]]:
    """The position (0-based) of version ``proposal_id`` among what ``link`` shares, and that
    list (:func:`share_link_proposals`); ``proposal_id`` None: the first. Raises ``ServiceError``
    when the version is not shared by the link (another production's, or one outside the
    playlist), or when the link shares nothing (an emptied playlist)."""
    proposals = share_link_proposals(link)
    if not proposals:
        raise ServiceError("This link shares nothing any more (its playlist is empty).")
    if proposal_id is None:
        return 0, proposals
    for position, proposal in enumerate(proposals):
        if proposal.pk == proposal_id:
            return position, proposals
    raise ServiceError("This version is not shared by the link.")

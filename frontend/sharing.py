"""Pages of notifications (the list, preferences) and of share links (making them for a version
or a playlist, and the guest's side: arrival, the shared versions one by one, notes, frames). The rules are in
``reviews.services.notifications`` and ``reviews.services.share_links``."""
import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from reviews import authz, selectors
from reviews.errors import NotAllowed, ServiceError
from reviews.media import SIDES, media_path, review_frame_path
from reviews.models import EmailDelivery, Notification, NotificationKind, ShareLink
from reviews.consumers import serve_frame
from reviews.services import notifications as notify
from reviews.services import share_links as shares
from reviews.services.review_notes import review_note_payload

from .views import _proposal_page

#: Session key holding, per share link id, the guest who arrived through it in this browser.
GUEST_SESSION_KEY = "share_guests"


# -- notifications -------------------------------------------------------------------------------
@login_required
def notifications(request):
    """The person's notifications, newest first (the last 200), and "mark all read"."""
    if request.method == "POST":
        notify.notifications_mark_read(user=request.user)
        return redirect("frontend:notifications")
    items = Notification.objects.filter(recipient=request.user, in_app=True).select_related("production")[:200]
    return render(request, "frontend/notifications.html", {"items": items})


@login_required
def notification_open(request, notification_id):
    """Mark one notification read and go where it points."""
    notification = Notification.objects.filter(pk=notification_id, recipient=request.user).first()
    if notification is None:
        raise Http404("No such notification of yours.")
    notify.notifications_mark_read(user=request.user, ids=[notification.pk])
    return redirect(notification.url or "frontend:notifications")


@login_required
def notification_preferences(request):
    """Per kind: in the portal and/or by email; emails at once or in a daily digest."""
    preferences = notify.preferences_of(request.user.pk)
    error = ""
    if request.method == "POST":
        kinds = {kind: {"in_app": f"{kind}.in_app" in request.POST, "email": f"{kind}.email" in request.POST}
                 for kind in NotificationKind.values}
        try:
            notify.preferences_update(user=request.user, kinds=kinds,
                                      email_delivery=request.POST.get("email_delivery", ""))
            return redirect("frontend:notification-preferences")
        except ServiceError as failure:
            error = str(failure)
    rows = [{"kind": kind, "label": label, "in_app": preferences.wants(kind, "in_app"),
             "email": preferences.wants(kind, "email")} for kind, label in NotificationKind.choices]
    return render(request, "frontend/notification_preferences.html", {
        "rows": rows, "email_delivery": preferences.email_delivery, "deliveries": EmailDelivery.choices,
        "error": error, "has_email": bool(request.user.email)})


# -- share links: the production's side ------------------------------------------------------------
def _share_links_page(request, *, production, links, template_context, share):
    """The share-link page of a version or a playlist (supervisors and producers): make a link
    (``share(expires_in=, password=, label=)`` → token), see who came, revoke."""
    if not authz.may(request.user, production, authz.SHARE_WITH_GUEST):
        raise PermissionDenied(f"Only a {' or '.join(sorted(authz.ACTION_ROLES[authz.SHARE_WITH_GUEST]))} "
                               f"of {production.code} may share with a guest.")
    made_url, error = "", ""
    if request.method == "POST":
        try:
            if "revoke" in request.POST:
                link = links.filter(pk=request.POST["revoke"]).first()
                if link is None:
                    raise ServiceError("No such share link here.")
                shares.share_link_revoke(link=link, actor=request.user)
            else:
                try:
                    days = float(request.POST["days"])
                except KeyError:
                    raise ServiceError("Say for how many days the link is valid.") from None
                except ValueError:
                    raise ServiceError("The lifetime is a number of days, e.g. 7 or 0.5.") from None
                token = share(expires_in=datetime.timedelta(days=days), password=request.POST.get("password", ""),
                              label=request.POST.get("label", ""))
                made_url = request.build_absolute_uri(f"/share/{token}/")
        except (ServiceError, NotAllowed) as failure:
            error = str(failure)
    return render(request, "frontend/share_links.html", {
        **template_context, "links": links.select_related("created_by", "revoked_by").prefetch_related("guests"),
        "made_url": made_url, "error": error, "max_days": settings.LOUPE_SHARE_LINK_MAX_DAYS},
        status=400 if error else 200)


@login_required
def share_links(request, proposal_id):
    """A version's share links (supervisors and producers): make one, see who came, revoke."""
    proposal = _proposal_page(request, proposal_id)
    return _share_links_page(
        request, production=proposal.production, links=proposal.share_links.all(),
        template_context={"proposal": proposal, "shared": f"{proposal.version_label} of {proposal.fix_request.shot.code}"},
        share=lambda **kw: shares.share_link_create(proposal=proposal, actor=request.user, **kw)[1])


@login_required
def playlist_share_links(request, code, playlist_id):
    """A playlist's share links (supervisors and producers): the guest steps through its
    versions in order, leaving notes on each."""
    production = selectors.production_for(request.user, code)
    playlist = selectors.playlist_of(production, playlist_id) if production is not None else None
    if playlist is None:
        raise Http404("No such playlist among your productions.")
    return _share_links_page(
        request, production=production, links=playlist.share_links.all(),
        template_context={"playlist": playlist, "shared": f"the playlist {playlist.name}"},
        share=lambda **kw: shares.share_link_create(playlist=playlist, actor=request.user, **kw)[1])


# -- share links: the guest's side -----------------------------------------------------------------
def _unusable(request, failure: shares.LinkUnusable) -> HttpResponse:
    status = 404 if failure.reason == "unknown" else 410
    return render(request, "frontend/share_unusable.html", {"message": str(failure), "reason": failure.reason},
                  status=status)


def _client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _guest(request, link):
    return shares.share_guest_of(link, request.session.get(GUEST_SESSION_KEY, {}).get(str(link.pk)))


def _shared(link, proposal_id):
    """(position, the versions ``link`` shares) for version ``proposal_id`` (None: the first);
    404 for a version the link does not share."""
    try:
        return shares.share_link_proposal(link, proposal_id)
    except ServiceError as failure:
        raise Http404(str(failure)) from None


def _arrived_guest(request, link, proposal_id=None):
    """The guest of this browser session on ``link`` and the shared version ``proposal_id``
    (None: the first); 403 before the guest has given their name on the link's page, 404 for a
    version the link does not share."""
    guest = _guest(request, link)
    if guest is None:
        raise PermissionDenied("Give your name on the link's page first.")
    position, proposals = _shared(link, proposal_id)
    return guest, proposals[position]


def _share_path(token, proposal=None) -> str:
    return f"/share/{token}/" if proposal is None else f"/share/{token}/versions/{proposal.pk}/"


def share_guest_page(request, token, proposal_id=None):
    """``/share/<token>/``: the guest gives their name (and the link's password, if any), then
    reviews what is shared — one version, or a playlist's versions one by one
    (``/share/<token>/versions/<proposal id>/``, with previous / next): frames with their name
    burnt in, the version's notes, a note form. No account; no decision. A version the link
    does not share answers 404."""
    try:
        link = shares.share_link_open(token)
    except shares.LinkUnusable as failure:
        return _unusable(request, failure)
    guest = _guest(request, link)
    if guest is None:
        return _arrive(request, link, token)
    position, proposals = _shared(link, proposal_id)
    proposal = proposals[position]
    shares.share_view_record(guest=guest, what="page", proposal=proposal)
    clip = proposal.fix_request.shot.clip
    notes = [review_note_payload(note, clip=clip)
             for note in proposal.notes.select_related("author").order_by("frame", "created_at", "id")]
    path = _share_path(token, proposal if proposal_id is not None else None)
    return render(request, "frontend/share_review.html", {
        "link": link, "token": token, "guest": guest, "proposal": proposal, "fix_request": proposal.fix_request,
        "notes": notes, "frames": range(proposal.frame_in, proposal.frame_out), "page_path": path,
        "position": position + 1, "count": len(proposals), "playlist": link.playlist,
        "previous": _share_path(token, proposals[position - 1]) if position > 0 else "",
        "next": _share_path(token, proposals[position + 1]) if position + 1 < len(proposals) else "",
        "error": request.session.pop("share_note_error", "")})


def _arrive(request, link, token):
    error, status = "", 200
    if request.method == "POST":
        if request.session.session_key is None:
            request.session.save()
        try:
            guest = shares.share_guest_arrive(link=link, name=request.POST.get("name", ""),
                                              password=request.POST.get("password", ""),
                                              address=_client_address(request),
                                              session_key=request.session.session_key)
        except shares.PasswordThrottled as failure:
            response = render(request, "frontend/share_arrive.html",
                              {"link": link, "error": str(failure)}, status=429)
            response["Retry-After"] = str(failure.wait_s)
            return response
        except ServiceError as failure:
            error, status = str(failure), 400
        else:
            guests = dict(request.session.get(GUEST_SESSION_KEY, {}))
            guests[str(link.pk)] = guest.pk
            request.session[GUEST_SESSION_KEY] = guests
            return redirect(f"/share/{token}/")
    return render(request, "frontend/share_arrive.html", {"link": link, "error": error,
                                                          "name": request.POST.get("name", "")}, status=status)


@require_POST
def share_guest_note(request, token):
    """A guest's note (form post from a shared version's page; ``proposal``: the version, the
    link's first when absent); back to that version's page."""
    try:
        link = shares.share_link_open(token)
    except shares.LinkUnusable as failure:
        return _unusable(request, failure)
    try:
        proposal_id = int(request.POST["proposal"]) if request.POST.get("proposal") else None
    except ValueError:
        raise Http404("No such shared version.") from None
    guest, proposal = _arrived_guest(request, link, proposal_id)
    try:
        frame = int(request.POST.get("frame", ""))
    except ValueError:
        request.session["share_note_error"] = "Pick the frame the note is about."
    else:
        try:
            shares.share_note_create(guest=guest, proposal=proposal, frame=frame, text=request.POST.get("text", ""))
        except ServiceError as failure:
            request.session["share_note_error"] = str(failure)
    return redirect(_share_path(token, proposal if proposal_id is not None else None) + "#notes")


def share_guest_frame(request, token, side, frame, proposal_id=None):
    """One review frame of a shared version (``proposal_id``; None: the link's first) for a
    guest: their name (marked "guest") and the time burnt in, and the forensic mark of their
    session; every frame read audited (``share_link.view``). 404 for a version the link does
    not share or a frame outside the version."""
    if side not in SIDES:
        raise Http404("The side is before or after.")
    try:
        link = shares.share_link_open(token)
    except shares.LinkUnusable as failure:
        return _unusable(request, failure)
    guest, proposal = _arrived_guest(request, link, proposal_id)
    if not proposal.frame_in <= frame < proposal.frame_out:
        raise Http404(f"Frame {frame} is outside the shared frames.")
    mark = shares.share_guest_mark(guest=guest, proposal=proposal)
    try:
        image = serve_frame(proposal=proposal, side=side, frame=frame, watermark_for=shares.guest_label(guest),
                            mark=mark)
    except OSError:
        raise Http404("This frame does not exist (yet).") from None
    path = review_frame_path(proposal.media_dir, side, frame)
    shares.share_view_record(guest=guest, what=path.relative_to(media_path("")).as_posix(), proposal=proposal)
    response = HttpResponse(image, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response

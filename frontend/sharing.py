"""Pages of notifications (the list, preferences) and of share links (making them, and the
guest's side: arrival, the shared version, notes, frames). The rules are in
``reviews.services.notifications`` and ``reviews.services.share_links``."""
import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from reviews import authz
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
@login_required
def share_links(request, proposal_id):
    """A version's share links (supervisors and producers): make one, see who came, revoke."""
    proposal = _proposal_page(request, proposal_id)
    if not authz.may(request.user, proposal.production, authz.SHARE_WITH_GUEST):
        raise PermissionDenied(f"Only a {' or '.join(sorted(authz.ACTION_ROLES[authz.SHARE_WITH_GUEST]))} "
                               f"of {proposal.production.code} may share a version with a guest.")
    made_url, error = "", ""
    if request.method == "POST":
        try:
            if "revoke" in request.POST:
                link = ShareLink.objects.filter(pk=request.POST["revoke"], proposal=proposal).first()
                if link is None:
                    raise ServiceError("No such share link of this version.")
                shares.share_link_revoke(link=link, actor=request.user)
            else:
                try:
                    days = float(request.POST["days"])
                except KeyError:
                    raise ServiceError("Say for how many days the link is valid.") from None
                except ValueError:
                    raise ServiceError("The lifetime is a number of days, e.g. 7 or 0.5.") from None
                _, token = shares.share_link_create(
                    proposal=proposal, actor=request.user, expires_in=datetime.timedelta(days=days),
                    password=request.POST.get("password", ""), label=request.POST.get("label", ""))
                made_url = request.build_absolute_uri(f"/share/{token}/")
        except (ServiceError, NotAllowed) as failure:
            error = str(failure)
    links = proposal.share_links.select_related("created_by", "revoked_by").prefetch_related("guests")
    return render(request, "frontend/share_links.html", {
        "proposal": proposal, "links": links, "made_url": made_url, "error": error,
        "max_days": settings.LOUPE_SHARE_LINK_MAX_DAYS}, status=400 if error else 200)


# -- share links: the guest's side -----------------------------------------------------------------
def _unusable(request, failure: shares.LinkUnusable) -> HttpResponse:
    status = 404 if failure.reason == "unknown" else 410
    return render(request, "frontend/share_unusable.html", {"message": str(failure), "reason": failure.reason},
                  status=status)


def _client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _guest(request, link):
    return shares.share_guest_of(link, request.session.get(GUEST_SESSION_KEY, {}).get(str(link.pk)))


def _arrived_guest(request, link):
    """The guest of this browser session on ``link`` and the version it shares; 403 before the
    guest has given their name on the link's page."""
    guest = _guest(request, link)
    if guest is None:
        raise PermissionDenied("Give your name on the link's page first.")
    return guest, shares.share_link_proposals(link)[0]


def share_guest_page(request, token):
    """``/share/<token>/``: the guest gives their name (and the link's password, if any), then
    reviews the shared version: frames with their name burnt in, the notes, a note form. No
    account; no decision."""
    try:
        link = shares.share_link_open(token)
    except shares.LinkUnusable as failure:
        return _unusable(request, failure)
    guest = _guest(request, link)
    if guest is None:
        return _arrive(request, link, token)
    proposal = shares.share_link_proposals(link)[0]
    shares.share_view_record(guest=guest, what="page", proposal=proposal)
    clip = proposal.fix_request.shot.clip
    notes = [review_note_payload(note, clip=clip)
             for note in proposal.notes.select_related("author").order_by("frame", "created_at", "id")]
    return render(request, "frontend/share_review.html", {
        "link": link, "token": token, "guest": guest, "proposal": proposal, "fix_request": proposal.fix_request,
        "notes": notes, "frames": range(proposal.frame_in, proposal.frame_out),
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
    """A guest's note (form post from the shared version's page)."""
    try:
        link = shares.share_link_open(token)
    except shares.LinkUnusable as failure:
        return _unusable(request, failure)
    guest, proposal = _arrived_guest(request, link)
    try:
        frame = int(request.POST.get("frame", ""))
    except ValueError:
        request.session["share_note_error"] = "Pick the frame the note is about."
    else:
        try:
            shares.share_note_create(guest=guest, proposal=proposal, frame=frame, text=request.POST.get("text", ""))
        except ServiceError as failure:
            request.session["share_note_error"] = str(failure)
    return redirect(f"/share/{token}/#notes")


def share_guest_frame(request, token, side, frame):
    """One review frame for a guest: their name (marked "guest") and the time burnt in, and the
    forensic mark of their session; every frame read audited (``share_link.view``)."""
    if side not in SIDES:
        raise Http404("The side is before or after.")
    try:
        link = shares.share_link_open(token)
    except shares.LinkUnusable as failure:
        return _unusable(request, failure)
    guest, proposal = _arrived_guest(request, link)
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

"""The permission matrix, generated from the URL configuration and the consumer routing: every
endpoint × every role × member / non-member × every HTTP method its view allows.

A new URL pattern or WebSocket route fails ``test_every_route_is_in_the_matrix`` until ``ENDPOINTS``
(or ``SOCKETS``) says how to fill its URL and which ``authz`` action guards its unsafe methods.
Role expectations come from ``authz.ACTION_ROLES``, never from lists of roles written here.

What is asserted:
- anonymous: pages redirect to the sign-in page; the API answers 401/403; sockets close with 4401;
- non-members (an outsider, and a supervisor of another production): 404 — the same status and
  body as for a code or id that does not exist, so nothing is confirmed — and no name of the
  production's objects in any body; sockets close with 4403;
- members: reads succeed (on routes with a ``reads`` action, only for its roles: 403 for the
  others, whatever the method); an unsafe method is refused with 403 before its body is looked at for
  roles its action does not allow, and gets past authorisation (400/409 on the deliberately empty
  body) for roles it allows;
- objects of another production addressed through one's own production's URL (``/TEST/jobs/<id
  of OTHER's job>/``) answer exactly as an id that does not exist;
- never a 5xx.
"""
import datetime
import json
import re
from dataclasses import dataclass, field

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from reviews import authz
from reviews.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from reviews.media import clip_proxy_path, clip_thumbnail_path, mask_frame_path, mask_media_dir, media_path
from reviews.models import (Clip, ClipIngest, ContinuityFinding, FixRequest, Job, JobState, LearnedModel, Production, Proposal,
                            ProxyState, ReportExport, ReportExportState, Role, Shot)
from reviews.routing import websocket_urlpatterns

from .helpers import websocket, without_csrf_token

ROLES = [role.value for role in Role]
MISSING_ID = 2_000_000_000
MISSING_CODE = "NOPE"

# Not under the matrix: Django's admin (its own staff permissions), sign-in (both steps) / sign-out,
# the API index, the API schema and its viewer (signed-in people only:
# tests/portal/test_content_security.py), the favicon, and the probes and metrics of operations
# (no production data; nginx answers /metrics only to the monitoring network: tests/portal),
# a person's own notifications (only ever their own rows: tests/reviews/test_notifications.py) and
# the guest pages of share links (no account; the token is the key: tests/reviews/test_share_links.py),
# sign-in with the studio's identity provider (tests/frontend/test_sso.py) and a person's own
# passkey ceremonies (tests/frontend/test_passkeys.py).
EXCLUDED = re.compile(r"^(admin/|login/$|login/code/$|logout/$|api/$|api/schema/$|api/docs/$|favicon\.ico$"
                      r"|healthz$|readyz$|metrics$|notifications/|share/|oidc/|account/passkeys/)")


@dataclass(frozen=True)
class Endpoint:
    """How to fill a route's kwargs (kwarg → object key in the data) and the ``authz`` action
    guarding each unsafe method (``None``: any member may). ``lists_productions``: a listing of
    the person's own productions, answered 200 to everyone signed in. ``personal``: about the
    signed-in person themselves (their account), answered 2xx to everyone signed in."""

    kwargs: dict[str, str] = field(default_factory=dict)
    actions: dict[str, str | None] = field(default_factory=dict)
    lists_productions: bool = False
    personal: bool = False
    # The ``authz`` action guarding every method, reads included (``None``: any member may read).
    reads: str | None = None
    # The deliberately incomplete body for the unsafe method: (data, content_type, extra headers).
    body: tuple = ({}, "application/json", {})


MULTIPART = ({}, None, {})
CODE = {"code": "production"}

ENDPOINTS: dict[str, Endpoint] = {
    # REST API
    "api/productions/": Endpoint(lists_productions=True),
    "api/account/token/": Endpoint(actions={"post": None, "delete": None}, personal=True),
    # require_mfa missing from the body: 400 once past authorisation.
    "api/productions/<slug:code>/security/": Endpoint(CODE, {"post": authz.MANAGE_SECURITY}),
    "api/productions/<slug:code>/clips/": Endpoint(CODE, {"post": authz.INGEST_FOOTAGE}),
    "api/productions/<slug:code>/clips/<int:pk>/": Endpoint(CODE | {"pk": "clip"}, {"patch": authz.INGEST_FOOTAGE}),
    "api/productions/<slug:code>/ocio-config/": Endpoint(CODE, {"put": authz.SET_OCIO_CONFIG,
                                                                "delete": authz.SET_OCIO_CONFIG}, body=MULTIPART),
    "api/productions/<slug:code>/clips/upload/": Endpoint(CODE, {"post": authz.INGEST_FOOTAGE}, body=MULTIPART),
    "api/productions/<slug:code>/ingests/": Endpoint(CODE),
    "api/productions/<slug:code>/ingests/<int:pk>/": Endpoint(CODE | {"pk": "ingest"}),
    "api/productions/<slug:code>/cuts/": Endpoint(CODE, {"post": authz.IMPORT_CUT}, body=MULTIPART),
    # Empty body: 400 (no format given) once past authorisation; producers read, supervisors deliver.
    "api/productions/<slug:code>/deliveries/": Endpoint(CODE, {"post": authz.DELIVER}, reads=authz.READ_DELIVERIES),
    "api/productions/<slug:code>/shots/": Endpoint(CODE),
    "api/productions/<slug:code>/fix-requests/": Endpoint(CODE, {"post": authz.FILE_FIX_REQUEST}),
    "api/productions/<slug:code>/assignments/": Endpoint(CODE, {"post": authz.ASSIGN_FIX_REQUEST}),
    # An over-long Idempotency-Key: 400 once past authorisation, so no job is queued.
    "api/productions/<slug:code>/fix-requests/<int:pk>/jobs/": Endpoint(
        CODE | {"pk": "fix_request"}, {"post": authz.RUN_JOB},
        body=({}, "application/json", {"HTTP_IDEMPOTENCY_KEY": "k" * 65})),
    # Empty body: 400 (no classification given) once past authorisation.
    "api/productions/<slug:code>/fix-requests/<int:pk>/classification/": Endpoint(
        CODE | {"pk": "fix_request"}, {"post": authz.CLASSIFY_FIX_REQUEST}),
    # The fix request is a colour match, which uses no mask sequence: 400 once past authorisation.
    "api/productions/<slug:code>/fix-requests/<int:pk>/mask/": Endpoint(
        CODE | {"pk": "fix_request"}, {"post": authz.FILE_FIX_REQUEST}),
    "api/productions/<slug:code>/fix-requests/<int:pk>/mask/strokes/": Endpoint(
        CODE | {"pk": "fix_request"}, {"post": authz.FILE_FIX_REQUEST}),
    "api/productions/<slug:code>/fix-requests/<int:pk>/mask/strokes/last/": Endpoint(
        CODE | {"pk": "fix_request"}, {"delete": authz.FILE_FIX_REQUEST}),
    # Empty body: 400 (no shots given) once past authorisation.
    "api/productions/<slug:code>/continuity-checks/": Endpoint(CODE, {"post": authz.FILE_FIX_REQUEST}),
    "api/productions/<slug:code>/continuity-findings/": Endpoint(CODE),
    # Empty body: 400 (no fix kind given) once past authorisation.
    "api/productions/<slug:code>/continuity-findings/<int:pk>/fix-request/": Endpoint(
        CODE | {"pk": "finding"}, {"post": authz.FILE_FIX_REQUEST}),
    "api/productions/<slug:code>/jobs/": Endpoint(CODE),
    "api/productions/<slug:code>/look-models/": Endpoint(CODE, {"post": authz.TRAIN_LOOK}),
    "api/productions/<slug:code>/learned-models/": Endpoint(CODE, {"post": authz.TRAIN_MODEL}),
    "api/productions/<slug:code>/learned-models/<int:pk>/": Endpoint(CODE | {"pk": "learned_model"}),
    "api/productions/<slug:code>/learned-models/<int:pk>/cancel/": Endpoint(CODE | {"pk": "learned_model"},
                                                                          {"post": authz.TRAIN_MODEL}),
    "api/productions/<slug:code>/jobs/<int:pk>/": Endpoint(CODE | {"pk": "job"}),
    # The job has succeeded: 409 once past authorisation.
    "api/productions/<slug:code>/jobs/<int:pk>/cancel/": Endpoint(CODE | {"pk": "job"}, {"post": authz.RUN_JOB}),
    "api/productions/<slug:code>/jobs/<int:pk>/retry/": Endpoint(CODE | {"pk": "job"}, {"post": authz.RUN_JOB}),
    "api/productions/<slug:code>/proposals/<int:pk>/": Endpoint(CODE | {"pk": "proposal"}),
    "api/productions/<slug:code>/proposals/<int:pk>/decisions/": Endpoint(
        CODE | {"pk": "proposal"}, {"post": authz.APPROVE_PROPOSAL}),
    # Dailies playlists: supervisors build and change them; every member reads them. Empty
    # bodies: 400 once past authorisation (the item's DELETE removes it: 2xx).
    "api/productions/<slug:code>/playlists/": Endpoint(CODE, {"post": authz.MANAGE_PLAYLIST}),
    "api/productions/<slug:code>/playlists/<int:pk>/": Endpoint(CODE | {"pk": "playlist"}),
    "api/productions/<slug:code>/playlists/<int:pk>/items/": Endpoint(
        CODE | {"pk": "playlist"}, {"post": authz.MANAGE_PLAYLIST}),
    "api/productions/<slug:code>/playlists/<int:pk>/items/<int:item>/": Endpoint(
        CODE | {"pk": "playlist", "item": "playlist_item"}, {"delete": authz.MANAGE_PLAYLIST}),
    "api/productions/<slug:code>/playlists/<int:pk>/order/": Endpoint(
        CODE | {"pk": "playlist"}, {"put": authz.MANAGE_PLAYLIST}),
    "api/productions/<slug:code>/playlists/<int:pk>/summary/": Endpoint(CODE | {"pk": "playlist"}),
    # Share links: supervisors and producers list, make and revoke them (empty body: 400).
    "api/productions/<slug:code>/share-links/": Endpoint(CODE, {"post": authz.SHARE_WITH_GUEST},
                                                         reads=authz.SHARE_WITH_GUEST),
    "api/productions/<slug:code>/share-links/<int:pk>/revoke/": Endpoint(
        CODE | {"pk": "share_link"}, {"post": authz.SHARE_WITH_GUEST}, reads=authz.SHARE_WITH_GUEST),
    # A person's own notifications and preferences (only ever their own rows).
    "api/account/notifications/": Endpoint(personal=True),
    "api/account/notifications/read/": Endpoint(actions={"post": None}, personal=True),
    "api/account/notifications/preferences/": Endpoint(actions={"patch": None}, personal=True),
    # Pages (function views answer any method; a POST renders the page like a GET)
    "productions/<slug:code>/playlists/": Endpoint(CODE, {"post": None}),
    "productions/<slug:code>/playlists/<int:playlist_id>/": Endpoint(CODE | {"playlist_id": "playlist"},
                                                                      {"post": None}),
    "productions/<slug:code>/playlists/<int:playlist_id>/session/": Endpoint(
        CODE | {"playlist_id": "playlist"}, {"post": None}),
    "productions/<slug:code>/playlists/<int:playlist_id>/share/": Endpoint(
        CODE | {"playlist_id": "playlist"}, {"post": authz.SHARE_WITH_GUEST}, reads=authz.SHARE_WITH_GUEST),
    "productions/<slug:code>/playlists/<int:playlist_id>/summary/": Endpoint(
        CODE | {"playlist_id": "playlist"}, {"post": None}),
    "media/playlists/<int:playlist_id>/notes/<int:note_id>.jpg": Endpoint(
        {"playlist_id": "playlist", "note_id": "note"}, {"post": None}),
    "": Endpoint(lists_productions=True, actions={"post": None}),
    "productions/<slug:code>/": Endpoint(CODE, {"post": None}),
    "productions/<slug:code>/shots/": Endpoint(CODE, {"post": None}),
    "productions/<slug:code>/shots/<int:shot_id>/": Endpoint(CODE | {"shot_id": "shot"}, {"post": None}),
    "productions/<slug:code>/jobs/": Endpoint(CODE, {"post": None}),
    # Empty form: 400 ("choose a consent request") once past authorisation.
    "productions/<slug:code>/consent/": Endpoint(CODE, {"post": authz.ANSWER_CONSENT}),
    "productions/<slug:code>/reports/consent/": Endpoint(CODE, {"post": None}, reads=authz.READ_REPORTS),
    "productions/<slug:code>/reports/disclosure/": Endpoint(CODE, {"post": None}, reads=authz.READ_REPORTS),
    "productions/<slug:code>/reports/audit/": Endpoint(CODE, {"post": None}, reads=authz.READ_REPORTS),
    "productions/<slug:code>/reports/scorecard/": Endpoint(CODE, {"post": None}, reads=authz.READ_REPORTS),
    "productions/<slug:code>/reports/deliveries/": Endpoint(CODE, {"post": None}, reads=authz.READ_REPORTS),
    # Report PDFs: an empty form names no report (400); the export is done, so a cancel is 409;
    # the download answers a POST as a GET.
    "productions/<slug:code>/reports/exports/": Endpoint(CODE, {"post": authz.READ_REPORTS}, reads=authz.READ_REPORTS),
    "productions/<slug:code>/reports/exports/<int:export_id>/": Endpoint(
        CODE | {"export_id": "report_export"}, {"post": authz.READ_REPORTS}, reads=authz.READ_REPORTS),
    "productions/<slug:code>/reports/exports/<int:export_id>/download/": Endpoint(
        CODE | {"export_id": "report_export"}, {"post": None}, reads=authz.READ_REPORTS),
    "review/<int:proposal_id>/": Endpoint({"proposal_id": "proposal"}, {"post": None}),
    "media/clips/<int:clip_id>/thumbnail.jpg": Endpoint({"clip_id": "clip"}, {"post": None}),
    "media/clips/<int:clip_id>/proxy.mp4": Endpoint({"clip_id": "clip"}, {"post": None}),
    "media/clips/<int:clip_id>/frames/<int:frame>.jpg": Endpoint({"clip_id": "clip", "frame": "frame"}, {"post": None}),
    "assignments/": Endpoint(lists_productions=True, actions={"post": None}),
    "media/masks/<int:job_id>/<int:frame>.png": Endpoint({"job_id": "mask_job", "frame": "frame"}, {"post": None}),
    "media/findings/<int:finding_id>/<str:side>.png": Endpoint({"finding_id": "finding", "side": "crop_side"},
                                                               {"post": None}),
    "media/proposals/<int:proposal_id>/review/<str:side>/<int:frame>.jpg": Endpoint(
        {"proposal_id": "proposal", "side": "side", "frame": "frame"}, {"post": None}),
    "media/proposals/<int:proposal_id>/frames/<int:frame>.png": Endpoint(
        {"proposal_id": "proposal", "frame": "frame"}, {"post": None}),
    "account/security/": Endpoint(actions={"post": None}, personal=True),
    # Empty form: 400 (no lifetime given) once past authorisation.
    "review/<int:proposal_id>/share/": Endpoint({"proposal_id": "proposal"}, {"post": authz.SHARE_WITH_GUEST},
                                                reads=authz.SHARE_WITH_GUEST),
}

SOCKETS: dict[str, dict[str, str]] = {
    "ws/review/<int:proposal_id>/": {"proposal_id": "proposal"},
    "ws/productions/<slug:code>/": CODE,
    "ws/dailies/<int:playlist_id>/": {"playlist_id": "playlist"},
    "ws/notifications/": {},
}
# Sockets about the signed-in person themselves (their notifications): everyone signed in connects.
PERSONAL_SOCKETS = {"ws/notifications/"}

KWARG = re.compile(r"<(?:\w+:)?(\w+)>")


def walk(patterns, prefix=""):
    """(route, callback) of every URL pattern below ``patterns``, includes followed."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if not route.startswith("admin/"):  # "api/" is the API's include and its index page
                yield from walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and not EXCLUDED.match(route):
            yield route, pattern.callback


def routes() -> dict:
    return dict(walk(get_resolver().url_patterns))


def methods_of(callback) -> list[str]:
    """The HTTP methods the view answers: a class-based view's handlers (HEAD with GET); a
    function view answers any, so GET, HEAD and POST."""
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return ["get", "head", "post"]
    found = [m for m in view_class.http_method_names if m != "head" and hasattr(view_class, m)]
    return found + (["head"] if "get" in found else [])


def fill(route: str, kwargs: dict) -> str:
    return "/" + KWARG.sub(lambda m: str(kwargs[m.group(1)]), route)


def is_api(route: str) -> bool:
    return route.startswith("api/")


def test_every_route_is_in_the_matrix():
    """A new endpoint cannot escape: each route, its kwargs and its unsafe methods are known."""
    found = routes()
    assert set(found) == set(ENDPOINTS), (
        f"routes without a matrix entry: {sorted(set(found) - set(ENDPOINTS))}; "
        f"matrix entries without a route: {sorted(set(ENDPOINTS) - set(found))}")
    for route, callback in found.items():
        spec = ENDPOINTS[route]
        assert set(KWARG.findall(route)) == set(spec.kwargs), f"{route}: kwargs not all filled"
        unsafe = {m for m in methods_of(callback) if m not in ("get", "head", "options")}
        assert unsafe == set(spec.actions), f"{route}: unsafe methods {unsafe} vs matrix {set(spec.actions)}"
        assert all(action is None or action in authz.ACTION_ROLES for action in spec.actions.values())
        assert spec.reads is None or spec.reads in authz.ACTION_ROLES
    socket_routes = {str(p.pattern) for p in websocket_urlpatterns}
    assert socket_routes == set(SOCKETS), f"WebSocket routes {sorted(socket_routes ^ set(SOCKETS))} not in SOCKETS"
    for route, kwargs in SOCKETS.items():
        assert set(KWARG.findall(route)) == set(kwargs), f"{route}: kwargs not all filled"


# --- data ------------------------------------------------------------------------------------

def other_production() -> tuple[dict, dict[str, User]]:
    """A second production, OTHER, with one member per role ("other-<role>") and its objects."""
    from reviews.services.productions import membership_add, production_create

    with transaction.atomic():
        production = production_create(code="OTHER", name="Rival production", actor=None)
        users = {}
        for role in ROLES:
            users[role] = User.objects.create_user(f"other-{role}")
            membership_add(production=production, user=users[role], role=role, actor=None)
    return add_objects(production, "RIVAL"), users


def add_objects(production, tag: str) -> dict:
    """A clip (with a thumbnail and a review proxy), shot, fix request, succeeded job and proposal in
    ``production``, made directly (no engine run); their URL values by object key."""
    clip = Clip.objects.create(production=production, name=f"{tag}_plate.mov", source_path=f"/nowhere/{tag}.mov",
                               checksum_sha256=tag.ljust(64, "0"), size_bytes=1, codec="h264", width=64, height=64,
                               frame_rate_num=24, frame_rate_den=1, frame_count=48)
    shot = Shot.objects.create(production=production, clip=clip, code=f"{tag}SHOT", source_in=0, source_out=48)
    fix_request = FixRequest.objects.create(production=production, shot=shot, kind="color_match", frame_in=0,
                                            frame_out=8)
    job = Job.objects.create(production=production, fix_request=fix_request, state=JobState.SUCCEEDED)
    proposal = Proposal.objects.create(production=production, fix_request=fix_request, job=job, version=1,
                                       frame_in=0, frame_out=8, media_dir="nowhere", region_fraction=0.1,
                                       method="test")
    thumbnail = clip_thumbnail_path(clip.pk)
    thumbnail.parent.mkdir(parents=True, exist_ok=True)
    thumbnail.write_bytes(b"\xff\xd8\xff\xd9")
    give_proxy(clip.pk)
    return objects_of(proposal)


def give_proxy(clip_id: int) -> None:
    """Mark a clip's review proxy made, with a stand-in file (the matrix checks access, not media)."""
    path = clip_proxy_path(clip_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    Clip.objects.filter(pk=clip_id).update(proxy_state=ProxyState.READY)


def playlist_objects(proposal) -> dict:
    """A playlist holding ``proposal`` and a version of a second fix request (the item the
    matrix's DELETE takes out), and a note on ``proposal``'s first frame (made directly)."""
    from reviews.models import Playlist, PlaylistItem, ReviewNote, ShareLink

    production = proposal.production
    playlist, _ = Playlist.objects.get_or_create(production=production, name="Dailies")
    PlaylistItem.objects.get_or_create(production=production, playlist=playlist, proposal=proposal,
                                       defaults={"position": 0})
    second_fix = FixRequest.objects.create(production=production, shot=proposal.fix_request.shot, kind="relight",
                                           frame_in=proposal.frame_in, frame_out=proposal.frame_out)
    second = Proposal.objects.create(
        production=production, fix_request=second_fix, version=1, frame_in=proposal.frame_in,
        frame_out=proposal.frame_out, media_dir="nowhere", region_fraction=0.1, method="test",
        job=Job.objects.create(production=production, fix_request=second_fix, state=JobState.SUCCEEDED))
    item = PlaylistItem.objects.create(production=production, playlist=playlist, proposal=second, position=1)
    author = User.objects.filter(memberships__production=proposal.production).order_by("pk").first()
    note, _ = ReviewNote.objects.get_or_create(production=proposal.production, proposal=proposal,
                                               frame=proposal.frame_in, defaults={"text": "warmer", "author": author})
    link = ShareLink.objects.create(production=production, proposal=proposal, token_sha256=f"{proposal.pk:064d}",
                                    expires_at=timezone.now() + datetime.timedelta(days=1), created_by=author)
    return {"playlist": playlist.pk, "playlist_item": item.pk, "note": note.pk, "share_link": link.pk}


def objects_of(proposal) -> dict:
    fix_request = proposal.fix_request
    return playlist_objects(proposal) | {
        "production": proposal.production.code, "clip": fix_request.shot.clip_id, "shot": fix_request.shot_id,
        "fix_request": fix_request.pk, "job": proposal.job_id, "proposal": proposal.pk, "side": "after",
        "frame": proposal.frame_in, "finding": finding_of(proposal).pk, "crop_side": "b",
        "learned_model": LearnedModel.objects.get_or_create(
            production=proposal.production, kind="inpaint", version=1,
            defaults={"name": "dailies", "state": JobState.SUCCEEDED})[0].pk,
        "mask_job": mask_job_of(proposal).pk,
        "report_export": report_export_of(proposal.production).pk,
        "ingest": ClipIngest.objects.get_or_create(production=proposal.production, name=fix_request.shot.clip.name,
                                                   defaults={"source_path": fix_request.shot.clip.source_path,
                                                             "clip": fix_request.shot.clip, "state": "ready"})[0].pk}


def mask_job_of(proposal) -> Job:
    """A succeeded mask job of the proposal's fix request with its first frame's mask on disk,
    made directly (no engine run)."""
    fix_request = proposal.fix_request
    job, _ = Job.objects.get_or_create(production=proposal.production, fix_request=fix_request, stage="mask",
                                       defaults={"state": JobState.SUCCEEDED})
    path = mask_frame_path(mask_media_dir(job.pk), proposal.frame_in)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    return job


def report_export_of(production) -> ReportExport:
    """A finished report PDF of the production, with a stand-in file (made directly, no worker)."""
    export, _ = ReportExport.objects.get_or_create(
        production=production, report="audit",
        defaults={"state": ReportExportState.DONE, "file": f"reports/{production.pk}/matrix-audit.pdf"})
    path = media_path(export.file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4 stand-in")
    return export


def finding_of(proposal) -> ContinuityFinding:
    """A continuity check of the proposal's shot (against itself) with one finding and both
    crops on disk, made directly (no engine run)."""
    shot = proposal.fix_request.shot
    check, _ = FixRequest.objects.get_or_create(production=proposal.production, shot=shot, kind="continuity_check",
                                                defaults={"frame_in": 0, "frame_out": 8, "reference_shot": shot})
    job, _ = Job.objects.get_or_create(production=proposal.production, fix_request=check,
                                       defaults={"state": JobState.SUCCEEDED})
    finding, _ = ContinuityFinding.objects.get_or_create(
        production=proposal.production, fix_request=check, job=job,
        defaults={"kind": "appeared", "frames_a": [0, 7], "frames_b": [0, 7], "box": [8, 8, 16, 16],
                  "confidence": 0.9, "media_dir": f"findings-test/job-{job.pk}", "crop_a": "a.png",
                  "crop_b": "b.png"})
    folder = media_path(finding.media_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (finding.crop_a, finding.crop_b):
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    return finding


def markers_of(production) -> list[str]:
    """Names of a production's objects that must never reach a non-member."""
    return ([production.name] + list(production.shots.values_list("code", flat=True))
            + list(production.clips.values_list("name", flat=True)))


def missing(objects: dict) -> dict:
    return {key: MISSING_CODE if key == "production" else MISSING_ID for key in objects}


def url_for(route: str, objects: dict) -> str:
    return fill(route, {kwarg: objects[key] for kwarg, key in ENDPOINTS[route].kwargs.items()})


def request(client: Client, method: str, url: str, spec: Endpoint):
    if method in ("get", "head", "options", "delete"):
        return getattr(client, method)(url)
    data, content_type, headers = spec.body
    if content_type is None:  # multipart
        return getattr(client, method)(url, data, **headers)
    return getattr(client, method)(url, json.dumps(data), content_type=content_type, **headers)


def body(response) -> str:
    """The response's text, its CSRF token (masked afresh on every response: the 404 page's
    sign-out form carries one) left out."""
    if hasattr(response, "streaming_content"):
        text = b"".join(response.streaming_content).decode(errors="replace")
    else:
        text = response.content.decode(errors="replace")
    return without_csrf_token(text)


def client_for(user) -> Client:
    client = Client(raise_request_exception=False)  # a 500 is a matrix failure, not an abort
    if user is not None:
        client.force_login(user)
    return client


class Failures(list):
    def check(self, condition: bool, what: str):
        if not condition:
            self.append(what)

    def assert_none(self):
        assert not self, f"{len(self)} permission matrix failure(s):\n" + "\n".join(self)


# --- HTTP ------------------------------------------------------------------------------------

@pytest.mark.timeout(900)  # every route × method × nine people: minutes on a loaded 2-core machine
@pytest.mark.django_db
def test_http_matrix(proposal, people):
    """Every route × method × (each role, outsider, another production's supervisor, anonymous);
    and every role of each production × the other production's object ids."""
    ours = objects_of(proposal)
    give_proxy(ours["clip"])
    theirs, rivals = other_production()
    jobs_made = Job.objects.count()  # by the setup: each production's proposal and continuity check
    our_markers = markers_of(proposal.production)
    their_markers = markers_of(Production.objects.get(code="OTHER"))
    login_url = resolve_url(settings.LOGIN_URL)
    failures = Failures()
    requests = 0

    identities = {role: people[role] for role in ROLES} | {
        "outsider": people["outsider"], "other-supervisor": rivals["supervisor"], "anonymous": None}
    clients = {name: client_for(user) for name, user in identities.items()}

    def outcome(name, method, url, spec):
        nonlocal requests
        requests += 1
        response = request(clients[name], method, url, spec)
        text = body(response)
        failures.check(response.status_code < 500, f"{name} {method.upper()} {url}: {response.status_code}")
        return response, text

    for route, callback in routes().items():
        spec = ENDPOINTS[route]
        api = is_api(route)
        url = url_for(route, ours)
        missing_url = url_for(route, missing(ours))
        for method in methods_of(callback):
            unsafe = method not in ("get", "head", "options")
            for name in identities:
                response, text = outcome(name, method, url, spec)
                status = response.status_code
                where = f"{name} {method.upper()} {url}"
                member = name in ROLES
                if name == "anonymous":
                    if api:
                        failures.check(status in (401, 403), f"{where}: {status}, expected 401/403")
                    else:
                        failures.check(status == 302 and response["Location"].startswith(login_url),
                                       f"{where}: {status}, expected a redirect to {login_url}")
                elif spec.personal:
                    failures.check(200 <= status < 300, f"{where}: {status}, expected 2xx")
                elif not member:
                    if spec.lists_productions:
                        failures.check(status in (200, 405) or (unsafe and status == 403),
                                       f"{where}: {status}")
                    else:
                        failures.check(status == 404, f"{where}: {status}, expected 404")
                        # Exactly what a code / id that does not exist gets: nothing confirmed.
                        other, other_text = outcome(name, method, missing_url, spec)
                        failures.check((other.status_code, other_text) == (status, text.replace(url, missing_url)),
                                       f"{where}: differs from {missing_url} ({other.status_code})")
                    leaked = [marker for marker in our_markers if marker in text]
                    failures.check(not leaked, f"{where}: body names {leaked}")
                elif spec.reads is not None and name not in authz.ACTION_ROLES[spec.reads]:
                    failures.check(status == 403, f"{where}: {status}, expected 403 ({name} may not {spec.reads})")
                elif unsafe and spec.actions[method] is not None:
                    action = spec.actions[method]
                    if name in authz.ACTION_ROLES[action]:
                        failures.check(status not in (401, 403, 404, 405),
                                       f"{where}: {status}, but {name} may {action}")
                    else:
                        failures.check(status == 403, f"{where}: {status}, expected 403 ({name} may not {action})")
                else:
                    failures.check(status == 200, f"{where}: {status}, expected 200")
                if member:
                    leaked = [marker for marker in their_markers if marker in text]
                    failures.check(not leaked, f"{where}: body names OTHER's {leaked}")

            # Another production's objects through one's own production's URL (and the reverse):
            # answered exactly as an id that does not exist, whatever the role.
            if not any(key != "production" for key in spec.kwargs.values()):
                continue
            for own, foreign, users, markers in ((ours, theirs, people, their_markers),
                                                 (theirs, ours, rivals, our_markers)):
                crossed = {key: own[key] if key == "production" else foreign[key] for key in own}
                nowhere = {key: own[key] if key == "production" else MISSING_ID for key in own}
                cross_url, nowhere_url = url_for(route, crossed), url_for(route, nowhere)
                for role in ROLES:
                    client = client_for(users[role])
                    requests += 2
                    response = request(client, method, cross_url, spec)
                    reference = request(client, method, nowhere_url, spec)
                    where = f"{users[role].username} {method.upper()} {cross_url}"
                    text = body(response).replace(cross_url, nowhere_url)
                    # OPTIONS describes the endpoint without looking the object up.
                    failures.check(response.status_code in (403, 404) or method == "options",
                                   f"{where}: {response.status_code}")
                    failures.check((response.status_code, text) == (reference.status_code, body(reference)),
                                   f"{where}: differs from {nowhere_url} ({reference.status_code})")
                    leaked = [marker for marker in markers if marker in text]
                    failures.check(not leaked, f"{where}: body names {leaked}")

    print(f"HTTP permission matrix: {len(ENDPOINTS)} routes, {requests} requests")
    failures.assert_none()
    # Nothing the matrix sent started any work or decided anything.
    proposal.refresh_from_db()
    assert proposal.status == "in_review"
    assert Job.objects.count() == jobs_made
    assert ReportExport.objects.count() == 2 and not ReportExport.objects.exclude(state=ReportExportState.DONE).exists()


# --- WebSocket -------------------------------------------------------------------------------

def connect_all(attempts: list[tuple[str, object]]) -> list[tuple[bool, int | None]]:
    """Connect to each (path, user) in turn, in one event loop (one Redis connection pool):
    (True, None) when accepted, else (False, close code)."""
    sockets = [websocket(path, user) for path, user in attempts]  # session cookies made here, in sync code

    async def attempt_all():
        results = []
        for socket in sockets:
            connected, code = await socket.connect()
            if connected:
                await socket.disconnect()
            results.append((connected, None if connected else code))
        return results

    return async_to_sync(attempt_all)()


@pytest.mark.django_db(transaction=True)
def test_websocket_matrix(production, people):
    """Every WebSocket route × (each role, outsider, another production's supervisor, anonymous),
    and each production's members × the other production's ids: members connect; anonymous are
    closed with 4401; everyone else with 4403, exactly as for an id that does not exist."""
    mine = add_objects(production, "OURS")
    theirs, rivals = other_production()
    identities = {role: people[role] for role in ROLES} | {
        "outsider": people["outsider"], "other-supervisor": rivals["supervisor"], "anonymous": None}
    cases = []  # (label, path, user, expected)
    for route in (str(p.pattern) for p in websocket_urlpatterns):
        kwargs = SOCKETS[route]
        path = fill(route, {kwarg: mine[key] for kwarg, key in kwargs.items()})
        nowhere = fill(route, {kwarg: missing(mine)[key] for kwarg, key in kwargs.items()})
        for name, user in identities.items():
            if name in ROLES or (route in PERSONAL_SOCKETS and user is not None):
                cases.append((name, path, user, (True, None)))
            elif name == "anonymous":
                cases.append((name, path, user, (False, CLOSE_UNAUTHENTICATED)))
            else:
                cases.append((name, path, user, (False, CLOSE_FORBIDDEN)))
                cases.append((name, nowhere, user, (False, CLOSE_FORBIDDEN)))
        if any(key != "production" for key in kwargs.values()):
            for foreign, users in ((theirs, people), (mine, rivals)):
                crossed = fill(route, {kwarg: foreign[key] for kwarg, key in kwargs.items()})
                cases += [(users[role].username, crossed, users[role], (False, CLOSE_FORBIDDEN)) for role in ROLES]
    results = connect_all([(path, user) for _, path, user, _ in cases])
    failures = Failures()
    for (label, path, _, expected), result in zip(cases, results):
        failures.check(result == expected, f"{label} {path}: {result}, expected {expected}")
    print(f"WebSocket permission matrix: {len(SOCKETS)} routes, {len(cases)} connection attempts")
    failures.assert_none()

"""Page views. Every page is scoped to the productions the person is a member of."""
import logging

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render

from engine.errors import FrameSourceError
from engine.io import read_frame
from reviews import authz, selectors
from reviews.media import (SIDES, clip_proxy_path, clip_thumbnail_path, encode_review_jpeg, media_path, media_response,
                           rendered_frame_path, review_frame_path)
from reviews.models import Clip, Decision, FixKind, Production, Proposal, ProxyState, Role
from reviews.services.access import access_denied_record, media_view_record
from reviews.services.jobs import job_payload
from reviews.timecode import frame_timecode

logger = logging.getLogger(__name__)


def _refuse(request, *, reason_if_locked: Production | None, code: str | None = None,
            target_model=None, target_id: int | None = None):
    """Audit the refusal, then raise: 403 with the reason for a member whose production requires
    a second factor they have not given, else 404 (as for something that does not exist)."""
    access_denied_record(actor=request.user, method=request.method, path=request.path,
                         reason="second factor" if reason_if_locked else "not a member",
                         production_code=code, target_model=target_model, target_id=target_id)
    if reason_if_locked is not None:
        raise PermissionDenied(authz.second_factor_message(reason_if_locked))
    raise Http404("Nothing here among your productions.")


def _production_page(request, code: str) -> Production:
    """The production a page is about, among the person's; else refused (``_refuse``)."""
    production = selectors.production_for(request.user, code)
    if production is None:
        _refuse(request, reason_if_locked=selectors.productions_locked_for(request.user).filter(code=code).first(),
                code=code)
    return production


def _proposal_page(request, proposal_id: int) -> Proposal:
    proposal = selectors.proposal_for(request.user, proposal_id)
    if proposal is None:
        locked = selectors.productions_locked_for(request.user).filter(proposals__pk=proposal_id).first()
        _refuse(request, reason_if_locked=locked, target_model=Proposal, target_id=proposal_id)
    return proposal


@login_required
def productions(request):
    return render(request, "frontend/productions.html", {"productions": selectors.productions_for(request.user),
                                                         "locked": selectors.productions_locked_for(request.user)})


@login_required
def production_detail(request, code):
    production = _production_page(request, code)
    return render(request, "frontend/production.html", {
        "production": production,
        "roles": sorted(authz.roles_in(request.user, production)),
        "clips": selectors.clips_of(production),
        "fix_requests": selectors.fix_requests_of(production),
        "may_run_jobs": authz.may(request.user, production, authz.RUN_JOB),
        "may_ingest": authz.may(request.user, production, authz.INGEST_FOOTAGE),
        "may_import_cut": authz.may(request.user, production, authz.IMPORT_CUT),
    })


@login_required
def review_room(request, proposal_id):
    proposal = _proposal_page(request, proposal_id)
    return render(request, "frontend/review.html", {
        "proposal": proposal,
        "fix_request": proposal.fix_request,
        "clip": proposal.fix_request.shot.clip,
        "may_decide": authz.may(request.user, proposal.production, authz.APPROVE_PROPOSAL),
        "decisions": proposal.decisions.select_related("director"),
        "decision_choices": Decision.choices,
    })


def _serve(request, *, production: Production, target, path, content_type: str):
    """Serve a media file of ``target`` after auditing the read (``media.view``)."""
    if not path.is_file():
        raise Http404("This media file does not exist (yet).")
    relative = path.relative_to(media_path("")).as_posix()
    media_view_record(production=production, actor=request.user, target=target, media=relative)
    return media_response(path, content_type)


def _clip_media(request, clip_id: int) -> Clip:
    """The clip a media URL names, among the person's productions; else refused (``_refuse``)."""
    clip = selectors.clips_for(request.user).filter(pk=clip_id).select_related("production").first()
    if clip is None:
        _refuse(request, reason_if_locked=selectors.productions_locked_for(request.user).filter(clips__pk=clip_id)
                .first(), target_model=Clip, target_id=clip_id)
    return clip


@login_required
def clip_thumbnail(request, clip_id):
    """A clip's thumbnail, for members of its production only; each read is audited."""
    clip = _clip_media(request, clip_id)
    return _serve(request, production=clip.production, target=clip, path=clip_thumbnail_path(clip.pk),
                  content_type="image/jpeg")


@login_required
def clip_proxy(request, clip_id):
    """A clip's browser review proxy (H.264), for members of its production only; each read is audited."""
    clip = _clip_media(request, clip_id)
    if clip.proxy_state != ProxyState.READY:
        raise Http404("This clip's review proxy is not ready yet.")
    return _serve(request, production=clip.production, target=clip, path=clip_proxy_path(clip.pk),
                  content_type="video/mp4")


@login_required
def clip_frame(request, clip_id, frame):
    """Frame ``frame`` of a clip's original as a review JPEG (to draw a mask on), for members of
    its production only; each read is audited."""
    clip = _clip_media(request, clip_id)
    if not 0 <= frame < clip.frame_count:
        raise Http404(f"The clip has frames 0–{clip.frame_count - 1}.")
    try:
        picture = read_frame(clip.source_path, frame)
    except FrameSourceError as error:
        raise Http404(f"The original cannot be read: {error}") from None
    media_view_record(production=clip.production, actor=request.user, target=clip, media=f"original frame {frame}")
    return HttpResponse(encode_review_jpeg(picture), content_type="image/jpeg")


def _proposal_frame(request, proposal_id: int, frame: int) -> Proposal:
    proposal = _proposal_page(request, proposal_id)
    if not proposal.frame_in <= frame < proposal.frame_out:
        raise Http404(f"Frame {frame} is outside this proposal's frames.")
    return proposal


@login_required
def proposal_review_frame(request, proposal_id, side, frame):
    """One review JPEG (``side``: before | after) of a proposal's frame ``frame`` (clip frame
    number), for members of its production only; each read is audited."""
    if side not in SIDES:
        raise Http404("The side is before or after.")
    proposal = _proposal_frame(request, proposal_id, frame)
    return _serve(request, production=proposal.production, target=proposal,
                  path=review_frame_path(proposal.media_dir, side, frame), content_type="image/jpeg")


@login_required
def proposal_rendered_frame(request, proposal_id, frame):
    """A proposal's rendered frame ``frame`` at full resolution (lossless PNG), for members of
    its production only; each read is audited."""
    proposal = _proposal_frame(request, proposal_id, frame)
    return _serve(request, production=proposal.production, target=proposal,
                  path=rendered_frame_path(proposal.media_dir, frame), content_type="image/png")


@login_required
def shot_board(request, code):
    """The post supervisor's shot board: every shot with its thumbnail, source range in frames
    and timecode, status, open fix requests, assignees and the soonest due date; filtered by
    status, assignee, fix kind and a search, sorted by a column — all as query parameters, so a
    filtered board is a link. Supervisors select shots to assign in bulk and file fix requests
    with a mask drawn on a frame (board.js, through the API)."""
    production = _production_page(request, code)
    filters = {name: request.GET.get(name, "").strip() for name in ("status", "assignee", "kind", "q", "sort")}
    shots = list(selectors.shot_board(production, status=filters["status"], assignee=filters["assignee"],
                                      kind=filters["kind"], search=filters["q"], sort=filters["sort"] or "cut"))
    rows = []
    for shot in shots:
        clip = shot.clip
        rows.append({
            "shot": shot,
            "status_label": selectors.SHOT_STATUSES[shot.board_status],
            "source_in_tc": frame_timecode(start_timecode=clip.start_timecode, frame_rate=clip.frame_rate,
                                           frame=shot.source_in),
            "source_last_tc": frame_timecode(start_timecode=clip.start_timecode, frame_rate=clip.frame_rate,
                                             frame=shot.source_out - 1),
            "assignees": sorted({fix.assignee.username for fix in shot.active_fixes if fix.assignee}),
        })
    artists = (User.objects.filter(memberships__production=production, memberships__role=Role.ARTIST)
               .distinct().order_by("username"))
    current = filters["sort"] or "cut"
    columns = [("code", "Shot"), ("status", "Status"), ("open", "Open fixes"), ("due", "Due")]
    return render(request, "frontend/shot_board.html", {
        "production": production,
        "rows": rows,
        "statuses": selectors.SHOT_STATUSES.items(),
        "kinds": FixKind.choices,
        "artists": artists,
        "filters": filters,
        "sort_links": {key: {"sort": f"-{key}" if current == key else key,
                             "arrow": "▲" if current == key else "▼" if current == f"-{key}" else ""}
                       for key, _ in columns},
        "reference_shots": production.shots.filter(removed_from_cut_at__isnull=True).order_by("cut_order", "code"),
        "may_assign": authz.may(request.user, production, authz.ASSIGN_FIX_REQUEST),
        "may_file": authz.may(request.user, production, authz.FILE_FIX_REQUEST),
    })


@login_required
def assignments(request):
    """The artist's "my assignments": fix requests assigned to them in all their productions,
    those still in work first, soonest due first, with their latest version."""
    fix_requests = selectors.assignments_of(request.user)
    return render(request, "frontend/assignments.html", {"fix_requests": fix_requests})


@login_required
def jobs(request, code):
    """A production's engine jobs — queued, running (with progress, ETA and a live preview),
    failed with their errors — with cancel and retry for those who may run jobs."""
    production = _production_page(request, code)
    return render(request, "frontend/jobs.html", {
        "production": production,
        "jobs": [job_payload(job) | {"job": job} for job in selectors.jobs_of(production)[:200]],
        "may_run_jobs": authz.may(request.user, production, authz.RUN_JOB),
    })

"""Page views. Every page is scoped to the productions the person is a member of."""
import logging

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, render

from engine.errors import FrameSourceError
from engine.io import read_frame
from reviews import authz, selectors
from reviews.media import clip_proxy_path, clip_thumbnail_path, encode_review_jpeg
from reviews.models import Clip, Decision, FixKind, ProxyState, Role
from reviews.services.jobs import job_payload
from reviews.timecode import frame_timecode

logger = logging.getLogger(__name__)


@login_required
def productions(request):
    return render(request, "frontend/productions.html", {"productions": selectors.productions_for(request.user)})


@login_required
def production_detail(request, code):
    production = selectors.production_for(request.user, code)
    if production is None:
        raise Http404("No such production among yours.")
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
    proposal = selectors.proposal_for(request.user, proposal_id)
    if proposal is None:
        raise Http404("No such proposal among your productions.")
    return render(request, "frontend/review.html", {
        "proposal": proposal,
        "fix_request": proposal.fix_request,
        "clip": proposal.fix_request.shot.clip,
        "may_decide": authz.may(request.user, proposal.production, authz.APPROVE_PROPOSAL),
        "decisions": proposal.decisions.select_related("director"),
        "decision_choices": Decision.choices,
    })


@login_required
def clip_thumbnail(request, clip_id):
    """A clip's thumbnail, for members of its production only; each access is logged."""
    clip = get_object_or_404(Clip, pk=clip_id, production__in=selectors.productions_for(request.user))
    path = clip_thumbnail_path(clip.pk)
    if not path.exists():
        raise Http404("This clip has no thumbnail yet.")
    logger.info("media access user=%s clip=%s thumbnail", request.user.pk, clip.pk)
    return FileResponse(path.open("rb"), content_type="image/jpeg")


@login_required
def clip_proxy(request, clip_id):
    """A clip's browser review proxy (H.264), for members of its production only; each access is logged."""
    clip = get_object_or_404(Clip, pk=clip_id, production__in=selectors.productions_for(request.user))
    path = clip_proxy_path(clip.pk)
    if clip.proxy_state != ProxyState.READY or not path.exists():
        raise Http404("This clip's review proxy is not ready yet.")
    logger.info("media access user=%s clip=%s proxy", request.user.pk, clip.pk)
    return FileResponse(path.open("rb"), content_type="video/mp4")


@login_required
def shot_board(request, code):
    """The post supervisor's shot board: every shot with its thumbnail, source range in frames
    and timecode, status, open fix requests, assignees and the soonest due date; filtered by
    status, assignee, fix kind and a search, sorted by a column — all as query parameters, so a
    filtered board is a link. Supervisors select shots to assign in bulk and file fix requests
    with a mask drawn on a frame (board.js, through the API)."""
    production = selectors.production_for(request.user, code)
    if production is None:
        raise Http404("No such production among yours.")
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
def clip_frame(request, clip_id, frame):
    """Frame ``frame`` of a clip's original as a review JPEG (for drawing a mask on it), for
    members of its production only; each access is logged."""
    clip = get_object_or_404(Clip, pk=clip_id, production__in=selectors.productions_for(request.user))
    if not 0 <= frame < clip.frame_count:
        raise Http404(f"The clip has frames 0–{clip.frame_count - 1}.")
    try:
        picture = read_frame(clip.source_path, frame)
    except FrameSourceError as error:
        raise Http404(f"The original cannot be read: {error}") from None
    logger.info("media access user=%s clip=%s frame=%s", request.user.pk, clip.pk, frame)
    return HttpResponse(encode_review_jpeg(picture), content_type="image/jpeg")


@login_required
def jobs(request, code):
    """A production's engine jobs — queued, running (with progress, ETA and a live preview),
    failed with their errors — with cancel and retry for those who may run jobs."""
    production = selectors.production_for(request.user, code)
    if production is None:
        raise Http404("No such production among yours.")
    return render(request, "frontend/jobs.html", {
        "production": production,
        "jobs": [job_payload(job) | {"job": job} for job in selectors.jobs_of(production)[:200]],
        "may_run_jobs": authz.may(request.user, production, authz.RUN_JOB),
    })

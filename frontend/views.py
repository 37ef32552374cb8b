"""Page views. Every page is scoped to the productions the person is a member of."""
import logging

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render

from reviews import authz, selectors
from reviews.media import clip_thumbnail_path
from reviews.services.jobs import job_payload
from reviews.models import Clip, Decision, Role
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
def shot_board(request, code):
    """The post supervisor's shot board: every shot with its thumbnail, source range in frames
    and timecode, status, open fix requests and assignees; filtered by status, assignee and a
    search, all as query parameters (so a filtered board is a link). Job progress of the shots'
    fix requests arrives live over the production's socket."""
    production = selectors.production_for(request.user, code)
    if production is None:
        raise Http404("No such production among yours.")
    status = request.GET.get("status", "")
    assignee = request.GET.get("assignee", "")
    search = request.GET.get("q", "").strip()
    shots = selectors.shot_board(production, status=status, assignee=assignee, search=search)
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
            "fix_request_ids": " ".join(str(fix.pk) for fix in shot.active_fixes),
            "jobs": [job_payload(job) for fix in shot.active_fixes for job in fix.active_jobs],
        })
    members = (User.objects.filter(memberships__production=production, memberships__role=Role.ARTIST)
               .distinct().order_by("username"))
    return render(request, "frontend/shot_board.html", {
        "production": production,
        "rows": rows,
        "statuses": selectors.SHOT_STATUSES.items(),
        "artists": members,
        "filters": {"status": status, "assignee": assignee, "q": search},
    })


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

"""Page views. Every page is scoped to the productions the person is a member of."""
import datetime
import logging

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from reviews import authz, reports, selectors
from reviews.errors import ServiceError
from reviews.media import clip_thumbnail_path
from reviews.services.consent import consent_answer, consent_revoke
from reviews.services.jobs import job_payload
from reviews.models import Clip, Decision, Role
from reviews.reports import Report
from reviews.timecode import frame_timecode

from . import exports

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
        "may_read_reports": authz.may(request.user, production, authz.READ_REPORTS),
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
    search, all as query parameters (so a filtered board is a link)."""
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


def _member_production(user, code):
    production = selectors.production_for(user, code)
    if production is None:
        raise Http404("No such production among yours.")
    return production


CONSENT_ANSWERS = ("grant", "deny", "revoke")


def _answer_consent(request, production) -> None:
    """Carry out the consent form's answer (``consent_request``, ``answer``, ``scope``,
    ``expires_on``, ``reason``); raises ``ServiceError`` with a message for the page."""
    authz.require(request.user, production, authz.ANSWER_CONSENT)
    answer = request.POST.get("answer", "")
    consent_id = request.POST.get("consent_request", "")
    if answer not in CONSENT_ANSWERS or not consent_id.isdigit():
        raise ServiceError("Choose a consent request and grant, deny or revoke it.")
    consent = selectors.consent_requests_answerable_by(request.user, production).filter(pk=int(consent_id)).first()
    if consent is None:
        raise Http404("No such consent request for you in this production.")
    if answer == "revoke":
        consent_revoke(consent_request=consent, actor=request.user, reason=request.POST.get("reason", ""))
        return
    expires = request.POST.get("expires_on", "").strip()
    try:
        expires_on = datetime.date.fromisoformat(expires) if expires else None
    except ValueError:
        raise ServiceError(f"{expires!r} is not a date; use YYYY-MM-DD.") from None
    consent_answer(consent_request=consent, actor=request.user, grant=answer == "grant",
                   scope=request.POST.get("scope", ""), expires_on=expires_on)


@login_required
def consent(request, code):
    """A performer's (or representative's) consent requests in a production: what each fix
    changes, a link to watch it, and grant (with scope and optional expiry), deny or revoke.
    Other members see that nothing awaits them."""
    production = _member_production(request.user, code)
    error, status = "", 200
    if request.method == "POST":
        try:
            _answer_consent(request, production)
            return redirect("frontend:consent", code=production.code)
        except ServiceError as failure:
            error, status = str(failure), failure.status_code
    rows = [{"consent": c, "latest": next(iter(c.fix_request.proposals.all()), None)}
            for c in selectors.consent_requests_answerable_by(request.user, production)]
    return render(request, "frontend/consent.html", {
        "production": production, "rows": rows, "error": error,
        "may_answer": authz.may(request.user, production, authz.ANSWER_CONSENT),
        "today": timezone.now().date(),
    }, status=status)


def _report_for(production, key: str, query) -> Report:
    if key == "consent":
        return reports.consent_report(production)
    if key == "disclosure":
        return reports.disclosure_register(production)
    if key == "scorecard":
        return reports.post_scorecard(production)
    return reports.audit_report(production, date_from=query.get("from", ""), date_to=query.get("to", ""),
                                person=query.get("person", "").strip(), shot=query.get("shot", "").strip(),
                                action=query.get("action", "").strip())


@login_required
def report(request, code, report):
    """A producer's report as a page, or with ``?format=csv`` / ``?format=pdf`` as a download.
    The audit trail takes the filters ``from``, ``to`` (YYYY-MM-DD), ``person``, ``shot`` and
    ``action`` as query parameters, so a filtered trail is a link and its exports match it."""
    production = _member_production(request.user, code)
    try:
        authz.require(request.user, production, authz.READ_REPORTS)
    except ServiceError as refused:
        return render(request, "frontend/report.html", {"production": production, "error": str(refused),
                                                        "reports": reports.REPORTS}, status=refused.status_code)
    try:
        built = _report_for(production, report, request.GET)
    except ValueError as error:
        return render(request, "frontend/report.html", {
            "production": production, "reports": reports.REPORTS, "key": report, "query": request.GET,
            "error": f"Dates are YYYY-MM-DD ({error})."}, status=400)
    stem = f"{production.code}-{report}-{timezone.now():%Y%m%d-%H%M}"
    export = request.GET.get("format", "")
    if export == "csv":
        response = HttpResponse(exports.report_csv(built), content_type="text/csv; charset=utf-8")
    elif export == "pdf":
        response = HttpResponse(exports.report_pdf(built, production_label=f"{production.code} {production.name}"),
                                content_type="application/pdf")
    else:
        return render(request, "frontend/report.html", {
            "production": production, "reports": reports.REPORTS, "key": report, "report": built,
            "rows": [[exports.cell_text(value) for value in row] for row in built.rows],
            "query": request.GET, "export_query": request.GET.urlencode()})
    response["Content-Disposition"] = f'attachment; filename="{stem}.{export}"'
    return response

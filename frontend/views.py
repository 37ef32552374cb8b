"""Page views. Every page is scoped to the productions the person is a member of."""
import datetime
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from engine.errors import FrameSourceError
from reviews import authz, measurements, reports, selectors, states
from reviews.deliverables import DELIVERY_FORMATS
from reviews.errors import ServiceError
from reviews.fixes import FIXES
from reviews.media import (RENDERED_FRAME_TYPES, SIDES, clip_proxy_path, clip_thumbnail_path, encode_review_jpeg,
                           mask_frame_path, mask_media_dir, media_path, media_response, private, rendered_frame_path,
                           review_frame_path)
from reviews.models import (Clip, ContinuityFinding, Decision, FixKind, FixRequestStatus, Job, JobState, Playlist,
                            Production, Proposal, ProxyState, ReportExport, Role)
from reviews.consumers import offered_views, serve_frame, view_folder
from reviews.services.access import access_denied_record, media_view_record
from reviews.services.annotations import person_name
from reviews.services.consent import consent_answer, consent_revoke
from reviews.services.findings import FOLLOW_UPS
from reviews.services.forensic import forensic_mark_for_frame_views
from reviews.services.jobs import job_payload
from reviews.services.report_exports import (report_export_cancel, report_export_download_path, report_export_payload,
                                             report_export_submit)
from reviews.timecode import frame_timecode

from . import exports
from .paging import page_of

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


#: Rows per page of the site's long lists (``frontend.paging``).
FIX_REQUESTS_PER_PAGE = 50
CLIPS_PER_PAGE = 48
SHOTS_PER_PAGE = 100
JOBS_PER_PAGE = 100
REPORT_ROWS_PER_PAGE = 100


def _colorspace_names(production) -> list[str]:
    """The input colour spaces a supervisor is offered: those of the production's OCIO config
    (OpenColorIO, loaded on the first supervisor's production page, as ingest loads it)."""
    from reviews.services.ocio_configs import colorspace_names_of

    return colorspace_names_of(production)


#: The production page shows this many of its newest learned models and trainings (the API lists all).
LEARNED_MODELS_SHOWN = 20
#: The production page shows a supervisor this many of its newest ingests (the API lists all).
INGESTS_SHOWN = 10


@login_required
def production_detail(request, code):
    """A production: its fix requests, newest first, ``FIX_REQUESTS_PER_PAGE`` at a time
    (``page``), narrowed by ``status``, ``kind`` and ``q`` (in the shot's code) as query
    parameters; its dailies ``CLIPS_PER_PAGE`` at a time (``clips_page``)."""
    production = _production_page(request, code)
    may_ingest = authz.may(request.user, production, authz.INGEST_FOOTAGE)
    may_train = authz.may(request.user, production, authz.TRAIN_MODEL)
    filters = {name: request.GET.get(name, "").strip() for name in ("status", "kind", "q")}
    fix_requests = selectors.fix_requests_of(production).order_by("-created_at", "-id")
    if filters["status"]:
        fix_requests = fix_requests.filter(status=filters["status"])
    if filters["kind"]:
        fix_requests = fix_requests.filter(kind=filters["kind"])
    if filters["q"]:
        fix_requests = fix_requests.filter(shot__code__icontains=filters["q"])
    fix_page = page_of(request, fix_requests, per_page=FIX_REQUESTS_PER_PAGE)
    clip_page = page_of(request, selectors.clips_of(production).order_by("name", "id"), per_page=CLIPS_PER_PAGE,
                        parameter="clips_page")
    return render(request, "frontend/production.html", {
        "production": production,
        "roles": sorted(authz.roles_in(request.user, production)),
        "clips": clip_page["rows"],
        "clip_pager": clip_page,
        "fix_requests": fix_page["rows"],
        "fix_pager": fix_page,
        "filters": filters,
        "statuses": FixRequestStatus.choices,
        "kinds": FixKind.choices,
        "may_run_jobs": authz.may(request.user, production, authz.RUN_JOB),
        "may_ingest": may_ingest,
        "colorspaces": _colorspace_names(production) if may_ingest else (),
        "ingests": production.ingests.select_related("clip")[:INGESTS_SHOWN] if may_ingest else (),
        "may_import_cut": authz.may(request.user, production, authz.IMPORT_CUT),
        "may_read_reports": authz.may(request.user, production, authz.READ_REPORTS),
        "may_deliver": authz.may(request.user, production, authz.DELIVER),
        "delivery_formats": [(key, spec.label) for key, spec in DELIVERY_FORMATS.items()],
        "learned_models": production.learned_models.order_by("-created_at", "-pk")[:LEARNED_MODELS_SHOWN],
        "may_train_models": may_train,
        "training_shots": production.shots.order_by("code") if may_train else (),
    })


@login_required
def review_room(request, proposal_id):
    proposal = _proposal_page(request, proposal_id)
    return _review_room_page(request, proposal, _session_strip(request, proposal))


def _review_room_page(request, proposal: Proposal, session: dict | None):
    """The review room of ``proposal``; with ``session`` (``_session_strip``), inside a dailies session."""
    standing = selectors.consent_standing_of(proposal.fix_request)
    return render(request, "frontend/review.html", {
        "proposal": proposal,
        "fix_request": proposal.fix_request,
        "clip": proposal.fix_request.shot.clip,
        "may_decide": authz.may(request.user, proposal.production, authz.APPROVE_PROPOSAL),
        "may_share": authz.may(request.user, proposal.production, authz.SHARE_WITH_GUEST),
        "decisions": proposal.decisions.select_related("director"),
        "decision_choices": Decision.choices,
        "standing": standing,
        "final": states.proposal_is_final(status=proposal.status, standing=standing),
        "measurements": measurements.describe(proposal.metrics),
        "session": session,
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
    its production only, watermarked like review frames when the production watermarks them;
    each read is audited."""
    # PyAV on first use (OpenCV only for an image-sequence original): docs/adr/0010-light-web-processes.md
    from engine.media.decode import read_frame
    from reviews.watermark import for_reader

    clip = _clip_media(request, clip_id)
    if not 0 <= frame < clip.frame_count:
        raise Http404(f"The clip has frames 0–{clip.frame_count - 1}.")
    try:
        picture = read_frame(clip.source_path, frame)
    except FrameSourceError as error:
        raise Http404(f"The original cannot be read: {error}") from None
    reader = person_name(request.user) if clip.production.review_watermark else None
    image = for_reader(encode_review_jpeg(picture), reader, _frame_view_mark(request, clip.production, clip=clip))
    media_view_record(production=clip.production, actor=request.user, target=clip, media=f"original frame {frame}")
    return private(HttpResponse(image, content_type="image/jpeg"))


def _frame_view_mark(request, production, *, proposal=None, clip=None) -> int | None:
    """The forensic payload of this person's frame views of ``proposal`` (or ``clip``) in this
    browser session, or None when the portal does not mark frames."""
    if not settings.LOUPE_FORENSIC_WATERMARK:
        return None
    if request.session.session_key is None:
        request.session.save()
    return forensic_mark_for_frame_views(production=production, viewer=request.user, proposal=proposal, clip=clip,
                                         session_key=request.session.session_key).payload


def _proposal_frame(request, proposal_id: int, frame: int) -> Proposal:
    proposal = _proposal_page(request, proposal_id)
    if not proposal.frame_in <= frame < proposal.frame_out:
        raise Http404(f"Frame {frame} is outside this proposal's frames.")
    return proposal


@login_required
def proposal_review_frame(request, proposal_id, side, frame):
    """One review JPEG (``side``: before | after) of a proposal's frame ``frame`` (clip frame
    number) in the review view ``?view=<name>`` (default the first of ``LOUPE_REVIEW_VIEWS``; a
    name not offered is a 400 naming those that are), for members of its production only,
    watermarked with the reader's name and the time when the production watermarks review
    frames; each read is audited."""
    if side not in SIDES:
        raise Http404("The side is before or after.")
    names = [view["name"] for view in offered_views()]
    view = request.GET.get("view", names[0])
    if view not in names:
        return HttpResponse(f"view is one of {', '.join(names)}", status=400, content_type="text/plain")
    proposal = _proposal_frame(request, proposal_id, frame)
    folder = view_folder(proposal, view)
    path = review_frame_path(proposal.media_dir, side, frame, folder)
    reader = person_name(request.user) if proposal.production.review_watermark else None
    mark = _frame_view_mark(request, proposal.production, proposal=proposal)
    if reader is None and mark is None:
        return _serve(request, production=proposal.production, target=proposal, path=path, content_type="image/jpeg")
    # Watermarked like the review room's frames: through the one function review frames leave by.
    try:
        image = serve_frame(proposal=proposal, side=side, frame=frame, watermark_for=reader, mark=mark, folder=folder)
    except OSError:
        raise Http404("This media file does not exist (yet).") from None
    media_view_record(production=proposal.production, actor=request.user, target=proposal,
                      media=path.relative_to(media_path("")).as_posix())
    return private(HttpResponse(image, content_type="image/jpeg"))


@login_required
def proposal_rendered_frame(request, proposal_id, frame):
    """A proposal's rendered frame ``frame`` at full resolution, lossless, as stored (PNG, or
    OpenEXR for a half/float source: ``image/x-exr``), for members of its production only; each
    read is audited."""
    proposal = _proposal_frame(request, proposal_id, frame)
    path = rendered_frame_path(proposal.media_dir, frame)
    return _serve(request, production=proposal.production, target=proposal, path=path,
                  content_type=RENDERED_FRAME_TYPES[path.suffix])


@login_required
def mask_frame(request, job_id, frame):
    """Frame ``frame``'s mask (PNG, 0 outside the object, 255 inside) of a fix request's mask
    sequence (a succeeded mask job), for members of its production only; each read is audited.
    Served like a proposal's rendered frames: a mask is a shape, not a picture of the footage,
    so it is not watermarked (the frame it lies over is)."""
    job = selectors.mask_job_for(request.user, job_id)
    if job is None:
        _refuse(request, reason_if_locked=selectors.productions_locked_for(request.user).filter(jobs__pk=job_id)
                .first(), target_model=Job, target_id=job_id)
    if job.state != JobState.SUCCEEDED:
        raise Http404("This mask job has not made its masks (yet).")
    return _serve(request, production=job.production, target=job,
                  path=mask_frame_path(mask_media_dir(job.pk), frame), content_type="image/png")


@login_required
def shot_board(request, code):
    """The post supervisor's shot board: every shot with its thumbnail, source range in frames
    and timecode, status, open fix requests, assignees and the soonest due date; filtered by
    status, assignee, fix kind and a search, sorted by a column, ``SHOTS_PER_PAGE`` shots a page
    (``page``) — all as query parameters, so a
    filtered board is a link. Supervisors select shots to assign in bulk and file fix requests
    with a mask drawn on a frame (board.js, through the API). Job progress of the shots' fix
    requests arrives live over the production's socket (shot_board.js)."""
    production = _production_page(request, code)
    filters = {name: request.GET.get(name, "").strip() for name in ("status", "assignee", "kind", "q", "sort")}
    pager = page_of(request, selectors.shot_board(production, status=filters["status"], assignee=filters["assignee"],
                                                 kind=filters["kind"], search=filters["q"], sort=filters["sort"] or "cut"),
                    per_page=SHOTS_PER_PAGE)
    rows = []
    for shot in pager["rows"]:
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
            "last_job_label": JobState(shot.last_job_state).label if shot.last_job_state else "",
        })
    artists = (User.objects.filter(memberships__production=production, memberships__role=Role.ARTIST)
               .distinct().order_by("username"))
    current = filters["sort"] or "cut"
    columns = [("code", "Shot"), ("status", "Status"), ("open", "Open fixes"), ("due", "Due")]
    return render(request, "frontend/shot_board.html", {
        "production": production,
        "rows": rows,
        "pager": pager,
        "statuses": selectors.SHOT_STATUSES.items(),
        "kinds": FixKind.choices,
        "kind_needs": [(kind, label, FIXES[kind].needs) for kind, label in FixKind.choices],
        "artists": artists,
        "filters": filters,
        "sort_links": {key: {"sort": f"-{key}" if current == key else key,
                             "arrow": "▲" if current == key else "▼" if current == f"-{key}" else ""}
                       for key, _ in columns},
        "reference_shots": production.shots.filter(removed_from_cut_at__isnull=True).order_by("cut_order", "code"),
        "may_assign": authz.may(request.user, production, authz.ASSIGN_FIX_REQUEST),
        "may_file": authz.may(request.user, production, authz.FILE_FIX_REQUEST),
        "may_playlist": authz.may(request.user, production, authz.MANAGE_PLAYLIST),
    })


@login_required
def shot_detail(request, code, shot_id):
    """One shot: its fix requests with their versions and guild classification (supervisors
    classify here), and the continuity findings of the checks run on it, each with its crops of
    both takes and — for supervisors — one button per fix the finding can become (shot.js,
    through the API)."""
    production = _production_page(request, code)
    shot = selectors.shot_for(request.user, production, shot_id)
    if shot is None:
        raise Http404("No such shot in this production.")
    fix_requests = list(selectors.fix_requests_of(production).filter(shot=shot).order_by("-created_at"))
    findings = selectors.findings_of(production).filter(fix_request__shot=shot)
    return render(request, "frontend/shot.html", {
        "production": production,
        "shot": shot,
        "fix_requests": fix_requests,
        "findings": [{"finding": finding, "follow_ups": [(kind, FixKind(kind).label) for kind in FOLLOW_UPS[finding.kind]]}
                     for finding in findings],
        "checks_in_work": [fix for fix in fix_requests if fix.kind == FixKind.CONTINUITY_CHECK
                           and fix.status in selectors.ACTIVE_FIX_STATUSES],
        "may_file": authz.may(request.user, production, authz.FILE_FIX_REQUEST),
        "may_classify": authz.may(request.user, production, authz.CLASSIFY_FIX_REQUEST),
        "performers": production.performers.order_by("name"),
    })


@login_required
def finding_crop(request, finding_id, side):
    """A continuity finding's crop of take ``a`` or ``b`` (PNG), for members of its production
    only; each read is audited."""
    finding = selectors.finding_for(request.user, finding_id)
    if finding is None:
        locked = selectors.productions_locked_for(request.user).filter(continuity_findings__pk=finding_id).first()
        _refuse(request, reason_if_locked=locked, target_model=ContinuityFinding, target_id=finding_id)
    name = {"a": finding.crop_a, "b": finding.crop_b}.get(side)
    if name is None:
        raise Http404("A finding has the crops a and b.")
    return _serve(request, production=finding.production, target=finding,
                  path=media_path(finding.media_dir) / name, content_type="image/png")


@login_required
def assignments(request):
    """The artist's "my assignments": fix requests assigned to them in all their productions,
    those still in work first, soonest due first, with their latest version;
    ``FIX_REQUESTS_PER_PAGE`` at a time (``page``)."""
    pager = page_of(request, selectors.assignments_of(request.user), per_page=FIX_REQUESTS_PER_PAGE)
    return render(request, "frontend/assignments.html", {"fix_requests": pager["rows"], "pager": pager})


@login_required
def jobs(request, code):
    """A production's engine jobs, newest first, ``JOBS_PER_PAGE`` at a time (``page``) — queued,
    running (with progress, ETA and a live preview), failed with their errors — with cancel and
    retry for those who may run jobs."""
    production = _production_page(request, code)
    pager = page_of(request, selectors.jobs_of(production).order_by("-created_at", "-id"), per_page=JOBS_PER_PAGE)
    return render(request, "frontend/jobs.html", {
        "production": production,
        "jobs": [job_payload(job) | {"job": job} for job in pager["rows"]],
        "pager": pager,
        "may_run_jobs": authz.may(request.user, production, authz.RUN_JOB),
    })


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
    production = _production_page(request, code)
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


def _without(query, name: str):
    """A copy of the query parameters without ``name`` (a page link keeps the filters)."""
    kept = query.copy()
    kept.pop(name, None)
    return kept


@login_required
def report(request, code, report):
    """A producer's report as a page, or with ``?format=csv`` as a streamed download; a PDF is
    made by a worker (``report_exports``), and ``?format=pdf`` leads to the page's button that
    starts it, the filters kept.
    The audit trail takes the filters ``from``, ``to`` (YYYY-MM-DD), ``person``, ``shot``,
    ``action`` and ``hide_media`` as query parameters, so a filtered trail is a link and its
    exports match it; the page shows it ``reports.AUDIT_PAGE_SIZE`` events at a time (``page``),
    the other reports ``REPORT_ROWS_PER_PAGE`` rows at a time; the exports whole."""
    production = _production_page(request, code)
    try:
        authz.require(request.user, production, authz.READ_REPORTS)
    except ServiceError as refused:
        return render(request, "frontend/report.html", {"production": production, "error": str(refused),
                                                        "reports": reports.REPORTS}, status=refused.status_code)
    export = request.GET.get("format", "")
    if export == "pdf":
        # A PDF is made by a worker (issue #24): the page, with the filters, offers to start it.
        return redirect(f"{request.path}?{_without(_without(request.GET, 'format'), 'page').urlencode()}#export-pdf")
    try:
        built = reports.report_build(production, report, request.GET, page=None if export == "csv" else
                                     request.GET.get("page", "1"))
    except ValueError as error:
        return render(request, "frontend/report.html", {
            "production": production, "reports": reports.REPORTS, "key": report, "query": request.GET,
            "error": f"Dates are YYYY-MM-DD ({error})."}, status=400)
    stem = f"{production.code}-{report}-{timezone.now():%Y%m%d-%H%M}"
    if export == "csv":
        # Streamed as it is read: the first bytes leave at once, memory is one chunk (issue #24).
        response = StreamingHttpResponse(exports.stream_from_sync(exports.report_csv_chunks(built)),
                                         content_type="text/csv; charset=utf-8")
    else:
        if built.page is None:  # the other reports, one row per fix request or consent: paged on the page
            pager = page_of(request, built.rows, per_page=REPORT_ROWS_PER_PAGE)
            built.rows = list(pager["rows"])
            built.page = {key: pager[key] for key in ("number", "pages", "total", "first", "last")}
        return render(request, "frontend/report.html", {
            "production": production, "reports": reports.REPORTS, "key": report, "report": built,
            "rows": [[exports.cell_text(value) for value in row] for row in built.rows],
            "query": request.GET, "export_query": _without(request.GET, "page").urlencode(),
            "pdf_filters": reports.report_filters(request.GET) if report == "audit" else {},
            "actions": reports.audit_actions(production) if report == "audit" else []})
    response["Content-Disposition"] = f'attachment; filename="{stem}.{export}"'
    return response


def _export_page(request, production: Production, export_id: int) -> ReportExport:
    """The production's report export a URL names, for people who may read its reports: else
    ``NotAllowed`` (403), or 404 as a page that does not exist."""
    authz.require(request.user, production, authz.READ_REPORTS)
    export = ReportExport.objects.select_related("production", "created_by").filter(
        production=production, pk=export_id).first()
    if export is None:
        raise Http404("No such report export in this production.")
    return export


def _refused_page(request, production, refused: ServiceError):
    return render(request, "frontend/report.html", {"production": production, "error": str(refused),
                                                    "reports": reports.REPORTS}, status=refused.status_code)


@login_required
def report_exports(request, code):
    """The production's report PDFs (newest first, paged), made by workers; a POST (``report``,
    and for the audit trail its filters as the page names them) asks for one and leads to its
    page, where its progress shows live."""
    production = _production_page(request, code)
    try:
        authz.require(request.user, production, authz.READ_REPORTS)
        if request.method == "POST":
            export = report_export_submit(production=production, actor=request.user,
                                          report=request.POST.get("report", ""), filters=request.POST)
            return redirect("frontend:report-export", production.code, export.pk)
    except ServiceError as refused:
        return _refused_page(request, production, refused)
    pager = page_of(request, production.report_exports.select_related("created_by").order_by("-created_at", "-pk"),
                    per_page=REPORT_ROWS_PER_PAGE)
    return render(request, "frontend/report_exports.html", {
        "production": production, "reports": reports.REPORTS, "exports": pager["rows"], "pager": pager})


@login_required
def report_export(request, code, export_id):
    """One report PDF being made or made: its progress live (``report_export`` events on the
    production's socket, and ``?format=json`` read again as a fallback), a cancel button while it
    runs (a POST cancels) and the download link once ready."""
    production = _production_page(request, code)
    try:
        export = _export_page(request, production, export_id)
        if request.method == "POST":
            export = report_export_cancel(export=export, actor=request.user)
    except ServiceError as refused:
        return _refused_page(request, production, refused)
    if request.GET.get("format") == "json":
        return JsonResponse(report_export_payload(export))
    return render(request, "frontend/report_export.html", {
        "production": production, "reports": reports.REPORTS, "export": export,
        "payload": report_export_payload(export), "title": reports.REPORTS.get(export.report, export.report)})


@login_required
def report_export_download(request, code, export_id):
    """A finished report PDF as a download, for people who may read the reports; each download
    is audited (``report.download``)."""
    production = _production_page(request, code)
    try:
        export = _export_page(request, production, export_id)
        path = report_export_download_path(export=export, actor=request.user)
    except ServiceError as refused:
        return _refused_page(request, production, refused)
    response = media_response(path, "application/pdf")
    stem = f"{production.code}-{export.report}-{timezone.localtime(export.created_at, datetime.timezone.utc):%Y%m%d-%H%M}"
    response["Content-Disposition"] = f'attachment; filename="{stem}.pdf"'
    return response


# -- dailies playlists and sessions --------------------------------------------------------

def _playlist_page(request, code: str, playlist_id: int):
    production = _production_page(request, code)
    playlist = selectors.playlist_of(production, playlist_id)
    if playlist is None:
        raise Http404("No such playlist in this production.")
    return production, playlist


@login_required
def playlists(request, code):
    """The production's dailies playlists; post supervisors build one here from the shot board's
    filters (the board's "Playlist from this filter" link fills them in), from fix requests, or
    empty to fill by hand (playlists.js, through the API)."""
    production = _production_page(request, code)
    board_filter = {name: request.GET.get(name, "").strip() for name in ("status", "assignee", "kind", "q")}
    fixes = [fix for fix in selectors.fix_requests_of(production).order_by("shot__code", "created_at")
             if fix.kind != FixKind.CONTINUITY_CHECK and fix.proposals.all()]
    return render(request, "frontend/playlists.html", {
        "production": production,
        "playlists": selectors.playlists_of(production),
        "may_manage": authz.may(request.user, production, authz.MANAGE_PLAYLIST),
        "board_filter": board_filter,
        "from_board": any(board_filter.values()) or "from_board" in request.GET,
        "statuses": selectors.SHOT_STATUSES.items(),
        "kinds": [(value, label) for value, label in FixKind.choices if value != FixKind.CONTINUITY_CHECK],
        "fix_requests": fixes,
    })


@login_required
def playlist_detail(request, code, playlist_id):
    """One playlist: its versions in order; post supervisors reorder, remove and add versions
    (playlists.js). "Start the dailies session" opens the room on the session's current item."""
    production, playlist = _playlist_page(request, code, playlist_id)
    items = list(selectors.playlist_items_of(playlist))
    present = {item.proposal_id for item in items}
    may_manage = authz.may(request.user, production, authz.MANAGE_PLAYLIST)
    addable = []
    if may_manage:
        addable = [proposal for proposal in production.proposals.select_related("fix_request__shot")
                   .exclude(fix_request__kind=FixKind.CONTINUITY_CHECK).order_by("fix_request__shot__code",
                                                                                 "fix_request_id", "version")
                   if proposal.pk not in present]
    return render(request, "frontend/playlist.html", {
        "production": production, "playlist": playlist, "items": items, "may_manage": may_manage,
        "addable": addable, "may_share": authz.may(request.user, production, authz.SHARE_WITH_GUEST),
    })


@login_required
def dailies_session(request, code, playlist_id):
    """Join the playlist's live dailies session: the review room of the item the session is on
    (its first item when nobody has started it), with the session's strip; the page follows the
    session from there (dailies.js, to ``/review/<id>/?playlist=<id>``)."""
    from asgiref.sync import async_to_sync

    from reviews.consumers import dailies_store

    production, playlist = _playlist_page(request, code, playlist_id)
    items = list(selectors.playlist_items_of(playlist))
    if not items:
        return redirect("frontend:playlist", production.code, playlist.pk)
    current = async_to_sync(dailies_store(playlist.pk).state)().get("item")
    item = next((item for item in items if item.pk == current), items[0])
    return _review_room_page(request, item.proposal, {"playlist": playlist, "items": items})


def _session_strip(request, proposal: Proposal) -> dict | None:
    """The dailies session a review room page is opened in (``?playlist=<id>``, a playlist of the
    proposal's production holding one of its fix request's versions), for the session's strip."""
    value = request.GET.get("playlist", "")
    if not value.isdigit():
        return None
    playlist = selectors.playlist_of(proposal.production, int(value))
    if playlist is None:
        return None
    items = list(selectors.playlist_items_of(playlist))
    if not any(item.proposal.fix_request_id == proposal.fix_request_id for item in items):
        return None
    return {"playlist": playlist, "items": items}


@login_required
def playlist_summary(request, code, playlist_id):
    """The session's summary for editorial and the artists: every item with its decision, and
    its notes with timecode and a thumbnail of the annotated frame; ``?format=csv`` or
    ``?format=pdf`` to download it."""
    from reviews import dailies

    production, playlist = _playlist_page(request, code, playlist_id)
    summary = dailies.playlist_summary(playlist)
    export = request.GET.get("format", "")
    stem = f"{production.code}-dailies-{playlist.pk}-{timezone.now():%Y%m%d-%H%M}"
    if export == "csv":
        response = HttpResponse(exports.report_csv(dailies.summary_report(playlist, summary)),
                                content_type="text/csv; charset=utf-8")
    elif export == "pdf":
        reader = person_name(request.user) if production.review_watermark else None
        media_view_record(production=production, actor=request.user, target=playlist, media="summary.pdf")
        response = HttpResponse(exports.dailies_summary_pdf(
            playlist, summary, production_label=f"{production.code} {production.name}",
            thumbnail=lambda proposal, frame: _note_thumbnail(proposal, frame, reader)),
            content_type="application/pdf")
    else:
        return render(request, "frontend/playlist_summary.html", {
            "production": production, "playlist": playlist, "summary": summary,
            "report": dailies.summary_report(playlist, summary)})
    response["Content-Disposition"] = f'attachment; filename="{stem}.{export}"'
    return response


def _note_thumbnail(proposal: Proposal, frame: int, reader: str | None) -> bytes | None:
    from reviews.dailies import annotated_frame_jpeg
    from reviews.watermark import for_reader

    try:
        return for_reader(annotated_frame_jpeg(proposal, frame), reader)
    except OSError:
        return None


@login_required
def playlist_note_thumbnail(request, playlist_id, note_id):
    """The thumbnail of a summary note's annotated frame (JPEG), with the reader's name burnt in
    when the production watermarks review frames; for members only, each read audited."""
    from reviews.models import ReviewNote

    playlist = selectors.playlist_for(request.user, playlist_id)
    if playlist is None:
        locked = selectors.productions_locked_for(request.user).filter(playlists__pk=playlist_id).first()
        _refuse(request, reason_if_locked=locked, target_model=Playlist, target_id=playlist_id)
    note = ReviewNote.objects.filter(pk=note_id, proposal__playlist_items__playlist=playlist).select_related(
        "proposal__production").first()
    if note is None:
        raise Http404("No such note in this playlist.")
    reader = person_name(request.user) if playlist.production.review_watermark else None
    image = _note_thumbnail(note.proposal, note.frame, reader)
    if image is None:
        raise Http404("This frame's review picture is missing on the server.")
    media_view_record(production=playlist.production, actor=request.user, target=note.proposal,
                      media=f"{note.proposal.media_dir}/review/after/{note.frame:06d}.jpg")
    return private(HttpResponse(image, content_type="image/jpeg"))

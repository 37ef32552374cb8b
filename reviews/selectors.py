"""Reads, always scoped to the productions the person is a member of."""
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Case, CharField, Count, Exists, OuterRef, Prefetch, Q, QuerySet, Value, When

from .models import Annotation, Clip, FixRequest, Job, Production, Proposal, ReviewNote


def productions_for(user: User | AnonymousUser) -> QuerySet[Production]:
    if not user.is_authenticated:
        return Production.objects.none()
    return Production.objects.filter(memberships__user=user).distinct()


def production_for(user: User | AnonymousUser, code: str) -> Production | None:
    return productions_for(user).filter(code=code).first()


def proposal_for(user: User | AnonymousUser, proposal_id: int) -> Proposal | None:
    """The proposal if ``user`` is a member of its production, else None (no existence leak)."""
    return (
        Proposal.objects.filter(pk=proposal_id, production__in=productions_for(user))
        .select_related("production", "fix_request__shot__clip", "fix_request__reference_shot", "job")
        .first()
    )


def versions_of(proposal: Proposal) -> list[Proposal]:
    """Every version of ``proposal``'s fix request (v001, v002, …), in its production — what one
    review room shows."""
    return list(Proposal.objects.filter(production=proposal.production_id, fix_request=proposal.fix_request_id)
                .select_related("production", "fix_request__shot__clip").order_by("version"))


def annotations_of(proposals: list[Proposal]) -> QuerySet[Annotation]:
    return Annotation.objects.filter(proposal__in=proposals).select_related("author")


def review_notes_of(proposals: list[Proposal]) -> QuerySet[ReviewNote]:
    return ReviewNote.objects.filter(proposal__in=proposals).select_related("author")


def clips_of(production: Production) -> QuerySet[Clip]:
    return production.clips.all()


def fix_requests_of(production: Production) -> QuerySet[FixRequest]:
    return production.fix_requests.select_related("shot", "reference_shot", "assignee").prefetch_related(
        "proposals", "jobs"
    )


def jobs_of(production: Production) -> QuerySet[Job]:
    return production.jobs.select_related("fix_request__shot")


#: Shot board statuses, most pressing first. A shot's status is that of its most pressing fix
#: request still in work (open → in progress → in review); ``done`` when every fix request is
#: approved or rejected, ``no_fixes`` without any, ``removed`` when the cut no longer has it.
SHOT_STATUSES = {
    "open": "Fix open",
    "in_progress": "In progress",
    "in_review": "In review",
    "done": "Done",
    "no_fixes": "No fixes",
    "removed": "Removed from cut",
}
ACTIVE_FIX_STATUSES = ("open", "in_progress", "in_review")
ACTIVE_JOB_STATES = ("queued", "running")


def shot_board(production: Production, *, status: str = "", assignee: str = "", search: str = "") -> QuerySet:
    """The production's shots for the shot board, each annotated with ``board_status`` (see
    ``SHOT_STATUSES``) and ``open_fix_count`` (fix requests still in work), their clip and their
    active fix requests (``active_fixes``, with assignees and their queued or running
    ``active_jobs``) prefetched — a fixed number of queries.

    Filters: ``status`` (a ``SHOT_STATUSES`` key), ``assignee`` (username assigned to one of the
    shot's active fix requests), ``search`` (in code, clip name, editorial clip name, reel).
    """
    fixes = FixRequest.objects.filter(shot=OuterRef("pk"))
    shots = (
        production.shots.select_related("clip")
        .annotate(
            open_fix_count=Count("fix_requests", filter=Q(fix_requests__status__in=ACTIVE_FIX_STATUSES)),
            board_status=Case(
                When(removed_from_cut_at__isnull=False, then=Value("removed")),
                *[When(Exists(fixes.filter(status=s)), then=Value(s)) for s in ACTIVE_FIX_STATUSES],
                When(Exists(fixes), then=Value("done")),
                default=Value("no_fixes"),
                output_field=CharField(),
            ),
        )
        .prefetch_related(Prefetch(
            "fix_requests",
            queryset=FixRequest.objects.filter(status__in=ACTIVE_FIX_STATUSES).select_related("assignee")
            .prefetch_related(Prefetch("jobs", queryset=Job.objects.filter(state__in=ACTIVE_JOB_STATES),
                                       to_attr="active_jobs")),
            to_attr="active_fixes",
        ))
        .order_by("removed_from_cut_at", "cut_order", "code")
    )
    if status in SHOT_STATUSES:
        shots = shots.filter(board_status=status)
    if assignee:
        shots = shots.filter(Exists(fixes.filter(status__in=ACTIVE_FIX_STATUSES, assignee__username=assignee)))
    if search:
        shots = shots.filter(Q(code__icontains=search) | Q(clip__name__icontains=search)
                             | Q(clip_name__icontains=search) | Q(reel__icontains=search))
    return shots

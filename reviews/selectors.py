"""Reads, always scoped to the productions the person is a member of."""
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import (Case, CharField, Count, Exists, F, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Value,
                              When)
from rest_framework.authtoken.models import Token

from django.utils import timezone

from . import authz, states
from .models import (Alteration, Annotation, Clip, ConsentRequest, ContinuityFinding, FixKind, FixRequest, Job,
                     JobStage, Membership, Production, Proposal, ProposalStatus, RecoveryCode, RecoveryCodeDevice,
                     ReviewNote, Shot)


def productions_for(user: User | AnonymousUser) -> QuerySet[Production]:
    """The productions ``user`` may see: those they are a member of, less — unless they signed in
    with a second factor — those locked to them (``productions_locked_for``). Every other read
    (pages, API, WebSockets, media) is scoped through this one."""
    if not user.is_authenticated:
        return Production.objects.none()
    productions = Production.objects.filter(memberships__user=user).distinct()
    if not authz.is_verified(user):
        productions = productions.exclude(pk__in=_needing_second_factor(user))
    return productions


def productions_locked_for(user: User | AnonymousUser) -> QuerySet[Production]:
    """The productions ``user`` is a member of but may not see until they sign in with a second
    factor (empty when they did): those that require it of their members
    (``Production.require_mfa``) and those where ``user`` holds a role that requires it
    (``authz.second_factor_roles()``, ``LOUPE_MFA_REQUIRED_ROLES``). Only for telling members
    why; never for outsiders."""
    if not user.is_authenticated or authz.is_verified(user):
        return Production.objects.none()
    return Production.objects.filter(pk__in=_needing_second_factor(user))


def _needing_second_factor(user: User) -> QuerySet:
    """Ids of ``user``'s productions that need a second factor of them, as a subquery."""
    return (Membership.objects.filter(user=user)
            .filter(Q(production__require_mfa=True) | Q(role__in=authz.second_factor_roles()))
            .values("production"))


def production_for(user: User | AnonymousUser, code: str) -> Production | None:
    return productions_for(user).filter(code=code).first()


def proposal_for(user: User | AnonymousUser, proposal_id: int) -> Proposal | None:
    """The proposal if ``user`` is a member of its production, else None (no existence leak)."""
    return (
        Proposal.objects.filter(pk=proposal_id, production__in=productions_for(user))
        .select_related("production", "fix_request__shot__clip", "fix_request__reference_shot__clip", "job")
        .first()
    )


def clips_for(user: User | AnonymousUser) -> QuerySet[Clip]:
    """Clips of the productions ``user`` may see."""
    return Clip.objects.filter(production__in=productions_for(user))


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
        "proposals", "jobs", "performers"
    )


def assignments_of(user: User | AnonymousUser, *, production: Production | None = None) -> QuerySet[FixRequest]:
    """Fix requests assigned to ``user`` in their productions (or in ``production``): still in
    work first, soonest due first."""
    fixes = FixRequest.objects.filter(assignee=user, production__in=productions_for(user))
    if production is not None:
        fixes = fixes.filter(production=production)
    in_work = Case(When(status__in=ACTIVE_FIX_STATUSES, then=Value(0)), default=Value(1))
    return (fixes.select_related("production", "shot__clip", "reference_shot", "assignee")
            .prefetch_related("proposals", "performers")
            .order_by(in_work, F("due_date").asc(nulls_last=True), "-created_at"))


def clean_plate_of(shot: Shot) -> Proposal | None:
    """The clean plate a fix on ``shot`` keys against: the newest approved version of a clean
    plate fix on the shot, else its newest version in review; None when there is none."""
    plates = (Proposal.objects.filter(fix_request__shot=shot, fix_request__kind=FixKind.CLEAN_PLATE,
                                      status__in=(ProposalStatus.APPROVED, ProposalStatus.IN_REVIEW))
              .order_by(Case(When(status=ProposalStatus.APPROVED, then=Value(0)), default=Value(1)), "-created_at"))
    return plates.first()


def shot_for(user: User | AnonymousUser, production: Production, shot_id: int) -> Shot | None:
    return production.shots.filter(pk=shot_id, production__in=productions_for(user)).select_related("clip").first()


def findings_of(production: Production) -> QuerySet[ContinuityFinding]:
    """A production's continuity findings from the latest run of each check, the newest check's
    first, most confident first (a check run again replaces what the earlier run found)."""
    latest_run = (Job.objects.filter(fix_request=OuterRef("fix_request"), state="succeeded")
                  .order_by("-finished_at", "-pk").values("pk")[:1])
    return (production.continuity_findings.filter(job=Subquery(latest_run)).select_related("fix_request__shot", "fix_request__reference_shot",
                                                           "follow_up")
            .order_by("-job_id", "-confidence", "id"))


def finding_for(user: User | AnonymousUser, finding_id: int) -> ContinuityFinding | None:
    """The finding if ``user`` is a member of its production, else None (no existence leak)."""
    return (ContinuityFinding.objects.filter(pk=finding_id, production__in=productions_for(user))
            .select_related("production", "fix_request__shot__clip", "fix_request__reference_shot", "follow_up")
            .first())


def jobs_of(production: Production) -> QuerySet[Job]:
    return production.jobs.select_related("fix_request__shot")


def mask_job_of(fix_request: FixRequest) -> Job | None:
    """The fix request's newest mask job (any state): its mask sequence is the one the fix uses
    once it has succeeded (older mask jobs are stale: a stroke came after them)."""
    return fix_request.jobs.filter(stage=JobStage.MASK).order_by("-pk").first()


def mask_job_for(user: User | AnonymousUser, job_id: int) -> Job | None:
    """A mask job if ``user`` is a member of its production, else None (no existence leak)."""
    return (Job.objects.filter(pk=job_id, stage=JobStage.MASK, production__in=productions_for(user))
            .select_related("production", "fix_request").first())


#: Shot board statuses, most pressing first. A shot's status is that of its most pressing fix
#: request still in work (open → in progress → in review); once none is, what happened to them:
#: ``rejected`` (one was), ``approved``, ``checked`` (continuity checks that ran); ``no_fixes``
#: without any, ``removed`` when the cut no longer has it.
SHOT_STATUSES = {
    "open": "Fix open",
    "in_progress": "In progress",
    "in_review": "In review",
    "rejected": "Rejected",
    "approved": "Approved",
    "checked": "Checked",
    "no_fixes": "No fixes",
    "removed": "Removed from cut",
}
ACTIVE_FIX_STATUSES = ("open", "in_progress", "in_review")
#: Fix request statuses that end its work, in the order the board names a shot by them.
FINISHED_FIX_STATUSES = ("rejected", "approved", "checked")
ACTIVE_JOB_STATES = ("queued", "running")


#: Shot board sort keys (a leading "-" reverses): the cut's order, code, status (most pressing
#: first), the soonest due date of its fixes in work, their number.
BOARD_SORTS = ("cut", "code", "status", "due", "open")


def shot_board(production: Production, *, status: str = "", assignee: str = "", kind: str = "", search: str = "",
               sort: str = "cut") -> QuerySet:
    """The production's shots for the shot board, each annotated with ``board_status`` (see
    ``SHOT_STATUSES``) and ``open_fix_count`` (fix requests still in work), their clip and their
    active fix requests (``active_fixes``, with assignees and their queued or running
    ``active_jobs``) prefetched, and ``last_job_state`` (its newest job's state, or None) — a fixed number of queries.

    Filters: ``status`` (a ``SHOT_STATUSES`` key), ``assignee`` (username assigned to one of the
    shot's active fix requests), ``kind`` (a fix kind among them), ``search`` (in code, clip name,
    editorial clip name, reel). ``sort``: one of ``BOARD_SORTS``, "-" first to reverse; each
    shot also carries ``next_due`` (the soonest due date of its fixes in work).
    """
    fixes = FixRequest.objects.filter(shot=OuterRef("pk"))
    shots = (
        production.shots.select_related("clip")
        .annotate(
            open_fix_count=Count("fix_requests", filter=Q(fix_requests__status__in=ACTIVE_FIX_STATUSES)),
            next_due=Min("fix_requests__due_date", filter=Q(fix_requests__status__in=ACTIVE_FIX_STATUSES)),
            board_status=Case(
                When(removed_from_cut_at__isnull=False, then=Value("removed")),
                *[When(Exists(fixes.filter(status=s)), then=Value(s))
                  for s in ACTIVE_FIX_STATUSES + FINISHED_FIX_STATUSES],
                default=Value("no_fixes"),
                output_field=CharField(),
            ),
            last_job_state=Subquery(Job.objects.filter(fix_request__shot=OuterRef("pk"))
                                    .order_by("-created_at", "-pk").values("state")[:1]),
        )
        .prefetch_related(Prefetch(
            "fix_requests",
            queryset=FixRequest.objects.filter(status__in=ACTIVE_FIX_STATUSES).select_related("assignee")
            .prefetch_related(Prefetch("jobs", queryset=Job.objects.filter(state__in=ACTIVE_JOB_STATES),
                                       to_attr="active_jobs")),
            to_attr="active_fixes",
        ))
    )
    shots = shots.order_by(*_board_order(sort))
    if status in SHOT_STATUSES:
        shots = shots.filter(board_status=status)
    if assignee:
        shots = shots.filter(Exists(fixes.filter(status__in=ACTIVE_FIX_STATUSES, assignee__username=assignee)))
    if kind:
        shots = shots.filter(Exists(fixes.filter(status__in=ACTIVE_FIX_STATUSES, kind=kind)))
    if search:
        shots = shots.filter(Q(code__icontains=search) | Q(clip__name__icontains=search)
                             | Q(clip_name__icontains=search) | Q(reel__icontains=search))
    return shots


def _board_order(sort: str) -> list:
    """ORDER BY of the shot board: the sort key (reversed by a leading "-"; empty values last),
    then the cut's order. Shots removed from the cut always come last."""
    descending = sort.startswith("-")
    key = sort.lstrip("-") if sort.lstrip("-") in BOARD_SORTS else "cut"
    rank = Case(*[When(board_status=status, then=Value(i)) for i, status in enumerate(SHOT_STATUSES)])
    primary = {"cut": F("cut_order"), "code": F("code"), "status": rank, "due": F("next_due"),
               "open": F("open_fix_count")}[key]
    primary = primary.desc(nulls_last=True) if descending else primary.asc(nulls_last=True)
    return [F("removed_from_cut_at").asc(nulls_first=True), primary, "cut_order", "code", "pk"]


def api_token_of(user: User) -> Token | None:
    """``user``'s API token, if they have one."""
    return Token.objects.filter(user=user).first()


def recovery_codes_left(user: User) -> int | None:
    """How many unused recovery codes ``user`` has; None when they were never given any."""
    if not RecoveryCodeDevice.objects.filter(user=user).exists():
        return None
    return RecoveryCode.objects.filter(device__user=user, used_at__isnull=True).count()


def consent_requests_answerable_by(user: User | AnonymousUser, production: Production) -> QuerySet[ConsentRequest]:
    """The consent requests of ``production`` that ``user`` may answer: those of the performers
    they are, or represent, on fix requests still classified a digital alteration of that
    performer. Newest first, with the fix request, shot and latest versions."""
    if not user.is_authenticated:
        return ConsentRequest.objects.none()
    return (production.consent_requests
            .filter(Q(performer__user=user) | Q(performer__representative=user),
                    fix_request__alteration=Alteration.DIGITAL_ALTERATION, fix_request__performers=F("performer"))
            .select_related("performer", "fix_request__shot", "answered_by")
            .prefetch_related(Prefetch("fix_request__proposals", queryset=Proposal.objects.order_by("-version"))))


def consent_standings(fix_requests: list[FixRequest], today=None) -> dict[int, states.ConsentStanding]:
    """The consent standing (``states.consent_standing``) of each of ``fix_requests``, by id —
    what the consent report, the disclosure register and the proposal page show. Two queries
    whatever the number of fix requests."""
    today = today or timezone.now().date()
    ids = [fix.pk for fix in fix_requests]
    named: dict[int, list[str]] = {pk: [] for pk in ids}
    for fix_id, name in FixRequest.performers.through.objects.filter(fixrequest_id__in=ids) \
            .values_list("fixrequest_id", "performer__name"):
        named[fix_id].append(name)
    consents: dict[int, dict] = {pk: {} for pk in ids}
    for fix_id, name, status, expires_on in ConsentRequest.objects.filter(fix_request_id__in=ids) \
            .values_list("fix_request_id", "performer__name", "status", "expires_on"):
        consents[fix_id][name] = (status, expires_on)
    return {fix.pk: states.consent_standing(alteration=fix.alteration, performers=named[fix.pk],
                                            consents=consents[fix.pk], today=today) for fix in fix_requests}


def consent_standing_of(fix_request: FixRequest, today=None) -> states.ConsentStanding:
    """The consent standing of one fix request (see ``consent_standings``)."""
    return consent_standings([fix_request], today)[fix_request.pk]


def playlists_of(production: Production) -> QuerySet:
    """A production's dailies playlists, newest first, each with ``item_count``."""
    return production.playlists.annotate(item_count=Count("items")).select_related("created_by")


def playlist_of(production: Production, playlist_id: int):
    """Playlist ``playlist_id`` of ``production`` (None if it is not one of its)."""
    return production.playlists.filter(pk=playlist_id).select_related("production", "created_by").first()


def playlist_for(user: User | AnonymousUser, playlist_id: int):
    """The playlist if ``user`` may see its production, else None (no existence leak)."""
    from .models import Playlist

    return (Playlist.objects.filter(pk=playlist_id, production__in=productions_for(user))
            .select_related("production").first())


def playlist_items_of(playlist) -> QuerySet:
    """A playlist's items in order, with their version, shot and clip."""
    return playlist.items.select_related("proposal__fix_request__shot__clip").order_by("position")

"""Reads, always scoped to the productions the person is a member of."""
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from .models import Clip, FixRequest, Job, Production, Proposal


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


def clips_of(production: Production) -> QuerySet[Clip]:
    return production.clips.all()


def fix_requests_of(production: Production) -> QuerySet[FixRequest]:
    return production.fix_requests.select_related("shot", "reference_shot", "assignee").prefetch_related(
        "proposals", "jobs"
    )


def jobs_of(production: Production) -> QuerySet[Job]:
    return production.jobs.select_related("fix_request__shot")

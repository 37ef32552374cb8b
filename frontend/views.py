"""Page views. Every page is scoped to the productions the person is a member of."""
import logging

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render

from reviews import authz, selectors
from reviews.media import clip_thumbnail_path
from reviews.models import Clip, Decision

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

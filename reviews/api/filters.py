"""Query-string filters of the API's lists (django-filter).

Related objects are filtered by plain id (``IdFilter`` on ``<field>_id``), never through a
choice of all rows in the database: an id from another production then matches nothing, exactly
like an id that does not exist, so a filter cannot confirm that someone else's object exists.
"""
import django_filters

from reviews.api.serializers import MAX_ID
from reviews.models import Clip, ContinuityFinding, FixRequest, Job, Notification, ShareLink, Shot


class IdFilter(django_filters.NumberFilter):
    """An object's id: a whole number from 1 to the largest id the database holds, so an id
    beyond it is a 400 naming the parameter, not an integer overflow in the database."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, decimal_places=0, **kwargs)


class ClipFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Clip
        fields = ["name", "reel", "codec", "proxy_state"]


class ShotFilter(django_filters.FilterSet):
    clip = IdFilter(field_name="clip_id")
    cut = IdFilter(field_name="cut_id")
    code = django_filters.CharFilter(lookup_expr="icontains")
    removed = django_filters.BooleanFilter(field_name="removed_from_cut_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Shot
        fields = ["clip", "cut", "code", "reel", "removed"]


class FixRequestFilter(django_filters.FilterSet):
    shot = IdFilter(field_name="shot_id")
    assignee = IdFilter(field_name="assignee_id")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = FixRequest
        fields = ["shot", "kind", "status", "assignee", "due_before"]


class JobFilter(django_filters.FilterSet):
    fix_request = IdFilter(field_name="fix_request_id")

    class Meta:
        model = Job
        fields = ["state", "fix_request"]


class ContinuityFindingFilter(django_filters.FilterSet):
    shot = IdFilter(field_name="fix_request__shot_id")
    fix_request = IdFilter(field_name="fix_request_id")

    class Meta:
        model = ContinuityFinding
        fields = ["shot", "fix_request", "kind"]


class ShareLinkFilter(django_filters.FilterSet):
    proposal = IdFilter(field_name="proposal_id")
    playlist = IdFilter(field_name="playlist_id")

    class Meta:
        model = ShareLink
        fields = ["scope", "proposal", "playlist"]


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull")

    class Meta:
        model = Notification
        fields = ["kind", "unread"]

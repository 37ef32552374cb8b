"""The producer's reports, built from the production's rows and its audit trail: the consent
report, the AI-use disclosure register, the audit trail (filtered), the post scorecard and the
deliveries.

Each report is a :class:`Report` — a title, column names and rows of plain values — so one
page template, one CSV writer and one PDF writer serve them all. Reads only; every query is
scoped to the production.
"""
import datetime
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.core.paginator import Paginator
from django.db.models import Q
from django.utils import timezone

from . import selectors, states
from .models import (Alteration, AuditEvent, ConsentRequest, Decision, DeliveredVersion, Delivery, FixRequest,
                     Production, Proposal, ProposalStatus, ReviewDecision)


@dataclass
class Report:
    """``rows``: one list of values per line, in ``columns`` order — a list, or for the whole
    audit trail an iterator read once, a chunk of events at a time (``audit_rows``), so that an
    export's memory does not grow with the trail. ``summary``: (label, value) lines shown above
    the table. ``filters``: the filters applied, as given."""

    key: str
    title: str
    columns: list[str]
    rows: Iterable[list]
    summary: list[tuple[str, str]] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)
    #: When only one page of the rows was asked for: ``{"number", "pages", "total", "first", "last"}``.
    page: dict | None = None


REPORTS = {
    "consent": "Consent report",
    "disclosure": "AI-use disclosure register",
    "audit": "Audit trail",
    "scorecard": "Post scorecard",
    "deliveries": "Deliveries",
}


def _person(user) -> str:
    if user is None:
        return "Loupe (engine)"
    return user.get_full_name() or user.username


def _when(moment: datetime.datetime | None) -> str:
    return timezone.localtime(moment, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _frames(fix_request: FixRequest) -> str:
    return f"{fix_request.frame_in}–{fix_request.frame_out - 1}"


def _latest_versions(fix_ids) -> dict[int, Proposal]:
    """The newest version of each fix request, by fix request id."""
    latest = {}
    for proposal in Proposal.objects.filter(fix_request_id__in=fix_ids).order_by("fix_request_id", "version"):
        latest[proposal.fix_request_id] = proposal
    return latest


def _final(proposal: Proposal | None, standing: states.ConsentStanding) -> str:
    return "yes" if proposal is not None and states.proposal_is_final(status=proposal.status,
                                                                       standing=standing) else "no"


def consent_report(production: Production) -> Report:
    """One line per consent request: performer, shot, the fix's newest version, frames, fix,
    status (``Expired`` when a grant has lapsed), scope, expiry, who answered and when, the fix's
    consent standing (``states.consent_standing``) and whether that version is final. A digital
    alteration with no performer named is a line of its own: the supervisor's action ("name the
    performers in v001 of SC012_0040")."""
    consents = list(ConsentRequest.objects.filter(production=production)
                    .select_related("performer", "fix_request__shot", "answered_by")
                    .order_by("performer__name", "fix_request__shot__code", "pk"))
    unnamed = list(FixRequest.objects.filter(production=production, alteration=Alteration.DIGITAL_ALTERATION,
                                             performers__isnull=True).select_related("shot")
                   .order_by("shot__code", "pk"))
    fixes = {c.fix_request_id: c.fix_request for c in consents} | {fix.pk: fix for fix in unnamed}
    standings = selectors.consent_standings(list(fixes.values()))
    latest = _latest_versions(fixes)
    rows = []
    for fix in unnamed:
        version = latest.get(fix.pk)
        where = f"{version.version_label} of {fix.shot.code}" if version else f"the {fix.get_kind_display().lower()} on {fix.shot.code}"
        rows.append(["—", fix.shot.code, version.version_label if version else "", _frames(fix),
                     fix.get_kind_display(), f"Action for the supervisor: name the performers in {where}",
                     "", "", "", "", standings[fix.pk].label, _final(version, standings[fix.pk])])
    for consent in consents:
        fix = consent.fix_request
        standing, version = standings[fix.pk], latest.get(fix.pk)
        status = dict(standing.performers).get(consent.performer.name, consent.get_status_display())
        rows.append([consent.performer.name, fix.shot.code, version.version_label if version else "", _frames(fix),
                     fix.get_kind_display(), status, consent.scope,
                     consent.expires_on.isoformat() if consent.expires_on else "",
                     _person(consent.answered_by) if consent.answered_by else "", _when(consent.answered_at),
                     standing.label, _final(version, standing)])
    summary = [("Actions for the supervisor", str(len(unnamed)))] if unnamed else []
    return Report("consent", REPORTS["consent"],
                  ["Performer", "Shot", "Version", "Frames", "Fix", "Status", "Scope", "Expires", "Answered by",
                   "Answered at", "Consent", "Final"], rows, summary=summary)


def _approvals(proposals) -> dict[int, ReviewDecision]:
    """The latest approving decision of each proposal."""
    latest = {}
    for decision in (ReviewDecision.objects.filter(proposal__in=proposals, decision=Decision.APPROVE)
                     .select_related("director").order_by("created_at", "pk")):
        latest[decision.proposal_id] = decision
    return latest


def disclosure_register(production: Production) -> Report:
    """Every approved AI fix: shot, frames, fix kind, engine method and version, look model
    where one was applied, who approved and when, the consents it rests on, whether it is final,
    and the content credentials (C2PA manifest labels) of its delivered media."""
    proposals = list(Proposal.objects.filter(production=production, status=ProposalStatus.APPROVED)
                     .select_related("fix_request__shot").order_by("fix_request__shot__code", "fix_request_id", "version"))
    approvals = _approvals(proposals)
    standings = selectors.consent_standings(list({p.fix_request_id: p.fix_request for p in proposals}.values()))
    scopes = {(fix_id, name): scope for fix_id, name, scope in ConsentRequest.objects
              .filter(fix_request_id__in=standings).exclude(scope="")
              .values_list("fix_request_id", "performer__name", "scope")}
    looks = {look.pk: f"look model v{look.version:03d} {look.name}" for look in production.look_models.all()}
    credentials = defaultdict(list)
    for delivered in (DeliveredVersion.objects.filter(production=production, delivery__status="delivered")
                      .exclude(credential="").select_related("delivery").order_by("delivery__number")):
        credentials[delivered.proposal_id].append(
            f"delivery {delivered.delivery.number:03d} {delivered.files[0]}: {delivered.credential}")
    rows = []
    for proposal in proposals:
        fix = proposal.fix_request
        standing = standings[fix.pk]
        approval = approvals.get(proposal.pk)
        look = looks.get(proposal.parameters.get("look_model"), "") if "look_model" in proposal.parameters else ""
        # A removal's or reframe's learned model version (or the classical method) it ran with.
        look = look or proposal.metrics.get("learned_model", "")
        rows.append([production.code, fix.shot.code, _frames(fix), fix.get_kind_display(),
                     proposal.method + (f"; {look}" if look else ""), proposal.version_label,
                     fix.get_alteration_display(),
                     _person(approval.director) if approval else "", _when(approval.created_at) if approval else "",
                     "; ".join([standing.label] + [f"{name}: {status.lower()}"
                                                   + (f" ({scopes[fix.pk, name]})" if (fix.pk, name) in scopes else "")
                                                   for name, status in standing.performers]),
                     _final(proposal, standing), "; ".join(credentials[proposal.pk])])
    return Report("disclosure", REPORTS["disclosure"],
                  ["Production", "Shot", "Frames", "Fix", "Model and method", "Version", "Classification",
                   "Approved by", "Approved at", "Consents", "Final", "Content credentials"], rows)


def _shot_targets(production: Production, shot_code: str) -> Q:
    """Audit events about a shot: the shot, its fix requests, their jobs, versions and consent requests."""
    fixes = list(FixRequest.objects.filter(production=production, shot__code=shot_code).values_list("pk", flat=True))
    targets = {"reviews.shot": production.shots.filter(code=shot_code).values_list("pk", flat=True),
               "reviews.fixrequest": fixes,
               "reviews.job": production.jobs.filter(fix_request__in=fixes).values_list("pk", flat=True),
               "reviews.proposal": production.proposals.filter(fix_request__in=fixes).values_list("pk", flat=True),
               "reviews.consentrequest": production.consent_requests.filter(fix_request__in=fixes)
               .values_list("pk", flat=True)}
    query = Q(pk__in=[])
    for target_type, ids in targets.items():
        query |= Q(target_type=target_type, target_id__in=[str(pk) for pk in ids])
    return query


#: Audit events on one page of the audit trail page (exports carry every event).
AUDIT_PAGE_SIZE = 100
#: The action of a media file read: most of a trail, left out with ``hide_media``.
MEDIA_VIEW = "media.view"


def audit_events(production: Production, *, date_from: str = "", date_to: str = "", person: str = "",
                 shot: str = "", action: str = "", hide_media: bool = False):
    """The production's audit events in chain order, filtered by day (``date_from``/``date_to``,
    YYYY-MM-DD, inclusive, UTC), ``person`` (username; ``engine`` for events the portal itself
    recorded), ``shot`` (code), ``action`` (exact, or a prefix ending in ``.``, e.g.
    ``consent.``) and ``hide_media`` (leave out media file reads).

    Raises ``ValueError`` for a date that is not YYYY-MM-DD.
    """
    events = AuditEvent.objects.filter(production=production).select_related("actor").order_by("id")
    if date_from:
        events = events.filter(created_at__date__gte=datetime.date.fromisoformat(date_from))
    if date_to:
        events = events.filter(created_at__date__lte=datetime.date.fromisoformat(date_to))
    if person == "engine":
        events = events.filter(actor__isnull=True)
    elif person:
        events = events.filter(actor__username=person)
    if shot:
        events = events.filter(_shot_targets(production, shot))
    if action:
        events = events.filter(action__startswith=action) if action.endswith(".") else events.filter(action=action)
    if hide_media:
        events = events.exclude(action=MEDIA_VIEW)
    return events


def audit_report(production: Production, *, date_from: str = "", date_to: str = "", person: str = "",
                 shot: str = "", action: str = "", hide_media: bool = False, page: str | int | None = None) -> Report:
    """The audit trail in order, filtered as ``audit_events`` says. With ``page`` (a number;
    out of range or not a number gives the nearest page), only that page of ``AUDIT_PAGE_SIZE``
    events, and ``Report.page`` says where it is; without, every event (exports), as an iterator
    that reads them ``AUDIT_CHUNK`` at a time (``audit_rows``).

    Raises ``ValueError`` for a date that is not YYYY-MM-DD.
    """
    events = audit_events(production, date_from=date_from, date_to=date_to, person=person, shot=shot,
                          action=action, hide_media=hide_media)
    where = None
    if page is not None:
        one = Paginator(events, AUDIT_PAGE_SIZE).get_page(page)
        where = {"number": one.number, "pages": one.paginator.num_pages, "total": one.paginator.count,
                 "first": one.start_index(), "last": one.end_index()}
        rows = [_audit_row(event) for event in one.object_list]
    else:
        rows = audit_rows(events)
    filters = {name: value for name, value in (("from", date_from), ("to", date_to), ("person", person),
                                               ("shot", shot), ("action", action),
                                               ("hide_media", "yes" if hide_media else "")) if value}
    return Report("audit", REPORTS["audit"], ["Event", "At (UTC)", "Person", "Action", "Target", "Details", "Hash"],
                  rows, filters=filters, page=where)


#: Audit events read at once by exports of the whole trail (one query each, by id).
AUDIT_CHUNK = 2000


def _audit_row(event: AuditEvent) -> list:
    return [event.pk, _when(event.created_at), _person(event.actor), event.action,
            f"{event.target_type}:{event.target_id}", event.payload, event.hash[:16]]


def audit_rows(events, *, chunk: int = AUDIT_CHUNK) -> Iterator[list]:
    """The rows of ``events`` (an ``audit_events`` queryset, in id order), read ``chunk`` events
    per query by keyset (``id > the last one read``): memory stays one chunk whatever the
    trail's length, no cursor is held open between chunks, and events appended meanwhile are
    included only if they match and come after (the trail is append-only)."""
    last = 0
    while True:
        batch = list(events.filter(id__gt=last)[:chunk])
        yield from (_audit_row(event) for event in batch)
        if len(batch) < chunk:
            return
        last = batch[-1].pk


#: The audit trail's filters, as the page's query parameters name them.
AUDIT_FILTERS = ("from", "to", "person", "shot", "action", "hide_media")


def report_filters(query) -> dict[str, str]:
    """The audit trail's filters of ``query`` (a mapping: the page's query parameters), those
    given only, trimmed: what a ``ReportExport`` keeps and ``report_build`` reads."""
    return {name: str(query.get(name, "")).strip() for name in AUDIT_FILTERS if str(query.get(name, "")).strip()}


def report_build(production: Production, key: str, filters=None, *, page: str | int | None = None) -> Report:
    """The report ``key`` (of ``REPORTS``) of ``production``; for the audit trail, filtered by
    ``filters`` (``AUDIT_FILTERS``: ``from``/``to`` YYYY-MM-DD, ``person``, ``shot``, ``action``,
    ``hide_media``) and, with ``page``, only that page (``audit_report``).

    Raises ``KeyError`` for a report that does not exist, ``ValueError`` for a date that is not
    YYYY-MM-DD."""
    builders = {"consent": consent_report, "disclosure": disclosure_register, "scorecard": post_scorecard,
                "deliveries": deliveries_report}
    if key in builders:
        return builders[key](production)
    if key != "audit":
        raise KeyError(key)
    filters = filters or {}
    return audit_report(production, date_from=filters.get("from", ""), date_to=filters.get("to", ""),
                        person=filters.get("person", "").strip(), shot=filters.get("shot", "").strip(),
                        action=filters.get("action", "").strip(), hide_media=bool(filters.get("hide_media")),
                        page=page)


def report_row_count(production: Production, key: str, report: Report, filters=None) -> int:
    """How many rows ``report`` (``report_build(production, key, filters)``) has: its list's
    length, or for the whole audit trail (an iterator) one count of the filtered events."""
    if isinstance(report.rows, list):
        return len(report.rows)
    filters = filters or {}
    return audit_events(production, date_from=filters.get("from", ""), date_to=filters.get("to", ""),
                        person=filters.get("person", ""), shot=filters.get("shot", ""),
                        action=filters.get("action", ""), hide_media=bool(filters.get("hide_media"))).count()


def audit_actions(production: Production) -> list[str]:
    """The actions the production's trail holds, for the audit page's action filter."""
    return list(AuditEvent.objects.filter(production=production).order_by("action")
                .values_list("action", flat=True).distinct())


def post_scorecard(production: Production) -> Report:
    """Per fix request: requested when, first approved when, turnaround (hours from the request
    to the first approval of any of its versions), versions and review rounds (director
    decisions). Summary: fixes requested and approved, median turnaround, mean and median
    rounds per fix that has been reviewed."""
    fixes = list(FixRequest.objects.filter(production=production).select_related("shot").order_by("created_at", "pk"))
    decisions = defaultdict(list)
    for decision in (ReviewDecision.objects.filter(production=production).select_related("proposal")
                     .order_by("created_at", "pk")):
        decisions[decision.proposal.fix_request_id].append(decision)
    versions = defaultdict(int)
    for fix_id in Proposal.objects.filter(production=production).values_list("fix_request_id", flat=True):
        versions[fix_id] += 1
    rows, turnarounds, rounds = [], [], []
    for fix in fixes:
        mine = decisions[fix.pk]
        first_approval = next((d.created_at for d in mine if d.decision == Decision.APPROVE), None)
        hours = (first_approval - fix.created_at).total_seconds() / 3600 if first_approval else None
        if hours is not None:
            turnarounds.append(hours)
        if mine:
            rounds.append(len(mine))
        rows.append([fix.shot.code, fix.get_kind_display(), _when(fix.created_at), _when(first_approval),
                     f"{hours:.2f}" if hours is not None else "", versions[fix.pk], len(mine),
                     fix.get_status_display()])
    summary = [
        ("Fixes requested", str(len(fixes))),
        ("Fixes approved", str(len(turnarounds))),
        ("Median turnaround, request → approval (hours)",
         f"{statistics.median(turnarounds):.2f}" if turnarounds else "—"),
        ("Review rounds per reviewed fix (mean / median)",
         f"{statistics.mean(rounds):.2f} / {statistics.median(rounds):g}" if rounds else "—"),
    ]
    return Report("scorecard", REPORTS["scorecard"],
                  ["Shot", "Fix", "Requested at", "First approved at", "Turnaround (h)", "Versions",
                   "Review rounds", "Status"], rows, summary=summary)


def deliveries_report(production: Production) -> Report:
    """One line per delivery, newest first: number, status (with progress while rendering, the
    error if it failed), format, who started it, when delivered, the versions delivered, those
    listed to be pulled and those held back, its folder and ASC MHL manifest."""
    rows = []
    for delivery in Delivery.objects.filter(production=production).select_related("created_by").order_by("-number"):
        report = delivery.report
        status = delivery.get_status_display()
        if delivery.status == "rendering":
            status += f" ({delivery.versions_done}/{delivery.versions_total})"
        elif delivery.error:
            status += f": {delivery.error}"
        rows.append([f"{delivery.number:03d}", status, delivery.format, _person(delivery.created_by),
                     _when(delivery.delivered_at), ", ".join(report.get("versions", [])),
                     ", ".join(report.get("to_pull", [])) if delivery.status == "delivered" else "",
                     len(report.get("held", [])), delivery.folder, delivery.manifest])
    delivered = sum(1 for row in rows if row[1] == "Delivered")
    return Report("deliveries", REPORTS["deliveries"],
                  ["Delivery", "Status", "Format", "Started by", "Delivered at (UTC)", "Versions", "To pull",
                   "Held", "Folder", "ASC MHL manifest"], rows,
                  summary=[("Deliveries", str(len(rows))), ("Delivered", str(delivered))])

"""A producer's report as a PDF made by a worker, the web side: request it, follow it, cancel
it, download it (issue #24). The worker that builds it is ``reviews.worker.reports``, which this
module never imports (docs/adr/0010-light-web-processes.md).

Who may: whoever may read the production's reports (``authz.READ_REPORTS``). Each step is in
the audit trail: ``report.export`` (requested), ``report.cancel``, ``report.download``, and
from the worker ``report.ready`` or ``report.fail``. Progress goes to the production's event
group as ``report_export`` events (``report_export_payload``) — counts and state only, never
the report's content.
"""
import datetime
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from reviews import authz, events, reports, tasks
from reviews.errors import Conflict, ServiceError
from reviews.media import media_path
from reviews.models import Production, ReportExport, ReportExportState

from .audit import audit_record


#: The longest value of one filter an export keeps (a shot code, a username, an action…).
MAX_FILTER_CHARS = 200


def report_export_payload(export: ReportExport) -> dict:
    """What a browser is told of an export: ``{"id", "report", "state", "state_label",
    "rows_done", "rows_total", "error", "download"}`` (``download``: the file's URL once done,
    else None)."""
    download = None
    if export.state == ReportExportState.DONE:
        download = f"/productions/{export.production.code}/reports/exports/{export.pk}/download/"
    return {"id": export.pk, "report": export.report, "state": export.state,
            "state_label": export.get_state_display(), "rows_done": export.rows_done,
            "rows_total": export.rows_total, "error": export.error, "download": download}


def report_export_broadcast(export: ReportExport) -> None:
    """Tell the production's pages how ``export`` stands (after the transaction commits)."""
    events.broadcast(events.production_group(export.production_id), "report_export", report_export_payload(export))


def report_export_submit(*, production: Production, actor: User, report: str, filters=None) -> ReportExport:
    """Ask a worker (queue ``default``, ``reviews.tasks.report_export_run``) for ``report`` of
    ``production`` as a PDF; for the audit trail with ``filters`` (``reports.AUDIT_FILTERS``, as
    the page's query parameters give them; others are ignored). Returns the ``ReportExport``
    (``queued``).

    Raises ``NotAllowed`` unless ``actor`` may read the production's reports; ``ServiceError``
    (400) for a report that does not exist, a date that is not YYYY-MM-DD, or a filter holding a
    NUL character or longer than ``MAX_FILTER_CHARS``.
    """
    authz.require(actor, production, authz.READ_REPORTS)
    if report not in reports.REPORTS:
        raise ServiceError(f"There is no report {report!r}; the reports are {', '.join(reports.REPORTS)}.")
    kept = reports.report_filters(filters or {}) if report == "audit" else {}
    for name, value in kept.items():
        if "\x00" in value or len(value) > MAX_FILTER_CHARS:
            raise ServiceError(f"The filter {name!r} holds a NUL character or more than {MAX_FILTER_CHARS} "
                               "characters; shorten it.")
    try:
        for name in ("from", "to"):
            if kept.get(name):
                datetime.date.fromisoformat(kept[name])
    except ValueError as error:
        raise ServiceError(f"Dates are YYYY-MM-DD ({error}).") from error
    with transaction.atomic():
        export = ReportExport.objects.create(production=production, report=report, filters=kept, created_by=actor)
        audit_record(production=production, actor=actor, action="report.export", target=export,
                     payload={"report": report, "format": "pdf", "filters": kept})
        report_export_broadcast(export)
        transaction.on_commit(lambda: tasks.report_export_run.delay(export.pk))
    return export


def report_export_cancel(*, export: ReportExport, actor: User) -> ReportExport:
    """Cancel an export: a queued one ends at once; a running one is asked to stop, and its
    worker stops at its next progress step, removes its partial file and marks it cancelled.

    Raises ``NotAllowed`` unless ``actor`` may read the production's reports; ``Conflict`` if the
    export has ended.
    """
    authz.require(actor, export.production, authz.READ_REPORTS)
    with transaction.atomic():
        export = ReportExport.objects.select_for_update().select_related("production").get(pk=export.pk)
        if export.is_finished:
            raise Conflict(f"This PDF is already {export.get_state_display().lower()}; there is nothing to cancel.")
        export.cancel_requested_at = timezone.now()
        fields = ["cancel_requested_at"]
        if export.state == ReportExportState.QUEUED:
            export.state = ReportExportState.CANCELLED
            export.finished_at = export.cancel_requested_at
            fields += ["state", "finished_at"]
        export.save(update_fields=fields)
        audit_record(production=export.production, actor=actor, action="report.cancel", target=export,
                     payload={"report": export.report, "state": export.state})
        report_export_broadcast(export)
    return export


def report_export_download_path(*, export: ReportExport, actor: User) -> Path:
    """The PDF of a finished export, its read audited (``report.download``): its path under
    MEDIA_ROOT, for ``reviews.media.media_response``.

    Raises ``NotAllowed`` unless ``actor`` may read the production's reports; ``Conflict`` unless
    the export is done; ``ServiceError`` (410) when its file is gone.
    """
    authz.require(actor, export.production, authz.READ_REPORTS)
    if export.state != ReportExportState.DONE:
        raise Conflict(f"This PDF is {export.get_state_display().lower()}, not ready to download.")
    path = media_path(export.file)
    if not path.is_file():
        gone = ServiceError("This PDF's file is no longer on the server; export the report again.")
        gone.status_code = 410
        raise gone
    with transaction.atomic():
        audit_record(production=export.production, actor=actor, action="report.download", target=export,
                     payload={"report": export.report, "media": export.file})
    return path

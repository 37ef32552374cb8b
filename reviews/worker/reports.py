"""A producer's report as a PDF, the worker side (queue ``default``): people ask for it through
``reviews.services.report_exports``; ``reviews.tasks.report_export_run`` runs
``report_export_build`` here.

The PDF is drawn row by row (``frontend.exports.report_pdf``) as the rows are read a chunk at a
time (``reviews.reports.audit_rows``), into a temporary file renamed into place when complete:
memory does not grow with the trail's length, and no reader sees half a file. Every
``PROGRESS_ROWS`` rows the worker writes its progress, tells the production's pages
(``report_export`` events) and looks whether someone cancelled it.
"""
import logging
import os
from collections.abc import Callable, Iterable, Iterator

from django.db import transaction
from django.utils import timezone

from frontend.exports import report_pdf
from reviews import reports
from reviews.media import media_path
from reviews.models import ReportExport, ReportExportState
from reviews.services.audit import audit_record
from reviews.services.report_exports import report_export_broadcast

logger = logging.getLogger(__name__)

#: Rows drawn between two progress writes (and looks for a cancel request).
PROGRESS_ROWS = 1000


class ExportCancelled(Exception):
    """Someone cancelled the export while it was being drawn."""


def report_export_file(export: ReportExport) -> str:
    """Where ``export``'s PDF is kept, relative to MEDIA_ROOT: ``reports/<production id>/<export
    id>-<report>.pdf``."""
    return f"reports/{export.production_id}/{export.pk}-{export.report}.pdf"


def _start(export_id: int) -> ReportExport | None:
    """Mark the export running; None when it has ended or is gone (nothing to do). A running one
    is started again: its message came back because the worker that had it died."""
    with transaction.atomic():
        export = (ReportExport.objects.select_for_update(of=("self",)).select_related("production")
                  .filter(pk=export_id).first())
        if export is None or export.is_finished:
            return None
        export.state, export.started_at, export.rows_done = ReportExportState.RUNNING, timezone.now(), 0
        export.save(update_fields=["state", "started_at", "rows_done"])
        report_export_broadcast(export)
    return export


def _counted(export: ReportExport, rows: Iterable[list], progress: Callable[[int, int], None] | None) -> Iterator[list]:
    """``rows`` as they are read, writing progress every ``PROGRESS_ROWS`` rows and raising
    ``ExportCancelled`` once a cancel has been asked for."""
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_ROWS == 0:
            _step(export, done, progress)


def _step(export: ReportExport, done: int, progress: Callable[[int, int], None] | None) -> None:
    with transaction.atomic():
        ReportExport.objects.filter(pk=export.pk).update(rows_done=done)
        export.rows_done = done
        report_export_broadcast(export)
    if progress:
        progress(done, export.rows_total)
    if ReportExport.objects.filter(pk=export.pk, cancel_requested_at__isnull=False).exists():
        raise ExportCancelled


def _finish(export: ReportExport, state: str, *, action: str, error: str = "", **fields) -> ReportExport:
    """End the export in ``state`` with an audit event ``action`` by the engine; nothing is
    changed if it has ended meanwhile (another delivery of its message finished it)."""
    with transaction.atomic():
        current = ReportExport.objects.select_for_update().select_related("production").get(pk=export.pk)
        if current.is_finished:
            return current
        for name, value in dict(fields, state=state, error=error, finished_at=timezone.now()).items():
            setattr(current, name, value)
        current.save()
        audit_record(production=current.production, actor=None, action=action, target=current,
                     payload={"report": current.report, "rows": current.rows_done}
                     | ({"error": error} if error else {}) | ({"media": current.file} if current.file else {}))
        report_export_broadcast(current)
    return current


def report_export_build(export_id: int, *, progress: Callable[[int, int], None] | None = None) -> ReportExport | None:
    """Build export ``export_id``'s PDF: its report with its filters (``reports.report_build``),
    drawn into ``report_export_file`` under MEDIA_ROOT. ``progress(rows_done, rows_total)`` is
    called at each progress step (after the step is written).

    Ends the export ``done`` (file and size set; audit ``report.ready``), ``cancelled`` when a
    cancel was asked for (partial file removed), or ``failed`` with the error (audit
    ``report.fail``; nothing is raised). Returns it, or None when it had already ended or is
    gone. Memory: one chunk of rows (``reports.AUDIT_CHUNK``) and the pages drawn, whatever the
    trail's length.
    """
    export = _start(export_id)
    if export is None:
        return None
    production = export.production
    relative = report_export_file(export)
    final = media_path(relative)
    staging = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        report = reports.report_build(production, export.report, export.filters)
        export.rows_total = reports.report_row_count(production, export.report, report, export.filters)
        ReportExport.objects.filter(pk=export.pk).update(rows_total=export.rows_total)
        report.rows = _counted(export, report.rows, progress)
        final.parent.mkdir(parents=True, exist_ok=True)
        with staging.open("wb") as out:
            report_pdf(report, production_label=f"{production.code} {production.name}", out=out)
        export.rows_done = export.rows_total
        staging.replace(final)
    except ExportCancelled:
        staging.unlink(missing_ok=True)
        return _finish(export, ReportExportState.CANCELLED, action="report.cancelled", rows_done=export.rows_done)
    except Exception as error:  # a failure is the export's state, told to the person, not a crash
        logger.exception("report export %s of %s failed", export.pk, production.code)
        staging.unlink(missing_ok=True)
        return _finish(export, ReportExportState.FAILED, action="report.fail", error=f"{type(error).__name__}: {error}",
                       rows_done=export.rows_done)
    return _finish(export, ReportExportState.DONE, action="report.ready", file=relative,
                   size_bytes=final.stat().st_size, rows_done=export.rows_total)

"""Report PDFs made by a worker job (issue #24): the job's PDF carries every event of the trail,
its progress reaches the production's socket, a cancel stops it, and only people who may read
the reports may ask for, follow, cancel or download one. The job's own function
(``reviews.worker.reports.report_export_build``) runs in the test's process, on its database;
tests/reviews/test_reports.py gets its PDFs the same way (``pdf_export``)."""
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client

from reviews.media import media_path
from reviews.models import AuditEvent, ReportExport, ReportExportState
from reviews.services.report_exports import report_export_cancel, report_export_submit
from reviews.worker import reports as worker_reports
from reviews.worker.reports import report_export_build

from .helpers import websocket

pytestmark = pytest.mark.django_db


def test_the_job_draws_every_event_and_reports_its_progress_on_the_socket(
        production, people, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(worker_reports, "PROGRESS_ROWS", 2)
    export = report_export_submit(production=production, actor=people["producer"], report="audit",
                                  filters={"hide_media": "1", "page": "3", "format": "pdf"})
    assert export.filters == {"hide_media": "1"}  # the trail's filters only
    events = list(AuditEvent.objects.filter(production=production).exclude(action="media.view").order_by("id"))
    steps = []
    socket = websocket(f"/ws/productions/{production.code}/", people["director"])

    def build():  # in the test's thread: its connection holds the test's transaction
        with django_capture_on_commit_callbacks(execute=True):  # the events sent as if committed
            built = report_export_build(export.pk, progress=lambda done, total: steps.append((done, total)))
        # Read now: the socket's consumer closes this thread's connection when it leaves.
        return built, AuditEvent.objects.get(production=production, action="report.ready")

    async def watch_and_build():
        connected, _ = await socket.connect(timeout=60)  # a hang guard
        assert connected
        built, ready = await sync_to_async(build)()
        told = []
        while not told or told[-1]["state"] != "done":
            message = json.loads(await socket.receive_from(timeout=60))
            if message["event"] == "report_export":
                told.append(message["data"])
        await socket.disconnect()
        return built, ready, told

    built, ready, told = async_to_sync(watch_and_build)()
    total = len(events)
    assert built.state == ReportExportState.DONE and built.rows_done == built.rows_total == total
    assert steps == [(done, total) for done in range(2, total + 1, 2)]
    assert [(m["state"], m["rows_done"]) for m in told] == (
        [("running", 0)] + [("running", done) for done, _ in steps] + [("done", total)])
    assert told[-1]["download"] == f"/productions/{production.code}/reports/exports/{export.pk}/download/"
    pdf = media_path(built.file).read_bytes()
    assert pdf.startswith(b"%PDF-") and b"hide_media = yes" in pdf
    # Every event of the trail is a row: its hash, action and id drawn in order.
    at = 0
    for event in events:
        at = pdf.index(f"({event.hash[:16]})".encode(), at)
        assert f"({event.action})".encode() in pdf and f"({event.pk})".encode() in pdf
    assert ready.actor is None and ready.payload == {"report": "audit", "rows": total, "media": built.file}


def test_a_cancel_stops_the_job_and_leaves_no_file(production, people, monkeypatch):
    monkeypatch.setattr(worker_reports, "PROGRESS_ROWS", 2)
    export = report_export_submit(production=production, actor=people["producer"], report="audit")

    def cancel_once(done, total):
        if done == 2:
            report_export_cancel(export=export, actor=people["producer"])

    stopped = report_export_build(export.pk, progress=cancel_once)
    assert stopped.state == ReportExportState.CANCELLED and stopped.rows_done == 2 < stopped.rows_total
    name = f"{export.pk}-audit.pdf"
    assert stopped.file == "" and not list(media_path(f"reports/{production.pk}").glob(f"{name}"))
    assert not list(media_path(f"reports/{production.pk}").glob(f".{name}.*.tmp"))  # the partial file removed
    assert [(e.action, e.actor) for e in AuditEvent.objects.filter(production=production, action__in=(
        "report.cancel", "report.cancelled")).order_by("id")] == [("report.cancel", people["producer"]),
                                                                   ("report.cancelled", None)]
    producer = Client()
    producer.force_login(people["producer"])
    again = producer.post(f"/productions/{production.code}/reports/exports/{export.pk}/")
    assert again.status_code == 409 and "already cancelled" in again.content.decode()

    queued = report_export_submit(production=production, actor=people["producer"], report="consent")
    page = producer.post(f"/productions/{production.code}/reports/exports/{queued.pk}/")
    assert page.status_code == 200
    queued.refresh_from_db()
    assert queued.state == ReportExportState.CANCELLED and report_export_build(queued.pk) is None  # never drawn


def test_only_people_who_may_read_reports_ask_for_follow_cancel_or_download(production, people):
    producer, director = Client(), Client()
    producer.force_login(people["producer"])
    director.force_login(people["director"])
    exports_url = f"/productions/{production.code}/reports/exports/"
    assert director.post(exports_url, {"report": "audit"}).status_code == 403
    assert not ReportExport.objects.exists()
    assert producer.post(exports_url, {"report": "audit", "from": "23/11/2026"}).status_code == 400
    assert producer.post(exports_url, {"report": "payroll"}).status_code == 400
    for bad in ("x\x00", "x" * 201):
        refused = producer.post(exports_url, {"report": "audit", "shot": bad})
        assert refused.status_code == 400 and "shot" in (text := refused.content.decode()) and "holds a NUL" in text
    assert not ReportExport.objects.exists()

    export = report_export_submit(production=production, actor=people["producer"], report="scorecard")
    url = f"{exports_url}{export.pk}/"
    assert director.get(url).status_code == 403 and director.get(url + "?format=json").status_code == 403
    assert director.post(url).status_code == 403
    export.refresh_from_db()
    assert export.state == ReportExportState.QUEUED
    assert producer.get(url + "?format=json").json()["state"] == "queued"
    assert producer.get(url + "download/").status_code == 409  # not made yet

    report_export_build(export.pk)
    assert director.get(url + "download/").status_code == 403
    assert not AuditEvent.objects.filter(action="report.download").exists()
    assert producer.get(url).status_code == 200
    assert b"".join(producer.get(url + "download/").streaming_content).startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="report.download", actor=people["producer"]).count() == 1

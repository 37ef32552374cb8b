"""The producer's reports, checked against the audit events that made them: consent report,
AI-use disclosure register, audit trail filters, post scorecard — as pages, CSV and PDF, for
producers only."""
import csv
import datetime
import io
import math
import re

import pytest
from django.test import Client

from reviews import reports
from reviews.models import AuditEvent, ReportExport, ReportExportState, ReviewDecision
from reviews.services.consent import consent_answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(small_proposal, awaiting_consent, people):
    """The shot CAR_0010's fix: classified a digital alteration of Ana Lima, approved by the
    director, consented to by Ana."""
    consent_answer(consent_request=awaiting_consent, actor=people["performer"], grant=True, scope="This shot only")
    small_proposal.refresh_from_db()
    return small_proposal


def csv_text(response) -> str:
    """A CSV export's text: it is streamed (issue #24), so it is read as it comes."""
    assert response.streaming
    return b"".join(response).decode("utf-8-sig")


def pdf_export(client: Client, url: str, **progress) -> tuple[ReportExport, bytes]:
    """A report's PDF as a producer gets it (issue #24): the old ``?format=pdf`` link leads to
    the page's "Export PDF" form, filters kept; the form asks for a worker job; the worker's
    function builds it here (the job's own code, in this process) and the file is downloaded."""
    from urllib.parse import parse_qsl, urlsplit

    from reviews.worker.reports import report_export_build

    page = client.get(url + ("&" if "?" in url else "?") + "format=pdf")
    assert page.status_code == 302 and page["Location"].endswith("#export-pdf"), page
    filters = dict(parse_qsl(urlsplit(page["Location"]).query))
    assert "format" not in filters
    report = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    code = urlsplit(url).path.split("/")[2]
    asked = client.post(f"/productions/{code}/reports/exports/", {"report": report, **filters})
    assert asked.status_code == 302, asked.content[:500]
    export = ReportExport.objects.get(pk=int(asked["Location"].rstrip("/").rsplit("/", 1)[-1]))
    assert export.state == ReportExportState.QUEUED and export.filters == filters
    export = report_export_build(export.pk, **progress)
    assert export.state == ReportExportState.DONE, export.error
    download = client.get(f"/productions/{code}/reports/exports/{export.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith(f'attachment; filename="{code}-{report}-')
    return export, b"".join(download.streaming_content)


def event(action: str) -> AuditEvent:
    return AuditEvent.objects.select_related("actor").get(action=action)


def test_reports_match_the_events(history, people):
    production = history.production
    granted = event("consent.grant")
    consent_rows = reports.consent_report(production).rows
    assert consent_rows == [["Ana Lima", "CAR_0010", "v001", "0–5", "Shot match", "Granted", granted.payload["scope"],
                             "", granted.actor.username, consent_rows[0][9], "Every affected performer has consented",
                             "yes"]]
    assert consent_rows[0][9][:16] == granted.created_at.strftime("%Y-%m-%d %H:%M")

    approved = event("proposal.approve")
    [row] = reports.disclosure_register(production).rows
    assert row[:4] == ["TEST", "CAR_0010", "0–5", "Shot match"]
    assert row[4] == history.method and row[5] == approved.payload["version"] == "v001"
    assert row[6] == "Digital alteration of a performer's likeness or performance"
    assert row[7] == approved.actor.username and row[8] == approved.created_at.strftime("%Y-%m-%d %H:%M:%S")
    assert row[9:] == ["Every affected performer has consented; Ana Lima: granted (This shot only)", "yes",
                       ""]  # not delivered: no credentials

    # Audit trail filters give exactly the events they name.
    def ids(**filters):
        return [r[0] for r in reports.audit_report(production, **filters).rows]

    everything = list(AuditEvent.objects.filter(production=production).order_by("id").values_list("id", flat=True))
    assert ids() == everything
    assert ids(person="performer") == [granted.pk, event("proposal.final").pk]
    assert ids(action="consent.") == [event("consent.request").pk, granted.pk]
    assert ids(action="proposal.approve") == [approved.pk]
    shot_actions = [r[3] for r in reports.audit_report(production, shot="CAR_0010").rows]
    assert shot_actions[:2] == ["shot.create", "fix_request.create"] and "membership.add" not in shot_actions
    assert {"proposal.create", "fix_request.classify", "consent.request", "proposal.approve", "consent.grant",
            "proposal.final"} <= set(shot_actions)
    assert ids(person="engine") == list(AuditEvent.objects.filter(production=production, actor__isnull=True)
                                        .values_list("id", flat=True))
    today = approved.created_at.date()
    assert ids(date_from=today.isoformat(), date_to=today.isoformat()) == everything
    assert ids(date_from=(today + datetime.timedelta(days=1)).isoformat()) == []
    with pytest.raises(ValueError):
        reports.audit_report(production, date_from="23/11/2026")

    scorecard = reports.post_scorecard(production)
    hours = (approved.created_at - event("fix_request.create").created_at).total_seconds() / 3600
    [line] = scorecard.rows
    assert line[0] == "CAR_0010" and line[4] == f"{hours:.2f}" and line[5:] == [1, 1, "Approved"]
    assert dict(scorecard.summary) == {
        "Fixes requested": "1", "Fixes approved": "1",
        "Median turnaround, request → approval (hours)": f"{hours:.2f}",
        "Review rounds per reviewed fix (mean / median)": "1.00 / 1"}
    assert ReviewDecision.objects.count() == 1


def test_report_pages_and_exports_for_producers_only(history, people):
    producer, director = Client(), Client()
    producer.force_login(people["producer"])
    director.force_login(people["director"])
    url = "/productions/TEST/reports/disclosure/"
    assert director.get(url).status_code == 403
    assert director.get(url + "?format=csv").status_code == 403

    page = producer.get(url)
    assert page.status_code == 200 and "Ana Lima: granted (This shot only)" in page.content.decode()

    exported = producer.get(url + "?format=csv")
    assert exported["Content-Type"].startswith("text/csv")
    assert exported["Content-Disposition"].startswith('attachment; filename="TEST-disclosure-')
    rows = list(csv.reader(io.StringIO(csv_text(exported))))
    assert rows[0][:3] == ["Production", "Shot", "Frames"]
    assert rows[1:] == [[str(v) for v in r] for r in reports.disclosure_register(history.production).rows]

    export, pdf = pdf_export(producer, "/productions/TEST/reports/audit/?person=performer")
    assert pdf.startswith(b"%PDF-") and export.rows_total == export.rows_done == 2
    assert b"Audit trail" in pdf and b"person = performer" in pdf and b"consent.grant" in pdf
    assert b"membership.add" not in pdf
    assert director.post("/productions/TEST/reports/exports/", {"report": "audit"}).status_code == 403
    assert director.get(f"/productions/TEST/reports/exports/{export.pk}/download/").status_code == 403
    downloaded = AuditEvent.objects.get(action="report.download")
    assert (downloaded.actor, downloaded.target_id, downloaded.payload["media"]) == (
        people["producer"], str(export.pk), export.file)

    bad = producer.get("/productions/TEST/reports/audit/?from=yesterday")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.content.decode()


def test_the_audit_trail_exports_to_pdf_with_the_largest_inputs_the_api_accepts(production, people, settings):
    """A fix request filed through the API with the most keyframes and points per outline it
    accepts, and a long description, lands in the append-only trail; the PDF export still
    lays out (its cells cut short, the CSV keeping everything) — issue #23, hole 4."""
    from rest_framework.authtoken.models import Token

    from reviews.models import Clip, Shot
    from reviews.services.fix_requests import MAX_MASK_KEYFRAMES

    clip = Clip.objects.create(production=production, name="BIG_plate.mov", source_path="/nowhere/BIG.mov",
                               checksum_sha256="b" * 64, size_bytes=1, codec="prores", width=4096, height=2160,
                               frame_rate_num=24, frame_rate_den=1, frame_count=MAX_MASK_KEYFRAMES)
    shot = Shot.objects.create(production=production, clip=clip, code="BIG_0010", source_in=0,
                               source_out=MAX_MASK_KEYFRAMES)
    points = settings.LOUPE_MASK_MAX_POINTS
    outline = [[round(2048 + 2000 * math.cos(2 * math.pi * i / points), 1),
                round(1080 + 1000 * math.sin(2 * math.pi * i / points), 1)] for i in range(points)]
    mask = [{"frame": frame, "shape": "polygon", "points": outline} for frame in range(MAX_MASK_KEYFRAMES)]
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=people['supervisor']).key}")
    filed = client.post(f"/api/productions/{production.code}/fix-requests/", content_type="application/json",
                        data={"shot": shot.pk, "kind": "object_removal", "frame_in": 0,
                              "frame_out": MAX_MASK_KEYFRAMES, "mask": mask, "description": "removal " * 20_000})
    assert filed.status_code == 201, filed.content[:300]
    too_many = client.post(f"/api/productions/{production.code}/fix-requests/", content_type="application/json",
                           data={"shot": shot.pk, "kind": "object_removal", "frame_in": 0, "frame_out": 2,
                                 "mask": {"frame": 0, "shape": "polygon", "points": outline + [[1, 1]]}})
    assert too_many.status_code == 400 and "LOUPE_MASK_MAX_POINTS" in too_many.json()["detail"]

    producer = Client()
    producer.force_login(people["producer"])
    _, pdf = pdf_export(producer, f"/productions/{production.code}/reports/audit/")
    assert pdf.startswith(b"%PDF")
    from frontend.exports import PDF_CELL_MAX_CHARS, pdf_cell_text
    from reviews.models import AuditEvent

    payload = AuditEvent.objects.get(production=production, action="fix_request.create").payload
    assert pdf_cell_text(payload).endswith("more characters in the CSV export)")
    assert len(pdf_cell_text(payload)) < PDF_CELL_MAX_CHARS + 60
    exported = csv_text(producer.get(f"/productions/{production.code}/reports/audit/?format=csv"))
    assert exported.count("polygon") == MAX_MASK_KEYFRAMES  # the CSV keeps the whole mask


def test_the_audit_page_pages_and_filters_on_the_server(history, people, monkeypatch):
    """The audit page shows one page of events at a time, its links keep the filters, media
    views can be left out, and the exports still carry every event the filters name."""
    production = history.production
    producer = Client()
    producer.force_login(people["producer"])
    clip = history.fix_request.shot.clip
    for _ in range(3):  # three media reads: three media.view events
        assert producer.get(f"/media/clips/{clip.pk}/thumbnail.jpg").status_code == 200
    everything = list(AuditEvent.objects.filter(production=production).order_by("id").values_list("id", flat=True))
    monkeypatch.setattr(reports, "AUDIT_PAGE_SIZE", 4)
    url = "/productions/TEST/reports/audit/"

    def shown(query: str) -> tuple[list[int], str]:
        page = producer.get(f"{url}?{query}")
        assert page.status_code == 200
        html = page.content.decode()
        return [int(cell) for cell in re.findall(r"<tr><td>(\d+)</td>", html)], html

    first, html = shown("")
    assert first == everything[:4] and f"Events 1–4 of {len(everything)} · page 1 of" in html
    last_page = -(-len(everything) // 4)
    last, html = shown(f"page={last_page}")
    assert last == everything[(last_page - 1) * 4:]
    assert shown("page=999")[0] == last and shown("page=nonsense")[0] == first  # the nearest page

    kept = [pk for pk in everything if AuditEvent.objects.get(pk=pk).action != "media.view"]
    assert len(kept) == len(everything) - 3
    second, html = shown("hide_media=1&page=2")
    assert second == kept[4:8]
    assert 'href="?hide_media=1&amp;page=3"' in html and 'href="?hide_media=1&amp;page=1"' in html
    export = csv_text(producer.get(f"{url}?hide_media=1&page=2&format=csv"))
    assert [int(row[0]) for row in csv.reader(io.StringIO(export)) if row and row[0].isdigit()] == kept

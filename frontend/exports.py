"""A producer's report as CSV (RFC 4180, UTF-8) or PDF (ReportLab's platypus: a title, the
filters and summary, and the table on landscape A4 pages). PDF streams are left uncompressed
so that the text stays searchable by plain tools (reports are small)."""
import csv
import io
import json

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from xml.sax.saxutils import escape

from reviews.reports import Report


def cell_text(value) -> str:
    """How a value is written in a cell: JSON for structures, the text otherwise."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


#: A PDF cell shows at most this many characters of its value (the CSV export has all of it):
#: a table row cannot be split across pages, so a row taller than a page (a fix request's mask
#: of thousands of points in the audit trail) would make the PDF impossible to lay out.
PDF_CELL_MAX_CHARS = 600


def pdf_cell_text(value) -> str:
    """``cell_text`` of ``value``, cut to ``PDF_CELL_MAX_CHARS`` with a note of what was left out."""
    text = cell_text(value)
    if len(text) <= PDF_CELL_MAX_CHARS:
        return text
    return f"{text[:PDF_CELL_MAX_CHARS]}… ({len(text) - PDF_CELL_MAX_CHARS} more characters in the CSV export)"


def report_csv(report: Report) -> bytes:
    """The report's columns and rows as CSV, UTF-8 with a byte-order mark (spreadsheets read accents)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([cell_text(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode()


def report_pdf(report: Report, *, production_label: str) -> bytes:
    """The report as a PDF: title, production, generation time, filters, summary and the table
    (repeated header row on every page). Long cells wrap, and past ``PDF_CELL_MAX_CHARS`` are
    cut short with a note (``pdf_cell_text``), so every row fits on a page."""
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("cell", fontSize=7, leading=8.5, splitLongWords=1)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                                 topMargin=12 * mm, bottomMargin=12 * mm, pageCompression=0,
                                 title=f"{report.title} — {production_label}")
    story = [Paragraph(escape(f"{report.title} — {production_label}"), styles["Title"]),
             Paragraph(escape(f"Generated {timezone.now():%Y-%m-%d %H:%M} UTC by Loupe"), styles["BodyText"])]
    if report.filters:
        story.append(Paragraph(escape("Filters: " + ", ".join(f"{k} = {v}" for k, v in report.filters.items())),
                               styles["BodyText"]))
    for label, value in report.summary:
        story.append(Paragraph(escape(f"{label}: {value}"), styles["BodyText"]))
    story.append(Spacer(1, 4 * mm))
    data = [[Paragraph(f"<b>{escape(c)}</b>", small) for c in report.columns]]
    data += [[Paragraph(escape(pdf_cell_text(value)), small) for value in row] for row in report.rows]
    if not report.rows:
        data.append([Paragraph("Nothing to report.", small)] + [""] * (len(report.columns) - 1))
    width = document.width / len(report.columns)
    table = Table(data, colWidths=[width] * len(report.columns), repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(table)
    document.build(story)
    return buffer.getvalue()


def dailies_summary_pdf(playlist, summary, *, production_label: str, thumbnail) -> bytes:
    """The dailies session's summary (``reviews.dailies.playlist_summary``) as a PDF on portrait
    A4, with the same library and conventions as the reports: per item its shot, fix, version,
    status and decision, then a table of its notes — timecode, frame, author, text — each with
    the thumbnail of its annotated frame (``thumbnail(proposal, frame)``: JPEG bytes, or None
    when the picture is missing: the cell says so)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image, KeepTogether

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("cell", fontSize=8, leading=10, splitLongWords=1)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                                 bottomMargin=12 * mm, pageCompression=0,
                                 title=f"Dailies summary — {playlist.name} — {production_label}")
    decided = sum(1 for item in summary if item.decision)
    story = [Paragraph(escape(f"Dailies summary — {playlist.name}"), styles["Title"]),
             Paragraph(escape(f"{production_label} · generated {timezone.now():%Y-%m-%d %H:%M} UTC by Loupe · "
                              f"{len(summary)} items, {decided} decided"), styles["BodyText"])]
    thumb_width = 60 * mm
    for item in summary:
        decision = (f"{item.decision} by {item.decided_by} ({item.decided_at} UTC)"
                    + (f": {item.decision_note}" if item.decision_note else "")) if item.decision else "No decision"
        head = [Spacer(1, 4 * mm),
                Paragraph(escape(f"{item.position}. {item.shot} · {item.fix} · {item.version}"), styles["Heading3"]),
                Paragraph(escape(f"Status: {item.status}. Decision: {decision}."), styles["BodyText"])]
        if not item.notes:
            story.append(KeepTogether(head + [Paragraph("No notes.", small)]))
            continue
        rows = [[Paragraph(f"<b>{escape(c)}</b>", small) for c in ("Timecode", "Note", "Annotated frame")]]
        for note in item.notes:
            image = thumbnail(item.proposal, note.frame)
            if image is not None:
                reader = ImageReader(io.BytesIO(image))
                width, height = reader.getSize()
                picture = Image(io.BytesIO(image), width=thumb_width, height=thumb_width * height / width)
            else:
                picture = Paragraph("(picture missing on the server)", small)
            text = (f"{'↳ ' if note.reply_to else ''}{note.author}: {note.text}"
                    + (f" ({note.drawings} drawing{'s' if note.drawings != 1 else ''} on the frame)"
                       if note.drawings else ""))
            rows.append([Paragraph(escape(f"{note.timecode} (frame {note.frame})"), small),
                         Paragraph(escape(pdf_cell_text(text)), small), picture])
        table = Table(rows, colWidths=[32 * mm, document.width - 32 * mm - thumb_width - 4 * mm,
                                       thumb_width + 4 * mm], repeatRows=1)
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story += head + [table]
    if not summary:
        story.append(Paragraph("The playlist is empty.", styles["BodyText"]))
    document.build(story)
    return buffer.getvalue()

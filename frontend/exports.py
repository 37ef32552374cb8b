"""A producer's report as CSV (RFC 4180, UTF-8) or PDF (ReportLab's platypus: a title, the
filters and summary, and the table on landscape A4 pages). CSV is made in chunks, for a
streaming response (``report_csv_chunks``). PDF streams are left uncompressed so that the text
stays searchable by plain tools."""
import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import BinaryIO

from asgiref.sync import sync_to_async

from django.utils import timezone

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


#: Rows of CSV encoded and handed on at once by ``report_csv_chunks``.
CSV_CHUNK_ROWS = 500


def report_csv_chunks(report: Report) -> Iterator[bytes]:
    """The report's columns and rows as CSV, UTF-8 with a byte-order mark (spreadsheets read
    accents), in chunks of ``CSV_CHUNK_ROWS`` rows: the header first, so a download starts at
    once, and memory of one chunk however many rows the report reads."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(report.columns)
    yield out.getvalue().encode()
    for number, row in enumerate(report.rows, 1):
        if number % CSV_CHUNK_ROWS == 1:
            out.seek(0)
            out.truncate()
        writer.writerow([cell_text(value) for value in row])
        if number % CSV_CHUNK_ROWS == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue().encode()


def report_csv(report: Report) -> bytes:
    """The whole CSV of ``report_csv_chunks`` at once."""
    return b"".join(report_csv_chunks(report))


async def stream_from_sync(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` (a sync iterator that reads the database) as an async iterator, each step run
    in Django's thread for sync code: an ASGI server streams an async iterator as it comes, where
    Django would read a sync one whole into memory first."""
    done = object()
    step = sync_to_async(next)
    while (chunk := await step(chunks, done)) is not done:
        yield chunk


#: PDF table text: font size and line height (points).
PDF_FONT_SIZE = 7
PDF_LEADING = 8.5


def report_pdf(report: Report, *, production_label: str, out: BinaryIO | None = None) -> bytes | None:
    """The report as a PDF — its bytes, or with ``out`` (a binary file open for writing) written
    there and None: title, production, generation time, filters, summary and the table
    (header row repeated on every page, landscape A4). Long cells wrap, and past
    ``PDF_CELL_MAX_CHARS`` are cut short with a note (``pdf_cell_text``), so every row fits on a
    page.

    Drawn row by row on ReportLab's canvas as ``report.rows`` is read (an iterator for the
    whole audit trail): memory holds the pages drawn (their content streams) and one chunk of
    rows, not a layout of every row at once — the platypus Table this replaced needed 2.2 GB and
    more than 8 minutes for 100,000 audit events (issue #24). Made by a worker
    (``reviews.worker.reports``), which reads ``report.rows`` through its progress counter.
    """
    # ReportLab when a PDF is made: web processes start without it
    from reportlab.lib.colors import grey, lightgrey
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen.canvas import Canvas

    buffer = out if out is not None else io.BytesIO()
    page_width, page_height = landscape(A4)
    margin = 12 * mm
    canvas = Canvas(buffer, pagesize=(page_width, page_height), pageCompression=0)
    canvas.setTitle(f"{report.title} — {production_label}")
    table_width = page_width - 2 * margin
    column_width = table_width / len(report.columns)
    y = page_height - margin

    def text_line(text: str, font: str, size: float) -> None:
        nonlocal y
        for part in simpleSplit(text, font, size, table_width) or [""]:
            canvas.setFont(font, size)
            canvas.drawString(margin, y - size, part)
            y -= size * 1.5

    def wrapped(text: str, font: str) -> list[str]:
        lines = []
        for line in simpleSplit(text, font, PDF_FONT_SIZE, column_width - 4) or [""]:
            while stringWidth(line, font, PDF_FONT_SIZE) > column_width - 4 and len(line) > 1:  # one long word
                cut = len(line) - 1
                while cut > 1 and stringWidth(line[:cut], font, PDF_FONT_SIZE) > column_width - 4:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
            lines.append(line)
        return lines

    def row(cells: list[str], font: str, shade: bool = False) -> None:
        nonlocal y
        lines = [wrapped(cell, font) for cell in cells]
        height = max(len(cell) for cell in lines) * PDF_LEADING + 3
        if y - height < margin:
            canvas.showPage()
            y = page_height - margin
            header()
        canvas.setStrokeColor(grey)
        canvas.setLineWidth(0.25)
        if shade:
            canvas.setFillColor(lightgrey)
            canvas.rect(margin, y - height, table_width, height, stroke=0, fill=1)
        canvas.setFillColorRGB(0, 0, 0)
        canvas.setFont(font, PDF_FONT_SIZE)
        for column, cell in enumerate(lines):
            left = margin + column * column_width
            canvas.rect(left, y - height, column_width, height, stroke=1, fill=0)
            for number, text in enumerate(cell, 1):
                canvas.drawString(left + 2, y - number * PDF_LEADING, text)
        y -= height

    def header() -> None:
        row(report.columns, "Helvetica-Bold", shade=True)

    text_line(f"{report.title} — {production_label}", "Helvetica-Bold", 16)
    text_line(f"Generated {timezone.now():%Y-%m-%d %H:%M} UTC by Loupe", "Helvetica", 9)
    if report.filters:
        text_line("Filters: " + ", ".join(f"{k} = {v}" for k, v in report.filters.items()), "Helvetica", 9)
    for label, value in report.summary:
        text_line(f"{label}: {value}", "Helvetica", 9)
    y -= 4 * mm
    header()
    empty = True
    for values in report.rows:
        empty = False
        row([pdf_cell_text(value) for value in values], "Helvetica")
    if empty:
        row(["Nothing to report."] + [""] * (len(report.columns) - 1), "Helvetica")
    canvas.save()
    return None if out is not None else buffer.getvalue()


def dailies_summary_pdf(playlist, summary, *, production_label: str, thumbnail) -> bytes:
    """The dailies session's summary (``reviews.dailies.playlist_summary``) as a PDF on portrait
    A4, with the same library and conventions as the reports: per item its shot, fix, version,
    status and decision, then a table of its notes — timecode, frame, author, text — each with
    the thumbnail of its annotated frame (``thumbnail(proposal, frame)``: JPEG bytes, or None
    when the picture is missing: the cell says so)."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import (Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table,
                                    TableStyle)

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

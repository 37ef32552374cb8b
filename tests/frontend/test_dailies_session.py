"""A dailies session in real Chromium (one web process, the Redis channel layer): the director
presents a playlist of five versions across five shots on a desktop and the artist follows on a
phone (390×844: viewer first, the panel in a drawer). The director moves through the items; the
artist's page follows to each item's room, onto the director's frame and compare mode; both write
notes, the director wipes against the reference shot and decides on every item; a supervisor
joining late lands on the current item and frame; the director hands the session to the artist;
the summary is exported as CSV and PDF with the notes, decisions and timecodes."""
import csv
import io

import pytest

from reviews.models import ProposalStatus, ReviewDecision, ReviewNote
from reviews.services.playlists import playlist_create
from reviews.timecode import frame_timecode

from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

#: What the director decides on each of the five items (a note where one is required).
DECISIONS = [("approve", ""), ("request_changes", "Cooler on the cheek"), ("approve", ""),
             ("reject", "Wrong reference"), ("approve", "")]


STATUS_AFTER = {"approve": ProposalStatus.APPROVED.label, "request_changes": ProposalStatus.CHANGES_REQUESTED.label,
                "reject": ProposalStatus.REJECTED.label}


def test_a_dailies_session_through_five_versions(asgi_server, five_versions, people, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    playlist = playlist_create(production=five_versions[0].production, actor=people["supervisor"],
                               name="Dailies 7 Dec", proposals=five_versions)
    session = f"{asgi_server}/productions/TEST/playlists/{playlist.pk}/session/"
    clip = five_versions[0].fix_request.shot.clip
    with sync_playwright() as playwright:
        browser = launch(playwright)
        director = open_signed_in(browser.new_context(viewport={"width": 1440, "height": 900}), session, "director")
        phone = browser.new_context(viewport={"width": 390, "height": 844})
        artist = open_signed_in(phone, session, "artist")
        for page in (director, artist):
            expect(page.locator("#dailies-items button")).to_have_count(5)
        expect(director.locator("#dailies-presenter")).to_have_text("You present the session")
        expect(artist.locator("#dailies-presenter")).to_have_text("Following director")
        expect(artist.locator("#dailies-next")).to_be_disabled()

        for index, (version, (decision, note)) in enumerate(zip(five_versions, DECISIONS)):
            for page in (director, artist):
                # The session's address opens the first item; the next ones are their review rooms.
                if index:
                    page.wait_for_url(f"**/review/{version.pk}/?playlist={playlist.pk}")
                expect(page.locator("#dailies")).to_have_attribute("data-proposal", str(version.pk))
                expect(page.locator("#dailies-position")).to_have_text(f"Item {index + 1} of 5")
                expect(page.locator("#viewer")).to_have_attribute("data-frame", str(version.frame_in),
                                                                  timeout=30_000)
            expect(director.locator("#follow")).to_have_text("You present")
            expect(artist.locator("#follow")).to_have_text("Following director")
            # The phone shows the viewer first, full width, with the panel in its drawer.
            assert artist.locator(".stage").bounding_box()["width"] >= 390 * 0.9
            assert artist.locator("#panel").bounding_box()["x"] >= 389
            assert artist.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out

            # The director steps a frame and changes the compare mode: the artist follows.
            frame = version.frame_in + 1
            director.click("#next")
            expect(artist.locator("#viewer")).to_have_attribute("data-frame", str(frame))
            if index == 0:
                # A shot match: the director wipes against the reference shot (R), for everyone.
                director.keyboard.press("r")
                expect(artist.locator("#viewer")).to_have_attribute("data-versus", "reference")
                expect(artist.locator("#label-a")).to_have_text("A · Reference CAR_REF")
                expect(artist.locator("#viewer")).to_have_attribute("data-frame", str(frame))
            if index == 1:
                director.select_option("#mode", "difference")
                expect(artist.locator("#viewer")).to_have_attribute("data-mode", "difference")

            # Notes on the frame, from both; the director decides.
            text = f"Note on {version.fix_request.shot.code}"
            director.fill("#note-form textarea", text)
            director.click("#note-form button[type=submit]")
            expect(artist.locator("#notes")).to_contain_text(text)
            if index == 2:
                artist.click("#panel-toggle")
                artist.fill("#note-form textarea", "On it")
                artist.click("#note-form button[type=submit]")
                expect(director.locator("#notes")).to_contain_text("On it")
            director.fill("#decide textarea[name=note]", note)
            director.click(f"#decide button[value={decision}]")
            expect(artist.locator("#status")).to_have_text(STATUS_AFTER[decision])

            if index == 3:
                # Someone joining late lands on the current item, on the presenter's frame.
                late = open_signed_in(browser.new_context(), session, "supervisor")
                late.wait_for_url(f"**/playlists/{playlist.pk}/session/")
                expect(late.locator("#dailies-position")).to_have_text("Item 4 of 5")
                expect(late.locator("#viewer")).to_have_attribute("data-frame", str(frame), timeout=30_000)
                expect(late.locator("#follow")).to_have_text("Following director")
                late.context.close()
            if index < 4:
                director.click("#dailies-next")

        # The director hands the session to the artist: the artist presents the session and the
        # current item's room at once (their frame step reaches the director), the director follows.
        expect(artist.locator("#dailies-hand-over")).to_be_hidden()
        director.select_option("#dailies-hand-over-to", label="artist")
        director.click("#dailies-hand-over-button")
        expect(artist.locator("#dailies-presenter")).to_have_text("You present the session")
        expect(artist.locator("#follow")).to_have_text("You present")
        expect(director.locator("#dailies-presenter")).to_have_text("Following artist")
        expect(director.locator("#dailies-hand-over")).to_be_hidden()
        expect(artist.locator("#dailies-prev")).to_be_enabled()
        artist.click("#prev")
        expect(director.locator("#viewer")).to_have_attribute("data-frame", str(five_versions[4].frame_in))

        # The summary, exported for editorial.
        director.click("#dailies-summary")
        director.wait_for_url(f"**/playlists/{playlist.pk}/summary/")
        expect(director.locator(".summary-item")).to_have_count(5)
        expect(director.locator(".summary-item .decision").nth(3)).to_contain_text("Reject by director")
        expect(director.locator("img.note-thumb")).to_have_count(6)
        director.wait_for_function("() => [...document.querySelectorAll('img.note-thumb')]"
                                   ".every((img) => img.complete && img.naturalWidth === 320)")
        with director.expect_download() as download:
            director.click("#export-csv")
        rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
        with director.expect_download() as download:
            director.click("#export-pdf")
        pdf = open(download.value.path(), "rb").read()
        browser.close()

    assert [row[1] for row in rows[1:]] == [v.fix_request.shot.code for v in five_versions[:2]] + [
        five_versions[2].fix_request.shot.code] * 2 + [v.fix_request.shot.code for v in five_versions[3:]]
    decided = [row[5] for row in rows[1:]]
    assert decided == ["Approve", "Request changes", "Approve", "Approve", "Reject", "Approve"]
    first_note = rows[1]
    assert first_note[9] == frame_timecode(start_timecode=clip.start_timecode, frame_rate=clip.frame_rate,
                                           frame=five_versions[0].frame_in + 1)
    assert first_note[12] == "Note on CAR_0010" and first_note[11] == "director"
    assert pdf.startswith(b"%PDF") and b"Note on CAR_0050" in pdf and b"Wrong reference" in pdf
    assert ReviewNote.objects.count() == 6
    assert [d.decision for d in ReviewDecision.objects.order_by("created_at")] == [d for d, _ in DECISIONS]

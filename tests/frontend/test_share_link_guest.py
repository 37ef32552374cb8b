"""A guest through a playlist's share link, in a fresh Chromium context (no account, no
cookies): gives their name and the password, steps through the shared frames of the first
version, leaves a note the production sees under their name, moves to the playlist's next
version and notes there too — and is refused a decision (403)."""
import datetime

import pytest
from playwright.sync_api import expect, sync_playwright

from reviews.models import ReviewNote
from reviews.services.playlists import playlist_create
from reviews.services.share_links import share_link_create

from .browser import launch
from .test_live_progress import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_guest_reviews_a_playlist_and_notes_but_cannot_decide(asgi_server, two_versions, people):
    small_proposal, second = two_versions
    playlist = in_thread(lambda: playlist_create(production=small_proposal.production, actor=people["supervisor"],
                                                 name="Studio notes", proposals=two_versions))
    _, token = in_thread(lambda: share_link_create(playlist=playlist, actor=people["supervisor"],
                                                   expires_in=datetime.timedelta(days=2), password="studio-cut-2"))
    decisions = f"/api/productions/TEST/proposals/{small_proposal.pk}/decisions/"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context()  # a fresh profile: no session, no account
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(f"{asgi_server}/share/{token}/")
        page.fill("input[name=name]", "Dana Exec")
        page.fill("input[name=password]", "studio-cut-2")
        page.click("#share-arrive button[type=submit]")
        expect(page.locator("h1")).to_contain_text("CAR_0010")
        expect(page.locator("#share-position")).to_have_text("Item 1 of 2")
        expect(page.get_by_role("button", name="Approve")).to_have_count(0)

        image = page.locator("#share-frame")
        page.wait_for_function("() => document.getElementById('share-frame').naturalWidth > 0")
        page.click("#share-next")
        expect(page.locator("#share-frame-number")).to_have_text(str(small_proposal.frame_in + 1))
        assert image.get_attribute("src") == f"/share/{token}/frames/after/{small_proposal.frame_in + 1}.jpg"
        page.wait_for_function("() => document.getElementById('share-frame').complete "
                               "&& document.getElementById('share-frame').naturalWidth > 0")
        page.fill("#share-note-form textarea", "Her collar reads too blue here.")
        page.click("#share-note-form button[type=submit]")
        expect(page.locator("#share-notes")).to_contain_text("Dana Exec (guest) Her collar reads too blue here.")

        page.click("#share-next-item")  # the playlist's next version, and its own frames
        page.wait_for_url(f"**/share/{token}/versions/{second.pk}/")
        expect(page.locator("h1")).to_contain_text("CAR_0020")
        expect(page.locator("#share-position")).to_have_text("Item 2 of 2")
        expect(page.locator("#share-next-item")).to_have_count(0)
        assert image.get_attribute("src") == f"/share/{token}/versions/{second.pk}/frames/after/{second.frame_in}.jpg"
        page.wait_for_function("() => document.getElementById('share-frame').complete "
                               "&& document.getElementById('share-frame').naturalWidth > 0")
        page.fill("#share-note-form textarea", "Fine.")
        page.click("#share-note-form button[type=submit]")
        expect(page.locator("#share-notes")).to_contain_text("Dana Exec (guest) Fine.")

        assert errors == []  # (the refused decision below logs its 403)
        status = page.evaluate("""async (url) => (await fetch(url, {method: "POST",
            headers: {"Content-Type": "application/json"}, body: JSON.stringify({decision: "approve"})})).status""",
                               decisions)
        assert status == 403
        context.close()
        browser.close()
    notes = in_thread(lambda: [(n.proposal_id, n.frame, n.author.get_full_name()) for n in
                               ReviewNote.objects.select_related("author").order_by("created_at")])
    assert notes == [(small_proposal.pk, small_proposal.frame_in + 1, "Dana Exec (guest)"),
                     (second.pk, second.frame_in, "Dana Exec (guest)")]
    small_proposal.refresh_from_db()
    assert small_proposal.status == "in_review"

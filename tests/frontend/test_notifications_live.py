"""An in-app notification arrives live, in real Chromium: the artist's bell counts it and a toast
shows it the moment the supervisor assigns them a fix request — no reload; and the same
notification reaches the test's own SMTP server (aiosmtpd) by email, with the link to follow."""
import pytest
from playwright.sync_api import expect, sync_playwright

from reviews.services.fix_requests import fix_request_create

from .browser import launch, open_signed_in
from .test_live_progress import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_an_assignment_reaches_the_artists_bell_live(asgi_server, production, shots, people, smtp_inbox):
    people["artist"].email = "artist@example.test"
    in_thread(lambda: people["artist"].save(update_fields=["email"]))
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/assignments/", "artist")
        expect(page.locator("#notification-count")).to_be_hidden()
        expect(page.locator("#notification-bell[data-live=open]")).to_have_count(1)  # its socket is open

        fix_request = in_thread(lambda: fix_request_create(
            production=production, actor=people["supervisor"], shot=shots["CUPS"], kind="color_match",
            frame_in=0, frame_out=4, reference_shot=shots["COFFEE"], assignee=people["artist"]))
        expect(page.locator("#notification-count")).to_have_text("1")
        toast = page.locator("#notification-toasts .toast")
        expect(toast).to_have_text("Shot match on CUPS is assigned to you.")
        toast.click()
        page.wait_for_url(f"{asgi_server}/productions/TEST/shots/{fix_request.shot_id}/")
        expect(page.locator("#notification-count")).to_be_hidden()  # opened: read
        browser.close()
    mail = smtp_inbox.wait_for("artist@example.test")[0]
    assert mail["Subject"] == "[Loupe TEST] Fix request assigned to you"
    assert "Shot match on CUPS is assigned to you." in mail.get_content()
    assert f"/productions/TEST/shots/{fix_request.shot_id}/" in mail.get_content()

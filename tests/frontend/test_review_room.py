"""In real Chromium, two people in one review room (two browser contexts, one web process, the Redis
channel layer): the director opens it first and presents, sees before and after either side of
the wipe; the artist joins and follows — the director scrubs and the artist's player lands on the
same frame with the same picture; the director draws an arrow and the artist sees it; the
director approves and both see the decision; a non-member's socket is refused."""
import base64
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.conf import settings

from reviews.media import review_views
from reviews.models import Annotation, ProposalStatus

from ..reviews.helpers import outside_watermark
from reviews.services.jobs import job_submit

from .browser import launch, open_signed_in
from .test_live_progress import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def review_image(proposal, side, frame, view: str | None = None) -> np.ndarray:
    """A stored review JPEG, int16 [H, W, 3] RGB: the first view's, or the one named ``view``."""
    folder = next(entry["folder"] for entry in review_views(proposal.media_dir) if entry["name"] == view) \
        if view else "review"
    path = Path(settings.MEDIA_ROOT) / proposal.media_dir / folder / side / f"{frame:06d}.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.int16)


def canvas_pixels(page, selector="#viewer") -> np.ndarray:
    """The canvas's pixels, int16 [H, W, 4] RGBA, fetched losslessly as a PNG."""
    data_url = page.evaluate("(selector) => document.querySelector(selector).toDataURL('image/png')", selector)
    png = base64.b64decode(data_url.split(",", 1)[1])
    bgra = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA).astype(np.int16)


def test_two_people_review_together(asgi_server, proposal, people):
    from playwright.sync_api import expect, sync_playwright

    frame = proposal.frame_in
    before = review_image(proposal, "before", frame)
    after = review_image(proposal, "after", frame)
    url = f"{asgi_server}/review/{proposal.pk}/"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        director = open_signed_in(browser, url, "director")  # each its own browser context
        director.wait_for_url(f"**/review/{proposal.pk}/")
        canvas = director.locator("#viewer")
        expect(canvas).to_have_attribute("data-frame", str(frame), timeout=20_000)
        expect(director.locator("#timecode")).to_have_text("00:00:00:10")
        expect(director.locator("#follow")).to_have_text("You present")

        # Left of the wipe is the original, right of it the proposal (outside the burn-in).
        split = int(canvas.get_attribute("data-wipe"))
        pixels = canvas_pixels(director)[..., :3]
        assert pixels.shape == before.shape
        unmarked = outside_watermark(pixels, "director")
        left, right = unmarked.copy(), unmarked.copy()
        left[:, split - 4:] = False
        right[:, :split + 4] = False
        assert np.abs(pixels[left] - before[left]).mean() < 3
        assert np.abs(pixels[right] - after[right]).mean() < 3
        assert np.abs(pixels[right] - before[right]).mean() > 5

        artist = open_signed_in(browser, url, "artist")
        artist.wait_for_url(f"**/review/{proposal.pk}/")
        expect(artist.locator("#viewer")).to_have_attribute("data-frame", str(frame), timeout=20_000)
        expect(artist.locator("#follow")).to_have_text("Following director")
        expect(director.locator("#presence li")).to_have_count(2)
        expect(artist.locator("#next")).to_be_disabled()

        # The presenter scrubs; the follower lands on the same frame, with the same picture.
        director.click("#next")
        director.click("#next")
        for page in (director, artist):
            expect(page.locator("#viewer")).to_have_attribute("data-frame", str(frame + 2))
            expect(page.locator("#timecode")).to_have_text("00:00:00:12")
        shown_d, shown_a = canvas_pixels(director)[..., :3], canvas_pixels(artist)[..., :3]
        same = outside_watermark(shown_d, "director") & outside_watermark(shown_a, "artist")
        assert np.abs(shown_d[same] - shown_a[same]).mean() < 1
        frame_10 = outside_watermark(pixels, "director") & same
        assert np.abs(shown_a[frame_10] - pixels[frame_10]).mean() > 0.5  # and it is not frame 10's

        # Compare mode follows too.
        director.select_option("#mode", "difference")
        expect(artist.locator("#viewer")).to_have_attribute("data-mode", "difference")
        director.select_option("#mode", "wipe")
        expect(artist.locator("#viewer")).to_have_attribute("data-mode", "wipe")

        # The presenter's OCIO view is the room's: the director picks sRGB and both show frame 12
        # through it (the stored sRGB frames, not the Rec.709 ones shown so far); the artist picks
        # Display P3 for themself and stops following the view, until they follow again.
        left = np.zeros(shown_a.shape[:2], bool)
        left[:, :split - 4] = True  # the wipe has not moved: left of it is A, the original

        def shows(page, view, user):
            """Mean difference of the page's A side from the stored "before" frames of ``view``."""
            expect(page.locator("#viewer")).to_have_attribute("data-view", view)
            shown = canvas_pixels(page)[..., :3]
            where = outside_watermark(shown, user) & left
            return np.abs(shown[where] - review_image(proposal, "before", frame + 2, view)[where]).mean()

        assert np.abs(review_image(proposal, "before", frame + 2, "sRGB")
                      - review_image(proposal, "before", frame + 2, "Rec.709")).mean() > 3
        director.select_option("#view", "sRGB")
        assert shows(director, "sRGB", "director") < 3 and shows(artist, "sRGB", "artist") < 3
        artist.select_option("#view", "Display P3")
        expect(artist.locator("#follow-view")).not_to_be_checked()
        assert shows(artist, "Display P3", "artist") < 3
        director.select_option("#view", "Rec.709")
        assert shows(director, "Rec.709", "director") < 3
        expect(artist.locator("#viewer")).to_have_attribute("data-view", "Display P3")
        artist.check("#follow-view")
        assert shows(artist, "Rec.709", "artist") < 3

        # The director draws an arrow on frame 12; the artist sees it, on that frame.
        director.click("#tools [data-tool=arrow]")
        box = director.locator("#overlay").bounding_box()
        director.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
        director.mouse.down()
        director.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.45, steps=5)
        director.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=5)
        director.mouse.up()
        expect(artist.locator("#overlay")).to_have_attribute("data-annotations", "1")
        ink = canvas_pixels(artist, "#overlay")
        height, width = ink.shape[:2]
        along = [ink[int(height * t), int(width * t)] for t in np.linspace(0.32, 0.5, 10)]
        assert max(p[3] for p in along) > 200 and max(p[0] for p in along) > 200  # opaque red on the line
        assert ink[int(height * 0.8), int(width * 0.2), 3] == 0  # and nothing elsewhere

        # The director decides; both see it.
        director.click("button[value=approve]")
        for page in (director, artist):
            expect(page.locator("#status")).to_have_text("Approved")
            expect(page.locator("#decisions")).to_contain_text("Approved by director")
        expect(director.locator("button[value=approve]")).to_be_disabled()

        # A job of this fix request shows in the room as it is queued.
        job = in_thread(lambda: job_submit(fix_request=proposal.fix_request, actor=people["artist"])[0])
        expect(artist.locator("#job-state")).to_have_text(f"Job {job.pk}: Queued, 0/6 frames")

        # Someone outside the production: no page, and the socket's handshake is refused (the
        # server closes it before accepting — 4403 to protocol clients, which a browser reports
        # as 1006 without ever opening it).
        outsider = open_signed_in(browser, f"{asgi_server}/", "outsider")
        outsider.wait_for_url(f"{asgi_server}/")
        assert outsider.goto(url).status == 404
        refused = outsider.evaluate("""(path) => new Promise((resolve) => {
            let opened = false;
            const socket = new WebSocket(`ws://${location.host}${path}`);
            socket.onopen = () => { opened = true; };
            socket.onmessage = () => { opened = "and told something"; };
            socket.onclose = (event) => resolve({ opened, code: event.code }); })""", f"/ws/review/{proposal.pk}/")
        assert refused == {"opened": False, "code": 1006}
        browser.close()

    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED
    annotation = Annotation.objects.get(proposal=proposal)
    assert (annotation.frame, annotation.kind, annotation.author.username) == (frame + 2, "arrow", "director")


@pytest.mark.parametrize("size", [(1024, 768), (390, 844)], ids=["tablet", "phone"])
def test_review_room_on_a_tablet_and_a_phone_with_the_keyboard(asgi_server, small_proposal, people, size):
    """Viewer first, full width; the panel in a drawer that a button opens; J/K/L shuttle, frame
    steps, in / out points and the `?` overlay of shortcuts."""
    from playwright.sync_api import expect, sync_playwright

    width, height = size
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        page.goto(f"{asgi_server}/review/{small_proposal.pk}/")
        page.fill("input[name=username]", "director")
        page.fill("input[name=password]", "pw-director")
        page.click("button[type=submit]")
        page.wait_for_url(f"**/review/{small_proposal.pk}/")
        expect(page.locator("#viewer")).to_have_attribute("data-frame", "0", timeout=20_000)
        stage = page.locator(".stage").bounding_box()
        assert stage["width"] >= width * 0.9  # the viewer takes the width, the panel does not cover it
        panel = page.locator("#panel")
        assert panel.bounding_box()["x"] >= width - 1  # the drawer is closed, off the right edge
        page.click("#panel-toggle")
        expect(panel).to_have_class("panel open")
        page.wait_for_function("() => document.getElementById('panel').getBoundingClientRect().right <= innerWidth + 1")
        expect(page.locator("#decide button.approve")).to_be_visible()
        # Each measurement's value (number and unit) stays on one line, however narrow the panel.
        lines = page.evaluate("""() => [...document.querySelectorAll('#metrics dd')].map(dd => {
            const text = document.createRange();
            text.selectNodeContents(dd);
            return new Set([...text.getClientRects()].map(box => Math.round(box.top))).size; })""")
        assert lines and max(lines) == 1, lines
        page.click("#panel-close")
        page.wait_for_function("() => document.getElementById('panel').getBoundingClientRect().left >= innerWidth - 1")

        page.keyboard.press("?")
        expect(page.locator("#shortcuts")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#shortcuts")).to_be_hidden()
        page.keyboard.press("l")
        expect(page.locator("#play")).to_have_attribute("data-playing", "true")
        page.keyboard.press("l")
        expect(page.locator("#speed")).to_have_text("▶︎ 2×")
        page.keyboard.press("k")
        expect(page.locator("#play")).to_have_attribute("data-playing", "false")
        expect(page.locator("#speed")).to_have_text("")
        page.keyboard.up("k")
        # Frame steps, in / out points (I, O) and Home / End to them, J shuttling backwards, as in RV.
        viewer = page.locator("#viewer")
        page.keyboard.press("Home")
        expect(viewer).to_have_attribute("data-frame", "0")
        page.keyboard.press("ArrowRight")
        expect(viewer).to_have_attribute("data-frame", "1")
        page.keyboard.press("i")
        expect(page.locator("#loop")).to_have_text("loop 1–5")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        expect(viewer).to_have_attribute("data-frame", "3")
        page.keyboard.press("o")
        expect(page.locator("#loop")).to_have_text("loop 1–3")
        page.keyboard.press("Home")
        expect(viewer).to_have_attribute("data-frame", "1")
        page.keyboard.press("End")
        expect(viewer).to_have_attribute("data-frame", "3")
        page.keyboard.press("j")
        expect(page.locator("#speed")).to_have_text("◀︎ 1×")
        page.keyboard.press("k")
        expect(page.locator("#play")).to_have_attribute("data-playing", "false")
        browser.close()

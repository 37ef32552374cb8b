"""In real Chromium: the director signs in, opens the review room, sees before and after drawn
either side of the wipe, approves, and sees the status change."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.conf import settings

from reviews.models import ProposalStatus

from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]



def review_image(proposal, side, frame) -> np.ndarray:
    path = Path(settings.MEDIA_ROOT) / proposal.media_dir / "review" / side / f"{frame:06d}.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.int16)


def test_director_reviews_and_approves_in_the_browser(asgi_server, proposal, people):
    from playwright.sync_api import expect, sync_playwright

    frame = proposal.frame_in
    before = review_image(proposal, "before", frame)
    after = review_image(proposal, "after", frame)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/review/{proposal.pk}/", "director")
        page.wait_for_url(f"**/review/{proposal.pk}/")
        canvas = page.locator("#viewer")
        expect(canvas).to_have_attribute("data-frame", str(frame), timeout=20_000)
        expect(page.locator("#timecode")).to_have_text("00:00:00:10")

        split = int(canvas.get_attribute("data-wipe"))
        width, height = page.evaluate("() => [viewer.width, viewer.height]")
        assert (height, width) == before.shape[:2]
        pixels = np.array(page.evaluate(
            "() => Array.from(viewer.getContext('2d').getImageData(0, 0, viewer.width, viewer.height).data)"
        ), dtype=np.int16).reshape(height, width, 4)[..., :3]
        left, right = slice(0, split - 4), slice(split + 4, width)
        # Left of the wipe is the original, right of it the proposal — and the two differ.
        assert np.abs(pixels[:, left] - before[:, left]).mean() < 3
        assert np.abs(pixels[:, right] - after[:, right]).mean() < 3
        assert np.abs(pixels[:, right] - before[:, right]).mean() > 5

        page.click("#next")
        expect(canvas).to_have_attribute("data-frame", str(frame + 1))
        expect(page.locator("#timecode")).to_have_text("00:00:00:11")

        page.click("button[value=approve]")
        expect(page.locator("#status")).to_have_text("Approved")
        expect(page.locator("button[value=approve]")).to_be_disabled()
        browser.close()

    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED

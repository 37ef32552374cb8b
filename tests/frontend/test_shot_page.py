"""The shot page in real Chromium: the findings of a continuity check run by the real engine on
real footage, shown with the crops of both takes, and one click filing the object removal the
finding calls for."""
import re

import pytest

from reviews.models import ContinuityFinding, FixRequest

from ..reviews.test_continuity_findings import check_case
from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.browser
def test_a_finding_becomes_an_object_removal_in_one_click(asgi_server, production, people, footage, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    check, _ = check_case("juggle appeared", production, people, footage, tmp_path)
    finding = ContinuityFinding.objects.get(fix_request=check)

    with sync_playwright() as playwright:
        browser = launch(playwright)
        url = f"{asgi_server}/productions/TEST/shots/{check.shot_id}/"
        page = open_signed_in(browser, url, "supervisor")
        page.wait_for_url(f"**/productions/TEST/shots/{check.shot_id}/")
        item = page.locator(f"li.finding[data-finding='{finding.pk}']")
        expect(item.locator(".finding-kind")).to_have_text("Appeared")
        page.wait_for_function("() => [...document.querySelectorAll('li.finding img')]"
                               ".every(img => img.complete && img.naturalWidth > 0)")
        expect(item.locator("button.file-from-finding")).to_have_text(["File object removal"])

        item.locator("button.file-from-finding").click()

        expect(item.locator(".filed")).to_have_text(re.compile(r"^object removal fix request \d+$"))
        filed = item.locator(".filed").text_content()
        expect(page.locator("#fix-requests tr[data-kind='object_removal'] td.kind")).to_contain_text("(masked)")
        browser.close()

        # A director sees the finding but may not file from it.
        browser = launch(playwright)
        page = open_signed_in(browser, url, "director")
        page.wait_for_url(f"**/productions/TEST/shots/{check.shot_id}/")
        expect(page.locator("li.finding")).to_have_count(1)
        expect(page.locator("button.file-from-finding")).to_have_count(0)
        browser.close()

    removal = FixRequest.objects.get(kind="object_removal")  # (the ORM refuses to run inside Playwright's loop)
    assert filed.endswith(f" {removal.pk}") and removal.mask["points"][0] == finding.box[:2]

"""The shot page in real Chromium: the findings of a continuity check run by the real engine on
real footage, shown with the crops of both takes, and one click filing the object removal the
finding calls for; a supervisor classifying a fix for guild consent."""
import re

import pytest

from reviews.models import ConsentRequest, ContinuityFinding, FixRequest, Performer
from reviews.services.fix_requests import fix_request_create

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
    # The removal covers the object's own outline (the polygon of its mask), inside the finding's box.
    outline = finding.details["outline"]
    assert filed.endswith(f" {removal.pk}") and removal.mask["shape"] == "polygon" and removal.mask["points"] == outline
    x, y, width, height = finding.box
    assert all(x - 1 <= px <= x + width + 1 and y - 1 <= py <= y + height + 1 for px, py in outline)


@pytest.mark.browser
def test_a_supervisor_classifies_a_fix_for_guild_consent_on_the_shot_page(asgi_server, production, people, shots):
    from playwright.sync_api import expect, sync_playwright

    performer = Performer.objects.create(production=production, name="Ada Quinn")
    fix_request = fix_request_create(production=production, actor=people["supervisor"], shot=shots["CUPS"],
                                     kind="color_match", frame_in=0, frame_out=10, reference_shot=shots["COFFEE"])

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/TEST/shots/{shots['CUPS'].pk}/", "supervisor")
        row = page.locator(f"#fix-requests tr[data-fix-request='{fix_request.pk}']")
        expect(row.locator(".alteration")).to_have_text("Routine post-production alteration")
        row.locator("summary").click()
        form = row.locator("form.classify")
        form.locator("input[value=digital_alteration]").check()
        form.locator("button[type=submit]").click()
        expect(form.locator(".error")).to_contain_text("Name the performers")

        form.locator("input[name=performers]").check()
        form.locator("button[type=submit]").click()
        expect(row.locator(".alteration")).to_have_text(
            "Digital alteration of a performer's likeness or performance")
        expect(row.locator("td.classification")).to_contain_text("Ada Quinn")

        # Lowering it again needs a written reason.
        row.locator("summary").click()
        form.locator("input[value=routine]").check()
        form.locator("button[type=submit]").click()
        expect(form.locator(".error")).to_contain_text("needs your written reason")
        browser.close()

    consent = ConsentRequest.objects.get(fix_request=fix_request)  # (outside Playwright's loop)
    assert (consent.performer, consent.status) == (performer, "pending")

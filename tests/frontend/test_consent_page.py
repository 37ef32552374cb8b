"""In real Chromium: a performer signs in, reads what a fix does to her likeness, follows the
link to watch it, and grants consent with a scope — which makes the approved version final."""
import pytest

from reviews.models import AuditEvent, ConsentStatus
from reviews.services.proposals import proposal_is_final

from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_performer_grants_consent_in_the_browser(asgi_server, small_proposal, awaiting_consent, people):
    from playwright.sync_api import expect, sync_playwright

    proposal, consent = small_proposal, awaiting_consent
    proposal.refresh_from_db()
    assert not proposal_is_final(proposal)

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/productions/TEST/consent/", "performer")
        page.wait_for_url("**/productions/TEST/consent/")
        card = page.locator(f"#consent-{consent.pk}")
        expect(card.locator(".status")).to_have_text("Awaiting answer")
        expect(card.locator(".description")).to_contain_text("shot CAR_0010, frames 0–5")
        expect(card.locator("a.watch")).to_have_attribute("href", f"/review/{proposal.pk}/")

        card.locator("button[value=grant]").click()  # without a scope: refused, nothing stored
        expect(page.locator("#consent-error")).to_contain_text("Say what you consent to")
        card = page.locator(f"#consent-{consent.pk}")  # the page re-read from the database
        expect(card.locator(".status")).to_have_text("Awaiting answer")
        card.locator("textarea[name=scope]").fill("This shot, frames 0–5, theatrical release only")
        card.locator("input[name=expires_on]").fill("2099-12-31")
        card.locator("button[value=grant]").click()
        card = page.locator(f"#consent-{consent.pk}")
        expect(card.locator(".status")).to_have_text("Granted")
        expect(card.locator(".scope")).to_have_text("This shot, frames 0–5, theatrical release only")
        expect(card.locator("button[value=revoke]")).to_be_visible()
        browser.close()

    consent.refresh_from_db()
    assert (consent.status, consent.answered_by, str(consent.expires_on)) == (
        ConsentStatus.GRANTED, people["performer"], "2099-12-31")
    granted = AuditEvent.objects.get(action="consent.grant")
    assert (granted.actor, granted.payload["scope"]) == (people["performer"], consent.scope)
    proposal.refresh_from_db()
    assert proposal_is_final(proposal)
    assert AuditEvent.objects.filter(action="proposal.final", target_id=str(proposal.pk)).count() == 1

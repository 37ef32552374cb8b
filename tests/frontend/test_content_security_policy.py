"""In real Chromium, under the portal's Content-Security-Policy: every kind of page (sign-in,
productions, a production, the shot board, a shot, jobs, assignments, the review room with its
frames over the WebSocket, consent, reports, account security with a QR code being enrolled,
the API viewer) runs with no violation — none reported to the page
(``securitypolicyviolation``) and none in the console — while an inline script injected into a
page is refused (so the listener does hear violations)."""
import pytest

from .browser import launch, open_signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`));
"""


def test_pages_run_with_no_content_security_policy_violation(asgi_server, small_proposal, awaiting_consent, people):
    from playwright.sync_api import expect, sync_playwright

    proposal = small_proposal
    shot_id = proposal.fix_request.shot_id
    pages = {
        "director": ["/", "/productions/TEST/", f"/review/{proposal.pk}/", "/account/security/", "/api/docs/"],
        "supervisor": ["/productions/TEST/shots/", f"/productions/TEST/shots/{shot_id}/", "/productions/TEST/jobs/",
                       f"/review/{proposal.pk}/share/"],
        "artist": ["/assignments/", "/notifications/", "/notifications/preferences/"],
        "performer": ["/productions/TEST/consent/"],
        "producer": ["/productions/TEST/reports/audit/", "/productions/TEST/reports/disclosure/"],
    }
    console: list[str] = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        signin = browser.new_page()
        signin.add_init_script(LISTEN)
        signin.goto(f"{asgi_server}/login/")
        assert signin.evaluate("window.__violations") == []
        for username, paths in pages.items():
            page = open_signed_in(browser, f"{asgi_server}/", username)
            page.add_init_script(LISTEN)
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.wait_for_url(f"{asgi_server}/")
            for path in paths:
                page.goto(f"{asgi_server}{path}", wait_until="networkidle")
                if path == f"/review/{proposal.pk}/":  # a frame came over the socket and was drawn
                    expect(page.locator("#viewer")).to_have_attribute("data-frame", str(proposal.frame_in),
                                                                      timeout=20_000)
                if path == "/account/security/":
                    page.click("text=Set up an authenticator app")
                    expect(page.locator(".qr svg")).to_be_visible()
                if path == "/api/docs/":
                    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Loupe API")
                assert page.evaluate("window.__violations") == [], f"{username} {path}"
            # The listener hears a violation: an inline script added to the page is refused.
            page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
                          " document.head.appendChild(s); }")
            page.wait_for_function("window.__violations.length > 0")
            assert page.evaluate("window.ran") is None
            page.close()
        browser.close()
    refusals = [line for line in console if "Content Security Policy" in line]
    # Only the deliberate injections (one per person) were refused.
    assert len(refusals) == len(pages) and all("inline script" in line for line in refusals), refusals

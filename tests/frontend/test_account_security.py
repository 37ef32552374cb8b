"""In real Chromium: a director sets up an authenticator app (the code computed from the key the
page shows, as an app does), makes recovery codes, and — the phone out of reach — signs in with
one of them in place of the app's code; the page then counts one code fewer. No
Content-Security-Policy violation on the way (sign-in, code step, account security)."""
import base64
import re
import time

import pytest
from django_otp.oath import TOTP

from reviews.models import AuditEvent

from .browser import launch, open_signed_in
from .test_content_security_policy import LISTEN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _app_code(secret: str) -> str:
    totp = TOTP(base64.b32decode(secret + "=" * (-len(secret) % 8)), step=30, t0=0, digits=6)
    totp.time = time.time()
    return f"{totp.token():06d}"


def test_a_director_signs_in_with_a_recovery_code_in_place_of_the_app(asgi_server, production, people):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = open_signed_in(browser, f"{asgi_server}/account/security/", "director")
        page.wait_for_url("**/account/security/")
        page.click("text=Set up an authenticator app")
        secret = page.locator("#totp-secret").text_content()
        page.fill("input[name=otp_token]", _app_code(secret))
        page.click("text=Confirm")
        expect(page.locator("#mfa-status")).to_contain_text("this session is signed in with it")
        page.click("text=Make new recovery codes")
        codes = page.locator("#recovery-codes code").all_text_contents()
        assert len(codes) == 10 and all(re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", code) for code in codes)
        page.click("form.signout button")
        browser.close()

        browser = launch(playwright)
        context = browser.new_context()
        context.add_init_script(LISTEN)
        page = context.new_page()
        page.goto(f"{asgi_server}/account/security/")
        page.fill("input[name=username]", "director")
        page.fill("input[name=password]", "pw-director")
        page.click("button[type=submit]")
        page.wait_for_url("**/login/code/**")
        page.fill("input[name=otp_token]", codes[0])
        page.click("button[type=submit]")
        page.wait_for_url("**/account/security/")
        expect(page.locator("#mfa-status")).to_contain_text("this session is signed in with it")
        expect(page.locator("#recovery-status")).to_have_text("9 unused recovery codes left.")
        assert page.evaluate("window.__violations") == []
        browser.close()

    used = AuditEvent.objects.get(production=production, action="account.recovery_code_use")
    assert used.payload == {"for": "sign-in", "left": 9}

"""Passkeys in real Chromium with a virtual authenticator (DevTools protocol ``WebAuthn``): a
director adds a passkey on Account security, signs out, signs in with the password and then the
passkey as the second factor — which the MFA-by-role rule accepts — and cannot remove it
without a current code (a recovery code does it). No Content-Security-Policy violation."""
import subprocess

import pytest
from django_otp_webauthn.models import WebAuthnCredential

from reviews.models import AuditEvent
from tests.conftest import REPO, _free_port, _stop, asgi_server_command, wait_for_port

from .browser import launch
from .test_content_security_policy import LISTEN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def localhost_server(process_env):
    """The web process at http://localhost:PORT (a passkey's relying party is a domain, not an
    address), with the default MFA-by-role rule."""
    port = _free_port()
    origin = f"http://localhost:{port}"
    process = subprocess.Popen(asgi_server_command(port=port), cwd=REPO, env=dict(
        process_env, LOUPE_WEBAUTHN_RP_ID="localhost", LOUPE_WEBAUTHN_ORIGINS=origin,
        LOUPE_MFA_REQUIRED_ROLES="director,supervisor,producer"))
    wait_for_port(port, process, "The web process")
    yield origin
    _stop(process)


def _sign_in_with_password(page, url: str) -> None:
    page.goto(url)
    page.fill("input[name=username]", "director")
    page.fill("input[name=password]", "pw-director")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_a_director_adds_a_passkey_and_signs_in_with_it(localhost_server, production, people):
    from playwright.sync_api import expect, sync_playwright

    server = localhost_server
    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context()
        context.add_init_script(LISTEN)
        page = context.new_page()
        devtools = context.new_cdp_session(page)
        devtools.send("WebAuthn.enable")
        authenticator = devtools.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
            "isUserVerified": True, "automaticPresenceSimulation": True}})["authenticatorId"]

        _sign_in_with_password(page, f"{server}/account/security/")
        page.wait_for_url("**/account/security/")
        page.click("#passkey-register-button")
        expect(page.locator("li.passkey")).to_have_count(1)
        held = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        assert len(held) == 1  # the private key is on the authenticator, the server has its public key
        page.click("text=Make new recovery codes")
        codes = page.locator("#recovery-codes code").all_text_contents()
        page.click("form.signout button")
        page.wait_for_url("**/login/**")

        # The password, then the passkey: in, and the director sees TEST (the rule wants a second factor).
        _sign_in_with_password(page, f"{server}/productions/TEST/")
        page.wait_for_url("**/login/code/**")
        page.click("#passkey-verification-button")
        page.wait_for_url(f"{server}/productions/TEST/")
        expect(page.locator("main")).to_contain_text("Your roles: director")

        # Removing it takes a current code: none refused, a recovery code accepted.
        page.goto(f"{server}/account/security/")
        page.fill("li.passkey input[name=current_code]", "000000")
        page.click("li.passkey button")
        expect(page.locator("#error")).to_contain_text("recovery code")
        expect(page.locator("li.passkey")).to_have_count(1)
        page.fill("li.passkey input[name=current_code]", codes[0])
        page.click("li.passkey button")
        expect(page.locator("#passkey-status")).to_have_text("You have no passkey.")
        assert page.evaluate("window.__violations") == []
        browser.close()

    assert not WebAuthnCredential.objects.exists()
    actions = list(AuditEvent.objects.filter(production=production, action__startswith="account.")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["account.passkey_add", "account.recovery_codes_make", "account.recovery_code_use",
                       "account.passkey_remove"]

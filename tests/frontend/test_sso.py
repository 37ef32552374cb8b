"""Single sign-on against a real, certified OpenID Provider: the npm package ``oidc-provider``
started by the test as a Node process (``tests/oidc/provider.mjs``; ``npm ci`` there on first use).

In real Chromium a person signs in through the provider's own login and consent pages and lands
in the portal with an account made just in time; given a director's role in Loupe, the
provider's ``amr`` decides whether the MFA-by-role rule (``LOUPE_MFA_REQUIRED_ROLES``) lets them
into the production; signing out of Loupe ends the provider's session too; each sign-in is in
the audit trail. A forged authorization code and ID tokens that do not verify (altered, another
client's, another nonce) are refused. The provider's ``groups`` claim gives and takes away
production roles (``LOUPE_OIDC_ROLES_CLAIM``), leaving roles given in Loupe alone."""
import base64
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousOperation

from reviews.models import AuditEvent, Role, SingleSignOnIdentity
from reviews.services.productions import membership_add
from tests.conftest import _free_port, _stop, wait_for_port

from .browser import launch
from .test_content_security_policy import LISTEN
from .test_live_progress import in_thread

pytestmark = [pytest.mark.django_db(transaction=True)]

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc"
SECRET = "loupe-test-client-secret-0123456789"
#: The provider's accounts: one whose sign-in took a second factor (RFC 8176 ``mfa``), one not.
ACCOUNTS = {
    "dana": {"password": "idp-pw-dana", "amr": ["pwd", "otp", "mfa"],
             "claims": {"sub": "248289761001", "preferred_username": "dana", "email": "dana@studio.test",
                        "email_verified": True, "given_name": "Dana", "family_name": "Reyes"}},
    "eve": {"password": "idp-pw-eve", "amr": ["pwd"],
            "claims": {"sub": "248289761002", "preferred_username": "eve", "email": "eve@studio.test"}},
    # The directory's groups give production roles where LOUPE_OIDC_ROLES_CLAIM="groups" (ADR 0012):
    # roles in TEST, a production Loupe does not have, a role Loupe does not have, other groups.
    "lee": {"password": "idp-pw-lee", "amr": ["pwd"],
            "claims": {"sub": "248289761003", "preferred_username": "lee", "email": "lee@studio.test",
                       "groups": ["loupe:TEST:supervisor", "loupe:TEST:director", "loupe:NOPE:director",
                                  "loupe:TEST:captain", "editorial", "vpn-users"]}},
}


@pytest.fixture
def oidc_provider(tmp_path):
    """Starts the provider for a relying party at ``loupe_url`` (``start(loupe_url)`` → issuer);
    stopped after the test."""
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True, timeout=300)
    started = []

    def start(loupe_url: str, port: int) -> str:
        issuer = f"http://127.0.0.1:{port}"
        config = {"port": port, "issuer": issuer, "accounts": ACCOUNTS, "clients": [{
            "client_id": "loupe", "client_secret": SECRET, "token_endpoint_auth_method": "client_secret_post",
            "redirect_uris": [f"{loupe_url}/oidc/callback/"], "post_logout_redirect_uris": [f"{loupe_url}/login/"],
            "backchannel_logout_uri": f"{loupe_url}/oidc/backchannel-logout/",
            "backchannel_logout_session_required": True}]}
        path = tmp_path / f"provider-{port}.json"
        path.write_text(json.dumps(config))
        process = subprocess.Popen(["node", str(PROVIDER_DIR / "provider.mjs"), str(path)], cwd=PROVIDER_DIR,
                                   stdout=subprocess.DEVNULL, stderr=(tmp_path / f"provider-{port}.log").open("w"))
        started.append(process)
        wait_for_port(port, process, "The OpenID Provider")
        return issuer

    yield start
    for process in started:
        _stop(process)


@pytest.fixture
def studio_sso(start_web_process, oidc_provider):
    """A web process signing people in with the provider (and the default MFA-by-role rule) and
    the provider itself: (Loupe's base URL, the issuer)."""
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    url = start_web_process(LOUPE_OIDC_ISSUER=issuer, LOUPE_OIDC_CLIENT_ID="loupe", LOUPE_OIDC_CLIENT_SECRET=SECRET,
                            LOUPE_OIDC_PROVIDER_NAME="Studio", LOUPE_MFA_REQUIRED_ROLES="director,supervisor,producer")
    oidc_provider(url, port)
    return url, issuer


def _provider_sign_in(page, login: str) -> None:
    """On the provider's pages: its login form, then (first time) its consent page."""
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", ACCOUNTS[login]["password"])
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if page.locator("button:has-text('Continue')").count():
        page.click("button:has-text('Continue')")


@pytest.mark.browser
def test_people_sign_in_with_the_studio_provider_and_its_amr_decides_the_second_factor(studio_sso, production,
                                                                                     people):
    """A forged code first; then Dana (MFA at the provider) and Eve (password only) in Chromium."""
    from playwright.sync_api import expect, sync_playwright

    loupe, issuer = studio_sso
    # A code the provider never issued: refused with the reason, no session, no account.
    session = requests.Session()
    start = session.get(f"{loupe}/oidc/authenticate/", allow_redirects=False)
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    refused = session.get(f"{loupe}/oidc/callback/", params={"code": "forged-code", "state": state})
    assert refused.url == f"{loupe}/login/"
    assert "did not work" in refused.text
    assert session.get(f"{loupe}/account/security/", allow_redirects=False).status_code == 302  # not signed in
    assert User.objects.count() == len(people)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context()
        context.add_init_script(LISTEN)
        page = context.new_page()
        page.goto(f"{loupe}/productions/TEST/")
        page.click("text=Sign in with Studio")
        _provider_sign_in(page, "dana")
        page.wait_for_url(f"{loupe}/productions/TEST/")
        # Made just in time, with no role: TEST answers as a production that does not exist.
        dana = in_thread(lambda: User.objects.get(username="dana"))
        assert (dana.email, dana.first_name, dana.has_usable_password()) == ("dana@studio.test", "Dana", False)
        identity = in_thread(lambda: SingleSignOnIdentity.objects.get(user=dana))
        assert identity.subject == ACCOUNTS["dana"]["claims"]["sub"]
        expect(page.locator("main")).to_contain_text("not")
        assert page.evaluate("window.__violations") == []

        # Roles are given in Loupe. Signing out ends the provider's session too: the next
        # sign-in asks for the password again.
        in_thread(lambda: membership_add(production=production, user=dana, role=Role.DIRECTOR,
                                         actor=people["producer"]))
        page.click("form.signout button")
        page.click("button:has-text('Yes, sign me out')")
        page.wait_for_url(f"{loupe}/login/")
        page.goto(f"{loupe}/productions/TEST/")
        page.click("text=Sign in with Studio")
        _provider_sign_in(page, "dana")
        page.wait_for_url(f"{loupe}/productions/TEST/")
        # The provider's amr names "mfa": a director, who must sign in with a second factor, is in.
        expect(page.locator("main")).to_contain_text("Your roles: director")
        assert page.evaluate("window.__violations") == []
        browser.close()

        # Eve's provider sign-in took the password alone: as a director she is refused the production.
        browser = launch(playwright)
        page = browser.new_page()
        page.goto(f"{loupe}/login/")
        page.click("text=Sign in with Studio")
        _provider_sign_in(page, "eve")
        page.wait_for_url(f"{loupe}/")
        in_thread(lambda: membership_add(production=production, user=User.objects.get(username="eve"),
                                         role=Role.DIRECTOR, actor=people["producer"]))
        response = page.goto(f"{loupe}/productions/TEST/")
        assert response.status == 403
        expect(page.locator("main")).to_contain_text("second factor")
        browser.close()

    signed_in = AuditEvent.objects.get(production=production, action="account.sso_sign_in")
    assert (signed_in.actor, signed_in.payload) == (dana, {"issuer": issuer, "second_factor": True})


def _authorization_code(session: requests.Session, authorize_url: str, login: str) -> str:
    """Through the provider's login and consent forms without a browser; the code it sends back."""
    response = session.get(authorize_url, allow_redirects=True)
    for prompt, fields in (("login", {"login": login, "password": ACCOUNTS[login]["password"]}), ("consent", {})):
        response = session.post(response.url, data={"prompt": prompt, **fields}, allow_redirects=False)
        while response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            if "code=" in target:
                return parse_qs(urlsplit(target).query)["code"][0]
            response = session.get(target, allow_redirects=False)
    raise AssertionError(f"no code from the provider: {response.status_code} {response.text[:300]}")


def test_id_tokens_that_do_not_verify_are_refused(oidc_provider, settings):
    from frontend.sso import StudioOIDCBackend

    port = _free_port()
    relying_party = "http://127.0.0.1:1"  # never visited: the code is read from the redirect
    issuer = oidc_provider(relying_party, port)
    settings.LOUPE_OIDC_ISSUER, settings.LOUPE_OIDC_CLIENT_ID = issuer, "loupe"
    settings.LOUPE_OIDC_CLIENT_SECRET = SECRET
    session = requests.Session()
    code = _authorization_code(session, f"{issuer}/auth?" + urlencode({
        "client_id": "loupe", "response_type": "code", "scope": "openid email profile", "nonce": "n-0S6_WzA2Mj",
        "redirect_uri": f"{relying_party}/oidc/callback/", "state": "s"}), "eve")
    tokens = requests.post(f"{issuer}/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": f"{relying_party}/oidc/callback/",
        "client_id": "loupe", "client_secret": SECRET}, timeout=10).json()
    id_token = tokens["id_token"]

    backend = StudioOIDCBackend().configured()
    claims = backend.verify_token(id_token, nonce="n-0S6_WzA2Mj")
    assert (claims["sub"], claims["amr"]) == (ACCOUNTS["eve"]["claims"]["sub"], ["pwd"])

    header, payload, signature = id_token.split(".")
    altered = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    altered["sub"] = ACCOUNTS["dana"]["claims"]["sub"]
    forged = ".".join([header, base64.urlsafe_b64encode(json.dumps(altered).encode()).decode().rstrip("="),
                       signature])
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(forged, nonce="n-0S6_WzA2Mj")
    with pytest.raises(SuspiciousOperation, match="Nonce"):
        backend.verify_token(id_token, nonce="another-sign-in")
    settings.LOUPE_OIDC_CLIENT_ID = "another-client"
    with pytest.raises(SuspiciousOperation, match="another client"):
        backend.verify_token(id_token, nonce="n-0S6_WzA2Mj")


def _studio_sign_in(client, login: str, next_url: str = "/productions/TEST/"):
    """Through Loupe's /oidc/authenticate/, the provider's forms and Loupe's callback with
    Django's test client; the callback's response."""
    authorize = client.get("/oidc/authenticate/", {"next": next_url}).headers["Location"]
    callback = f"http://testserver/oidc/callback/?code=%s&state={parse_qs(urlsplit(authorize).query)['state'][0]}"
    return client.get(callback % _authorization_code(requests.Session(), authorize, login))


def test_the_providers_groups_claim_gives_and_takes_away_production_roles(oidc_provider, settings, production,
                                                                         people, tmp_path, caplog):
    """LOUPE_OIDC_ROLES_CLAIM="groups", against the real provider: Lee's first sign-in gives the
    roles his groups name in TEST (the unknown production and role are logged, the sign-in goes
    on); a producer then gives him the artist role in Loupe and the director role he already had
    from the provider; with his groups changed at the provider, his next sign-in takes away the
    supervisor role it no longer names, and leaves the roles given in Loupe. Each change is in
    TEST's trail."""
    from django.test import Client

    from reviews.models import Membership

    port = _free_port()
    issuer = oidc_provider("http://testserver", port)
    settings.LOUPE_OIDC_ISSUER, settings.LOUPE_OIDC_CLIENT_ID = issuer, "loupe"
    settings.LOUPE_OIDC_CLIENT_SECRET, settings.LOUPE_OIDC_ROLES_CLAIM = SECRET, "groups"

    def roles():
        return {(m.role, m.granted_by_issuer) for m in Membership.objects.filter(user__username="lee")}

    caplog.set_level("WARNING", logger="reviews.services.accounts")
    assert _studio_sign_in(Client(), "lee").headers["Location"] == "/productions/TEST/"
    assert roles() == {("supervisor", issuer), ("director", issuer)}
    assert "loupe:TEST:captain" in caplog.text and "loupe:NOPE:director" in caplog.text
    lee = User.objects.get(username="lee")
    membership_add(production=production, user=lee, role=Role.ARTIST, actor=people["producer"])
    membership_add(production=production, user=lee, role=Role.DIRECTOR, actor=people["producer"])
    assert roles() == {("supervisor", issuer), ("director", ""), ("artist", "")}

    config_path = tmp_path / f"provider-{port}.json"
    config = json.loads(config_path.read_text())
    config["accounts"]["lee"]["claims"]["groups"] = ["loupe:TEST:artist", "editorial"]
    config_path.write_text(json.dumps(config))
    client = Client()
    assert _studio_sign_in(client, "lee").headers["Location"] == "/productions/TEST/"
    assert roles() == {("director", ""), ("artist", "")}
    assert client.get("/productions/TEST/").status_code == 200

    trail = [(event.action, event.actor_id, event.payload) for event in
             AuditEvent.objects.filter(production=production, action__startswith="membership.",
                                       payload__user="lee").order_by("id")]
    assert trail == [
        ("membership.add", None, {"user": "lee", "role": "director", "granted_by": issuer}),
        ("membership.add", None, {"user": "lee", "role": "supervisor", "granted_by": issuer}),
        ("membership.add", people["producer"].pk, {"user": "lee", "role": "artist"}),
        ("membership.add", people["producer"].pk, {"user": "lee", "role": "director", "was_granted_by": issuer}),
        ("membership.remove", None, {"user": "lee", "role": "supervisor", "granted_by": issuer}),
    ]


def test_a_sign_out_at_the_provider_ends_that_loupe_session(start_web_process, oidc_provider, production, people):
    """Back-Channel Logout 1.0 against the real provider and a Loupe web process: Eve signs in
    on two devices (two provider sessions, two ``sid``); a logout token Loupe cannot verify is
    refused (400) and ends nothing; when she signs out at the provider on one device, the
    provider's logout token ends that device's Loupe session only, audited in TEST's trail."""
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    loupe = start_web_process(LOUPE_OIDC_ISSUER=issuer, LOUPE_OIDC_CLIENT_ID="loupe", LOUPE_OIDC_CLIENT_SECRET=SECRET)
    oidc_provider(loupe, port)

    def device_signed_in() -> requests.Session:
        device = requests.Session()
        authorize = device.get(f"{loupe}/oidc/authenticate/", allow_redirects=False).headers["Location"]
        state = parse_qs(urlsplit(authorize).query)["state"][0]
        device.get(f"{loupe}/oidc/callback/", params={"code": _authorization_code(device, authorize, "eve"),
                                                      "state": state})
        return device

    def signed_in(device: requests.Session) -> bool:
        return device.get(f"{loupe}/account/security/", allow_redirects=False).status_code == 200

    laptop = device_signed_in()
    membership_add(production=production, user=User.objects.get(username="eve"), role=Role.ARTIST,
                   actor=people["producer"])
    phone = device_signed_in()
    assert signed_in(laptop) and signed_in(phone)
    unsigned = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIyNDgyODk3NjEwMDIifQ.c2lnbmF0dXJl"
    refused = requests.post(f"{loupe}/oidc/backchannel-logout/", data={"logout_token": unsigned}, timeout=10)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_request")
    assert signed_in(laptop) and signed_in(phone)

    confirm = laptop.get(f"{issuer}/session/end")
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text).group(1)
    laptop.post(f"{issuer}/session/end/confirm", data={"xsrf": xsrf, "logout": "yes"}, allow_redirects=False)
    assert not signed_in(laptop)
    assert signed_in(phone)
    ended = AuditEvent.objects.get(production=production, action="account.sso_logout")
    assert ended.payload["issuer"] == issuer and ended.payload["sessions"] == 1 and ended.payload["sid"]


def test_a_studio_sign_in_without_mfa_asks_for_the_persons_own_authenticator_app(oidc_provider, settings, production,
                                                                                people):
    """In this process (Django's test client) against the real provider: Eve's provider sign-in
    took the password alone; once she has her own authenticator app in Loupe, the studio sign-in
    goes on to its code, and only then is she signed in — verified, so TEST lets its director in."""
    from django.test import Client

    from tests.reviews.test_mfa import code_from_secret, enrol

    port = _free_port()
    issuer = oidc_provider("http://testserver", port)
    settings.LOUPE_OIDC_ISSUER, settings.LOUPE_OIDC_CLIENT_ID = issuer, "loupe"
    settings.LOUPE_OIDC_CLIENT_SECRET = SECRET
    settings.LOUPE_MFA_REQUIRED_ROLES = ["director"]

    client = Client()
    assert _studio_sign_in(client, "eve").headers["Location"] == "/productions/TEST/"  # in, without a second factor
    eve = User.objects.get(username="eve")
    membership_add(production=production, user=eve, role=Role.DIRECTOR, actor=people["producer"])
    assert client.get("/productions/TEST/").status_code == 403
    secret = enrol(client)
    client.post("/logout/")

    client = Client()
    step = _studio_sign_in(client, "eve")
    assert step.headers["Location"].startswith("/login/code/")
    assert client.get("/productions/TEST/").status_code == 302  # not signed in until the code
    signed_in = client.post(step.headers["Location"], {"otp_token": code_from_secret(secret, steps_ahead=1),
                                                        "next": "/productions/TEST/"})
    assert signed_in.headers["Location"] == "/productions/TEST/"
    assert client.get("/productions/TEST/").status_code == 200

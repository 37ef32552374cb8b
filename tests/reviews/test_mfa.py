"""Multi-factor sign-in (TOTP, RFC 6238, through django-otp), a production's "require MFA of
members", API tokens and login throttling — through the real sign-in pages, the API and the
WebSocket routing, with codes computed by django-otp's own TOTP from the secret the enrolment
page shows (what an authenticator app does)."""
import base64
import re
import time

import pytest
from django.conf import settings
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from reviews.consumers import CLOSE_FORBIDDEN
from reviews.models import AuditEvent, Clip
from reviews.services.audit import audit_verify
from reviews.services.productions import production_require_mfa

from .helpers import websocket_handshake

pytestmark = pytest.mark.django_db

MESSAGE = "TEST requires multi-factor sign-in of its members"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The hash of passwords is not under test here; PBKDF2's 10⁶ rounds would be most of its time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def code_from_secret(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for ``secret`` (base32, as the page shows it),
    ``steps_ahead`` 30-second steps from now (each code is accepted once, so a second sign-in
    within one step uses the next step's, inside django-otp's tolerance of one step)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key, step=30, t0=0, digits=6)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def sign_in(client: Client, username: str, password: str | None = None):
    return client.post("/login/", {"username": username, "password": password or f"pw-{username}", "next": "/"})


def enrol(client: Client) -> str:
    """Set up an authenticator app through the account security page; returns its secret."""
    page = client.post("/account/security/", {"action": "enrol"}).content.decode()
    assert "<svg" in page  # the QR code of the otpauth:// URI
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    page = client.post("/account/security/", {"action": "confirm", "otp_token": code_from_secret(secret)})
    assert "this session is signed in with it" in page.content.decode()
    return secret


def test_enrolment_then_sign_in_takes_the_password_and_then_the_current_code(people):
    client = Client()
    assert sign_in(client, "artist").url == "/"  # no app yet: the password alone signs in
    page = client.post("/account/security/", {"action": "enrol"}).content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    device = TOTPDevice.objects.get(user=people["artist"])
    assert not device.confirmed and base64.b32encode(device.bin_key).decode().rstrip("=") == secret
    wrong = client.post("/account/security/", {"action": "confirm", "otp_token": "000000"}).content.decode()
    assert "That code is not the one the app shows now" in wrong
    time.sleep(1.1)  # django-otp throttles a device for 1 s after a wrong code
    first_code = code_from_secret(secret)
    page = client.post("/account/security/", {"action": "confirm", "otp_token": first_code})
    assert "this session is signed in with it" in page.content.decode()
    device.refresh_from_db()
    assert device.confirmed

    client.post("/logout/")
    fresh = Client()
    response = sign_in(fresh, "artist")
    assert response.status_code == 302 and response.url.startswith("/login/code/")
    assert fresh.get("/").url.startswith("/login/")  # the password alone did not sign in
    refused = fresh.post("/login/code/", {"otp_token": "123456", "next": "/"})
    assert "That code is not the one your authenticator app shows now" in refused.content.decode()
    time.sleep(1.1)
    replay = fresh.post("/login/code/", {"otp_token": first_code, "next": "/"})
    assert replay.status_code == 200  # the code that confirmed the app is not accepted twice
    time.sleep(2.1)  # two failures: 2 s
    signed_in = fresh.post("/login/code/", {"otp_token": code_from_secret(secret, 1), "next": "/productions/TEST/"})
    assert signed_in.status_code == 302 and signed_in.url == "/productions/TEST/"
    assert fresh.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert fresh.get("/").status_code == 200


def test_a_production_requiring_mfa_refuses_members_without_it_everywhere(production, people):
    clip = Clip.objects.create(production=production, name="plate.mov", source_path="/nowhere/plate.mov",
                               checksum_sha256="a" * 64, size_bytes=1, codec="h264", width=64, height=64,
                               frame_rate_num=24, frame_rate_den=1, frame_count=48)
    producer = Client()
    sign_in(producer, "producer")
    refused = producer.post("/api/productions/TEST/security/", {"require_mfa": True}, content_type="application/json")
    assert refused.status_code == 403 and "Sign in with an authenticator app yourself" in refused.json()["detail"]
    enrol(producer)
    assert producer.post("/api/productions/TEST/security/", {"require_mfa": True},
                         content_type="application/json").json() == {"require_mfa": True}
    production.refresh_from_db()
    assert production.require_mfa
    assert producer.get("/api/productions/TEST/shots/").status_code == 200  # verified: in

    artist = Client()
    sign_in(artist, "artist")
    page = artist.get("/productions/TEST/")
    assert page.status_code == 403 and MESSAGE in page.content.decode()
    api = artist.get("/api/productions/TEST/shots/")
    assert api.status_code == 403 and api.json()["detail"].startswith(MESSAGE)
    assert artist.get(f"/media/clips/{clip.pk}/thumbnail.jpg").status_code == 403
    assert "TEST" not in [p["code"] for p in artist.get("/api/productions/").json()["results"]]
    assert MESSAGE.split(" requires")[0] in artist.get("/").content.decode()  # listed with the reason
    # An outsider learns nothing: the same 404 as a production that does not exist.
    outsider = Client()
    sign_in(outsider, "outsider")
    assert outsider.get("/api/productions/TEST/shots/").json() == outsider.get("/api/productions/NOPE/shots/").json()

    # With a second factor the artist is in.
    enrol(artist)
    assert artist.get("/productions/TEST/").status_code == 200
    assert artist.get("/api/productions/TEST/shots/").status_code == 200

    denied = AuditEvent.objects.filter(production=production, action="access.denied")
    assert {e.payload["reason"] for e in denied} >= {"second factor", "not a member"}
    assert audit_verify(production=production) == []


def test_api_tokens_carry_the_second_factor_of_the_session_that_made_them(production, people):
    director = Client()
    sign_in(director, "director")
    made = director.post("/api/account/token/")
    assert made.status_code == 201
    token = {"HTTP_AUTHORIZATION": f"Token {made.json()['key']}"}
    assert Client().get("/api/productions/TEST/shots/", **token).status_code == 200
    assert director.get("/api/account/token/").json()["exists"] is True

    production_require_mfa_as_verified_producer(production, people)
    # A token of a person without an app does not pass a production that requires one.
    refused = Client().get("/api/productions/TEST/shots/", **token)
    assert refused.status_code == 403 and refused.json()["detail"].startswith(MESSAGE)

    enrol(director)  # enrolling revokes the token made without the second factor
    assert not Token.objects.filter(user=people["director"]).exists()
    assert Client().get("/api/productions/TEST/shots/", **token).status_code in (401, 403)
    token = {"HTTP_AUTHORIZATION": f"Token {director.post('/api/account/token/').json()['key']}"}
    assert Client().get("/api/productions/TEST/shots/", **token).status_code == 200
    # …and it goes through the same role checks as a session.
    refused = Client().post("/api/productions/TEST/fix-requests/", {}, content_type="application/json", **token)
    assert refused.status_code == 403 and "may file fix requests" in refused.json()["detail"]

    unverified = Client()
    unverified.force_login(people["director"])  # a session signed in before the app was set up
    refused = unverified.post("/api/account/token/")
    assert refused.status_code == 403 and "authenticator app's code" in refused.json()["detail"]
    assert director.delete("/api/account/token/").status_code == 204
    assert Client().get("/api/productions/TEST/shots/", **token).status_code in (401, 403)
    assert {"account.token_create", "account.token_revoke", "account.mfa_enrol"} <= set(
        AuditEvent.objects.filter(production=production, actor=people["director"]).values_list("action", flat=True))


def production_require_mfa_as_verified_producer(production, people):
    producer = people["producer"]
    producer.otp_device = TOTPDevice.objects.create(user=producer, name="app", confirmed=True)
    producer.is_verified = lambda: True
    production_require_mfa(production=production, actor=producer, required=True)


def test_sign_in_is_refused_after_too_many_failures(people):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "director", "wrong").status_code == 200
    assert sign_in(client, "director", "wrong").status_code == 429  # the limit-th failure locks
    locked = sign_in(client, "director")  # the right password, too late
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
    assert not client.session.get("_auth_user_id")
    assert sign_in(Client(), "artist").status_code == 302  # another person is not held back


@pytest.mark.django_db(transaction=True)
def test_websockets_of_a_production_requiring_mfa_need_a_verified_session(production, people):
    production_require_mfa_as_verified_producer(production, people)
    device = TOTPDevice.objects.get(user=people["producer"])

    def connect(verified: bool):
        client = Client()
        client.force_login(people["producer"])
        if verified:
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
        return websocket_handshake("/ws/productions/TEST/", [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1"),
                                                             (b"cookie", cookie)])

    assert connect(verified=False) == (False, CLOSE_FORBIDDEN)
    assert connect(verified=True)[0] is True


def test_an_administrator_turning_require_mfa_on_is_in_the_audit_trail(production):
    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    from reviews.admin import ProductionAdmin
    from reviews.models import Production

    request = RequestFactory().post("/admin/")
    request.user = User.objects.create_superuser("it-admin")
    model_admin = ProductionAdmin(Production, admin.site)
    form = model_admin.get_form(request, production, change=True)(
        data={"code": "TEST", "name": production.name, "require_mfa": "on"}, instance=production)
    assert form.is_valid(), form.errors
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    production.refresh_from_db()
    assert production.require_mfa
    event = AuditEvent.objects.get(production=production, action="production.require_mfa")
    assert event.actor == request.user and event.payload == {"require_mfa": True, "via": "admin"}


ROLE_MESSAGE = "Directors, post supervisors and producers of TEST sign in with a second factor"


def test_directors_supervisors_and_producers_need_a_second_factor_by_default(second_factor_by_role, production,
                                                                               people):
    for role in ("director", "supervisor", "producer"):
        client = Client()
        sign_in(client, role)
        page = client.get("/productions/TEST/")
        assert page.status_code == 403 and ROLE_MESSAGE in page.content.decode(), role
        api = client.get("/api/productions/TEST/shots/")
        assert api.status_code == 403 and api.json()["detail"].startswith(ROLE_MESSAGE), role
        assert "TEST" not in [p["code"] for p in client.get("/api/productions/").json()["results"]]
        assert "needs you to sign in with a second factor" in client.get("/").content.decode()
    for role in ("artist", "performer"):  # not asked of them unless the production requires it
        client = Client()
        sign_in(client, role)
        assert client.get("/productions/TEST/").status_code == 200, role
    director = Client()
    sign_in(director, "director")
    enrol(director)
    assert director.get("/productions/TEST/").status_code == 200
    assert director.get("/api/productions/TEST/shots/").status_code == 200


def test_an_empty_setting_relaxes_the_second_factor_by_role(production, people):
    # The suite runs relaxed (tests/conftest.py), as the embedded demo does.
    assert settings.LOUPE_MFA_REQUIRED_ROLES == []
    director = Client()
    sign_in(director, "director")
    assert director.get("/productions/TEST/").status_code == 200


def test_the_settings_default_asks_directors_supervisors_and_producers_for_a_second_factor():
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    environment = {key: value for key, value in os.environ.items() if key != "LOUPE_MFA_REQUIRED_ROLES"}
    printed = subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                              "print(','.join(settings.LOUPE_MFA_REQUIRED_ROLES))"],
                             cwd=REPO, env=environment | {"DJANGO_SETTINGS_MODULE": "portal.settings"},
                             capture_output=True, text=True, check=True)
    assert printed.stdout.split() == ["director,supervisor,producer"]
    refused = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=REPO,
                             env=environment | {"DJANGO_SETTINGS_MODULE": "portal.settings",
                                                "LOUPE_MFA_REQUIRED_ROLES": "director,boss"},
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "names no such role: boss" in refused.stderr

"""Replacing or removing a sign-in factor (issue #23, hole 2): it needs a current code of the
factor the person has, so a session signed in without it (a stolen password, a session from
before the app was set up) cannot swap the app for its own; each change is audited in the
person's productions and told to them by email. Through the real account security page, with
codes computed from the devices' keys as an authenticator app does."""
import hashlib
import re
import time

import pytest
from django.core import mail
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from reviews.models import AuditEvent, RecoveryCode, RecoveryCodeDevice

from .helpers import signed_in, signed_in_with_second_factor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def code_of(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


@pytest.fixture
def director(production, people):
    """The director of TEST, with an email address and an authenticator app."""
    user = people["director"]
    user.email = "director@example.com"
    user.save(update_fields=["email"])
    TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return user


def _actions(production) -> list[str]:
    return list(AuditEvent.objects.filter(production=production, action__startswith="account.")
                .values_list("action", flat=True))


def test_a_session_without_the_second_factor_cannot_enrol_an_app_in_place_of_the_real_one(director, production):
    real = TOTPDevice.objects.get(user=director)
    intruder = signed_in(director)  # the password alone, or a session from before the app was set up
    refused = intruder.post("/account/security/", {"action": "enrol"})
    assert "Enter the code your current authenticator app shows now" in refused.content.decode()
    assert "<svg" not in refused.content.decode()
    time.sleep(1.1)  # django-otp throttles the device for 1 s after a wrong code
    wrong = intruder.post("/account/security/", {"action": "enrol", "current_code": "123456"})
    assert "Enter the code your current authenticator app shows now" in wrong.content.decode()
    real.refresh_from_db()
    assert real.throttling_failure_count == 1  # guessing is throttled: the failure is kept
    confirm = intruder.post("/account/security/", {"action": "confirm", "otp_token": "123456"})
    assert "There is no authenticator app being set up" in confirm.content.decode()
    assert list(TOTPDevice.objects.filter(user=director)) == [real]  # the real app stays, alone
    assert _actions(production) == [] and mail.outbox == []


def test_a_verified_session_too_replaces_the_app_only_with_its_current_code(director, production):
    assert "Enter the code" in signed_in_with_second_factor(director).post(
        "/account/security/", {"action": "enrol"}).content.decode()


def test_replacing_the_app_with_its_current_code_is_audited_and_told_by_email(
        director, production, django_capture_on_commit_callbacks):
    old = TOTPDevice.objects.get(user=director)
    client = signed_in(director)
    page = client.post("/account/security/", {"action": "enrol", "current_code": code_of(old)}).content.decode()
    assert "<svg" in page and re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    new = TOTPDevice.objects.get(user=director, confirmed=False)
    # Another session of the person cannot confirm the enrolment this one started.
    other = signed_in(director)
    assert "There is no authenticator app being set up" in other.post(
        "/account/security/", {"action": "confirm", "otp_token": code_of(new)}).content.decode()
    time.sleep(1.1)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/account/security/", {"action": "confirm", "otp_token": code_of(new, 1)})
    assert "this session is signed in with it" in done.content.decode()
    assert list(TOTPDevice.objects.filter(user=director)) == [new] and TOTPDevice.objects.get(pk=new.pk).confirmed
    assert _actions(production) == ["account.mfa_replace"]
    (notice,) = mail.outbox
    assert notice.to == ["director@example.com"] and "replaced" in notice.subject


def test_removing_the_app_needs_its_current_code_and_is_audited_and_told_by_email(
        director, production, django_capture_on_commit_callbacks):
    device = TOTPDevice.objects.get(user=director)
    client = signed_in_with_second_factor(director)
    refused = client.post("/account/security/", {"action": "remove", "current_code": "000000"})
    assert "Enter the code your current authenticator app shows now" in refused.content.decode()
    assert TOTPDevice.objects.filter(user=director).exists()
    time.sleep(1.1)
    with django_capture_on_commit_callbacks(execute=True):
        removed = client.post("/account/security/", {"action": "remove", "current_code": code_of(device)})
    assert "Removed. Not set up" in removed.content.decode()
    assert not TOTPDevice.objects.filter(user=director).exists()
    assert _actions(production) == ["account.mfa_remove"]
    (notice,) = mail.outbox
    assert notice.to == ["director@example.com"] and "removed" in notice.subject


def test_an_administrator_resetting_a_lost_app_is_audited_and_told_by_email(
        director, production, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import User

    administrator = User.objects.create_superuser("it-admin")
    device = TOTPDevice.objects.get(user=director)
    admin = signed_in_with_second_factor(administrator)
    assert admin.post("/admin/otp_totp/totpdevice/add/", {}).status_code == 403  # never made here
    assert "key" not in admin.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").context["adminform"].form.fields
    with django_capture_on_commit_callbacks(execute=True):
        deleted = admin.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not TOTPDevice.objects.filter(user=director).exists()
    event = AuditEvent.objects.get(production=production, action="account.mfa_reset")
    assert event.actor == administrator
    (notice,) = mail.outbox
    assert notice.to == ["director@example.com"] and "administrator" in notice.subject


def _make_codes(client: Client) -> list[str]:
    page = client.post("/account/security/", {"action": "recovery_codes"}).content.decode()
    return re.findall(r"<li><code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</code></li>", page)


def test_recovery_codes_are_shown_once_and_kept_only_as_hashes(director, production):
    assert _make_codes(signed_in(director)) == []  # a session without the second factor makes none
    assert not RecoveryCodeDevice.objects.exists()
    client = signed_in_with_second_factor(director)
    codes = _make_codes(client)
    assert len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(device__user=director).values_list("code_sha256", flat=True))
    assert sorted(stored) == sorted(hashlib.sha256(code.replace("-", "").encode()).hexdigest() for code in codes)
    page = client.get("/account/security/").content.decode()
    assert "10 unused recovery codes left" in page and not any(code in page for code in codes)
    newer = _make_codes(client)  # new codes replace the old ones
    assert RecoveryCode.objects.filter(code_sha256__in=stored).count() == 0 and len(newer) == 10
    assert _actions(production) == ["account.recovery_codes_make"] * 2


def test_a_recovery_code_signs_in_once_in_place_of_the_app(director, production, second_factor_by_role,
                                                           django_capture_on_commit_callbacks):
    codes = _make_codes(signed_in_with_second_factor(director))
    client = Client()
    step_one = client.post("/login/", {"username": "director", "password": "pw-director", "next": "/productions/TEST/"})
    assert step_one.url.startswith("/login/code/")
    with django_capture_on_commit_callbacks(execute=True):
        signed = client.post("/login/code/", {"otp_token": codes[0].lower(), "next": "/productions/TEST/"})
    assert signed.status_code == 302 and signed.url == "/productions/TEST/"
    assert client.get("/productions/TEST/").status_code == 200  # a director, verified by the code
    event = AuditEvent.objects.get(production=production, action="account.recovery_code_use")
    assert event.payload == {"for": "sign-in", "left": 9}
    (notice,) = mail.outbox
    assert notice.to == ["director@example.com"] and "recovery code" in notice.subject

    again = Client()
    again.post("/login/", {"username": "director", "password": "pw-director", "next": "/"})
    replay = again.post("/login/code/", {"otp_token": codes[0], "next": "/"})
    assert replay.status_code == 200 and "or an unused recovery code" in replay.content.decode()
    assert again.get("/").url.startswith("/login/")  # not signed in: each code works once


def test_a_recovery_code_replaces_a_lost_app(director, production):
    codes = _make_codes(signed_in_with_second_factor(director))
    lost = TOTPDevice.objects.get(user=director, confirmed=True)
    client = signed_in(director)
    page = client.post("/account/security/", {"action": "enrol", "current_code": codes[3]}).content.decode()
    assert "<svg" in page
    new = TOTPDevice.objects.get(user=director, confirmed=False)
    assert "this session is signed in with it" in client.post(
        "/account/security/", {"action": "confirm", "otp_token": code_of(new)}).content.decode()
    assert list(TOTPDevice.objects.filter(user=director)) == [new] and lost.pk != new.pk
    assert _actions(production)[-2:] == ["account.recovery_code_use", "account.mfa_replace"]
    # Removing the app removes the recovery codes with it.
    client.post("/account/security/", {"action": "remove", "current_code": codes[4]})
    assert not TOTPDevice.objects.filter(user=director).exists() and not RecoveryCodeDevice.objects.exists()

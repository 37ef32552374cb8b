"""Replacing or removing a sign-in factor (issue #23, hole 2): it needs a current code of the
factor the person has, so a session signed in without it (a stolen password, a session from
before the app was set up) cannot swap the app for its own; each change is audited in the
person's productions and told to them by email. Through the real account security page, with
codes computed from the devices' keys as an authenticator app does."""
import re
import time

import pytest
from django.core import mail
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from reviews.models import AuditEvent

from .helpers import signed_in, signed_in_with_second_factor

pytestmark = pytest.mark.django_db


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

"""The admin is no way around the second factor, the services or the audit trail (issue #23,
hole 1): the probe's steps against the real admin URLs — a superuser with an authenticator app
cannot get an admin session with the password alone, and the change form cannot set a
proposal's state — and what an administrator may set up goes through services, audited."""
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from reviews.models import AuditEvent, Membership, Proposal, ProposalStatus, ReviewDecision

from .helpers import signed_in, signed_in_with_second_factor
from .test_permission_matrix import add_objects

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def administrator() -> User:
    """A superuser with an authenticator app."""
    user = User.objects.create_superuser("it-admin", password="pw-it-admin")
    TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return user


def _current_code(user: User) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits).token():06d}"


def test_a_superuser_with_an_app_gets_no_admin_session_with_the_password_alone(administrator):
    client = Client()
    # The probe: the admin's own sign-in form, password only. There is none: it sends to the
    # portal's two-step sign-in, and nothing is signed in.
    probe = client.post("/admin/login/?next=/admin/", {"username": "it-admin", "password": "pw-it-admin",
                                                        "next": "/admin/"})
    assert probe.status_code == 302 and probe.url.startswith("/login/?next=")
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").url.startswith("/admin/login/")
    # The portal's step 1 leaves the person owing the code: still no admin.
    step_one = client.post("/login/", {"username": "it-admin", "password": "pw-it-admin", "next": "/admin/"})
    assert step_one.url.startswith("/login/code/")
    assert client.get("/admin/").url.startswith("/admin/login/")
    # With the app's code, the admin opens.
    step_two = client.post("/login/code/", {"otp_token": _current_code(administrator), "next": "/admin/"})
    assert step_two.status_code == 302 and step_two.url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_staff_session_without_the_second_factor_is_refused_with_the_reason(administrator):
    unverified = signed_in(administrator)  # e.g. a session from before the app was set up
    assert unverified.get("/admin/").url.startswith("/admin/login/")
    refused = unverified.get("/admin/login/?next=/admin/")
    assert refused.status_code == 403 and "The admin needs a second factor" in refused.content.decode()
    assert unverified.get("/admin/reviews/proposal/").status_code == 302


def test_the_admin_change_form_cannot_change_a_proposals_state(production, administrator):
    proposal = Proposal.objects.get(pk=add_objects(production, "ADM")["proposal"])
    events_before = AuditEvent.objects.filter(production=production).count()
    admin = signed_in_with_second_factor(administrator)
    url = f"/admin/reviews/proposal/{proposal.pk}/change/"
    assert admin.get(url).status_code == 200  # shown, read-only
    attempt = admin.post(url, {"status": ProposalStatus.APPROVED, "version": 1, "frame_in": 0, "frame_out": 8,
                               "media_dir": "nowhere", "method": "test", "region_fraction": 0.1})
    assert attempt.status_code == 403
    assert admin.post(f"/admin/reviews/proposal/{proposal.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.post("/admin/reviews/reviewdecision/add/", {}).status_code == 403
    assert admin.post(f"/admin/reviews/fixrequest/{proposal.fix_request_id}/change/", {}).status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.IN_REVIEW
    assert not ReviewDecision.objects.exists() and not LogEntry.objects.exists()
    assert AuditEvent.objects.filter(production=production).count() == events_before


def test_memberships_set_up_in_the_admin_go_through_the_services_and_are_audited(production, people, administrator):
    admin = signed_in_with_second_factor(administrator)
    newcomer = User.objects.create_user("newcomer")
    saved = admin.post(f"/admin/reviews/production/{production.pk}/change/", {
        "require_mfa": "on",
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-user": newcomer.pk, "memberships-0-role": "artist",
    })
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert Membership.objects.filter(production=production, user=newcomer, role="artist").exists()
    events = AuditEvent.objects.filter(production=production, actor=administrator)
    assert {(e.action, tuple(sorted(e.payload.items()))) for e in events} == {
        ("membership.add", (("role", "artist"), ("user", "newcomer"))),
        ("production.require_mfa", (("require_mfa", True), ("via", "admin"))),
    }


def test_a_production_and_a_performer_made_in_the_admin_are_made_by_the_services(people, administrator):
    from reviews.models import Performer, Production

    admin = signed_in_with_second_factor(administrator)
    made = admin.post("/admin/reviews/production/add/", {
        "code": "NEW01", "name": "New title",
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-user": people["director"].pk, "memberships-0-role": "director",
    })
    assert made.status_code == 302, made.content.decode()[:2000]
    production = Production.objects.get(code="NEW01")
    performer = admin.post("/admin/reviews/performer/add/", {"production": production.pk, "name": "Ada Quinn",
                                                            "user": people["performer"].pk})
    assert performer.status_code == 302
    assert Performer.objects.get(production=production).user == people["performer"]
    events = AuditEvent.objects.filter(production=production).order_by("id")
    assert [(e.action, e.actor) for e in events] == [("production.create", administrator),
                                                    ("membership.add", administrator),
                                                    ("performer.add", administrator)]
    assert events.last().payload == {"name": "Ada Quinn", "user": "performer", "representative": ""}

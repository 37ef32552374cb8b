"""Who a studio sign-in is in Loupe (``services.accounts.sso_sign_in``) and when it counts as a
second factor (``frontend.sso.second_factor_asserted``): the (iss, sub) pair, never a claim,
names the account; a local account's name is never taken over; a sign-in without MFA cannot
make an API token that the API would count as verified."""
import pytest
from django.contrib.auth.models import User

from frontend.sso import second_factor_asserted
from reviews.errors import NotAllowed
from reviews.models import AuditEvent, Role, SingleSignOnIdentity
from reviews.services.accounts import SingleSignOnRefused, api_token_create, sso_sign_in
from reviews.services.productions import membership_add

pytestmark = pytest.mark.django_db

ISSUER = "https://login.studio.example"


def test_the_subject_names_the_account_and_claims_only_bring_it_up_to_date(production, people):
    user, identity = sso_sign_in(issuer=ISSUER, subject="s-1", claims={"preferred_username": "kim", "email": "k@x.t"},
                                 second_factor=False)
    assert (user.username, user.email, user.has_usable_password()) == ("kim", "k@x.t", False)
    membership_add(production=production, user=user, role=Role.ARTIST, actor=people["producer"])
    # Another name and email at the provider: the same person, their email brought up to date.
    again, _ = sso_sign_in(issuer=ISSUER, subject="s-1", claims={"preferred_username": "kimberly", "email": "kb@x.t"},
                           second_factor=True)
    assert (again.pk, User.objects.get(pk=user.pk).email, again.username) == (user.pk, "kb@x.t", "kim")
    event = AuditEvent.objects.get(production=production, action="account.sso_sign_in")
    assert (event.actor, event.payload) == (user, {"issuer": ISSUER, "second_factor": True})
    # The same subject at another issuer is someone else.
    with pytest.raises(SingleSignOnRefused, match="already taken"):
        sso_sign_in(issuer="https://other.example", subject="s-1", claims={"preferred_username": "kim"},
                    second_factor=False)


def test_a_local_accounts_name_is_never_taken_over(people, settings):
    with pytest.raises(SingleSignOnRefused, match="Director is already taken"):
        sso_sign_in(issuer=ISSUER, subject="s-2", claims={"preferred_username": "Director"}, second_factor=True)
    with pytest.raises(SingleSignOnRefused, match="no usable user name"):
        sso_sign_in(issuer=ISSUER, subject="s-3", claims={"preferred_username": "a b"}, second_factor=False)
    settings.LOUPE_OIDC_CREATE_USERS = False
    with pytest.raises(SingleSignOnRefused, match="no Loupe account yet"):
        sso_sign_in(issuer=ISSUER, subject="s-4", claims={"preferred_username": "new"}, second_factor=False)
    assert not SingleSignOnIdentity.objects.exists()


def test_an_unverified_studio_sign_in_cannot_make_an_api_token(people):
    user, _ = sso_sign_in(issuer=ISSUER, subject="s-5", claims={"preferred_username": "eve"}, second_factor=False)
    user.is_verified = lambda: False
    with pytest.raises(NotAllowed, match="second factor"):
        api_token_create(user=user)
    user.is_verified = lambda: True
    assert api_token_create(user=user).user == user


@pytest.mark.parametrize("claims, mfa_amr, mfa_acr, counts", [
    ({"amr": ["pwd", "otp", "mfa"]}, ["mfa"], [], True),
    ({"amr": ["pwd"]}, ["mfa"], [], False),
    ({"amr": ["pwd", "otp"]}, ["mfa"], [], False),  # one method each: only a deployment listing otp counts it
    ({"amr": ["pwd", "otp"]}, ["mfa", "otp"], [], True),
    ({"acr": "gold"}, ["mfa"], ["gold"], True),
    ({"acr": "silver"}, ["mfa"], ["gold"], False),
    ({}, ["mfa"], [], False),
])
def test_the_providers_amr_or_acr_counts_as_a_second_factor_only_as_configured(settings, claims, mfa_amr, mfa_acr,
                                                                                counts):
    settings.LOUPE_OIDC_MFA_AMR, settings.LOUPE_OIDC_MFA_ACR = mfa_amr, mfa_acr
    assert second_factor_asserted(claims) is counts

"""Production settings: `manage.py check --deploy` is clean with the production environment
(and is not without it), and every response carries the security headers and cookie flags."""
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from tests.conftest import REPO


PRODUCTION = {"LOUPE_HTTPS": "true", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "review.example.com"}
ENVIRONMENTS = {
    "production": PRODUCTION,
    "embedded": {"SECRET_KEY": PRODUCTION["SECRET_KEY"]},
    "https_without_secret": {"LOUPE_HTTPS": "true"},
}


@pytest.fixture(scope="module")
def check_deploy() -> dict[str, subprocess.CompletedProcess]:
    """`manage.py check --deploy --fail-level WARNING` under each environment, run side by side."""
    base = {key: value for key, value in os.environ.items()
            if key not in ("SECRET_KEY", "DEBUG", "LOUPE_HTTPS", "ALLOWED_HOSTS")}
    processes = {
        name: subprocess.Popen([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                               cwd=REPO, env=base | environment | {"DJANGO_SETTINGS_MODULE": "portal.settings"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, environment in ENVIRONMENTS.items()}
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return results


def test_check_deploy_is_clean_with_the_production_environment(check_deploy):
    result = check_deploy["production"]
    assert result.returncode == 0 and "System check identified no issues" in result.stdout, \
        result.stdout + result.stderr


def test_check_deploy_names_what_the_embedded_defaults_leave_open(check_deploy):
    result = check_deploy["embedded"]
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout
    refused = check_deploy["https_without_secret"]  # production mode without a secret key does not start
    assert refused.returncode != 0 and "set SECRET_KEY" in refused.stderr


@pytest.mark.django_db
def test_responses_carry_the_security_headers_and_cookie_flags(client):
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    csrf = response.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["httponly"] and csrf["samesite"] == "Lax"

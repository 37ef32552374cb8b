"""Content-Security-Policy and the API schema (issue #23, hole 7): every response carries a
policy that allows scripts, styles and connections only from this site (no inline script, no
inline style attribute, no eval); the templates hold nothing such a policy refuses; the API's
schema and its viewer are for signed-in people. (That pages run with no violation in real
Chromium: tests/frontend/test_content_security_policy.py.)"""
import re

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.django_db

TEMPLATES = sorted((REPO / "frontend" / "templates").rglob("*.html"))


def _policy(response) -> dict[str, list[str]]:
    directives = [part.strip().split() for part in response["Content-Security-Policy"].split(";") if part.strip()]
    return {name: values for name, *values in directives}


def test_every_response_carries_a_policy_without_inline_scripts_or_styles(client, people):
    for response in (client.get("/login/"), client.get("/api/productions/")):
        policy = _policy(response)
        assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
        assert policy["style-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
        assert not any("unsafe" in value for values in policy.values() for value in values)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_templates_have_no_inline_script_handler_or_style(template):
    html = template.read_text()
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE):
        assert re.search(r"\bsrc=", tag) or 'type="application/json"' in tag, f"inline script: {tag}"
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html, flags=re.IGNORECASE), "inline event handler"
    assert not re.search(r"<[^>]+\sstyle\s*=", html, flags=re.IGNORECASE), "inline style attribute"
    assert not re.search(r"<style\b", html, flags=re.IGNORECASE), "inline <style>"
    assert "javascript:" not in html.lower()


def test_the_api_schema_and_its_viewer_are_for_signed_in_people(client, people):
    assert client.get("/api/schema/").status_code in (401, 403)
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and docs.url.startswith("/login/?next=/api/docs/")
    client.force_login(people["artist"])
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200 and "/api/productions/{code}/shots/" in schema.json()["paths"]
    page = client.get("/api/docs/")
    assert page.status_code == 200
    scripts = re.findall(r'<script src="([^"]+)"', page.content.decode())
    assert scripts[-1] == "/api/docs/?script=" and all(src.startswith("/") for src in scripts)  # all from here
    script = client.get(scripts[-1])
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")

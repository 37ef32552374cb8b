"""Bad input is answered with a 4xx (or, on a review socket, an ``error`` event with the
connection kept open) — never a server error: JSON nested too deeply, integers beyond the
database's, NUL characters in query parameters, too many form fields, and a WebSocket message
whose ``type`` is not a name (issue #23, hole 5)."""
import pytest
from rest_framework.authtoken.models import Token

from .helpers import signed_in
from .test_permission_matrix import add_objects

HUGE = str(10**30)
BIGINT_PLUS_ONE = str(2**63)


@pytest.fixture
def api(production, people):
    """The supervisor's API client (by token, so no CSRF) and TEST's objects."""
    from django.test import Client

    key = Token.objects.create(user=people["supervisor"]).key
    return Client(HTTP_AUTHORIZATION=f"Token {key}"), add_objects(production, "BAD")


@pytest.mark.parametrize("path", ["assignments", "jobs", "fix-requests", "continuity-findings", "shots", "clips"])
@pytest.mark.parametrize("query", [f"offset={HUGE}&limit=5", f"limit={HUGE}", f"offset={BIGINT_PLUS_ONE}&limit=1",
                                   "offset=-1&limit=1", f"shot={HUGE}", f"fix_request={HUGE}", f"assignee={HUGE}",
                                   f"clip={BIGINT_PLUS_ONE}", f"cut=-{HUGE}", "shot=1e400", "shot=NaN"])
def test_huge_integers_in_list_queries_are_refused_or_match_nothing(api, path, query):
    client, objects = api
    response = client.get(f"/api/productions/{objects['production']}/{path}/?{query}")
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert response.json()["detail"]


@pytest.mark.parametrize("path", ["jobs/{id}/", "jobs/{id}/cancel/", "proposals/{id}/", "fix-requests/{id}/jobs/",
                                  "proposals/{id}/decisions/ ", "continuity-findings/{id}/fix-request/"])
def test_huge_ids_in_paths_are_not_found(api, path):
    client, objects = api
    method = client.get if path.count("/") == 2 and not path.startswith("fix") else client.post
    response = method(f"/api/productions/{objects['production']}/{path.format(id=HUGE)}", content_type="application/json",
                      data={})
    assert response.status_code == 404, response.content[:300]


def test_json_nested_too_deeply_is_a_bad_request(api):
    client, objects = api
    response = client.post(f"/api/productions/{objects['production']}/continuity-checks/",
                           data="[" * 100_000, content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]


def test_too_many_form_fields_is_a_bad_request(api):
    client, objects = api
    body = "&".join(f"shots={n}" for n in range(5000))
    response = client.post(f"/api/productions/{objects['production']}/continuity-checks/", data=body,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "fields" in response.json()["detail"]


@pytest.mark.parametrize("query", ["q=%00", "status=%00", "assignee=a%00b", "sort=%00", "kind=%00"])
def test_nul_in_shot_board_query_is_a_bad_request(production, people, query):
    response = signed_in(people["supervisor"]).get(f"/productions/{production.code}/shots/?{query}")
    assert response.status_code == 400 and b"NUL" in response.content


@pytest.mark.parametrize("query", ["person=%00", "shot=x%00", "action=%00", "from=%00", "format=pdf&person=%00"])
def test_nul_in_audit_page_query_is_a_bad_request(production, people, query):
    response = signed_in(people["producer"]).get(f"/productions/{production.code}/reports/audit/?{query}")
    assert response.status_code == 400 and b"NUL" in response.content


def test_nul_in_api_query_is_a_bad_request(api):
    client, objects = api
    response = client.get(f"/api/productions/{objects['production']}/shots/?code=%00")
    assert response.status_code == 400 and response.json()["detail"]

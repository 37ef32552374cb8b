"""The REST API fuzzed from its own OpenAPI schema (drf-spectacular, ``/api/schema/``) with
schemathesis: every operation, signed in by API token as a member holding every role, on a
production with real objects — never a 5xx. Bounded (a few examples per operation,
derandomised) so it stays within the suite's budget and fails the same way twice."""
import json

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from reviews.models import Role

from .test_permission_matrix import add_objects

EXAMPLES_PER_OPERATION = 4


def _served_schema() -> dict:
    """The schema as ``/api/schema/?format=json`` serves it to a signed-in person (it is not
    served to anyone else, and no one is signed in while tests are collected)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


#: schemathesis calls the app in-process (WSGI, in the test's thread, so inside the test's
#: transaction).
schema = schemathesis.openapi.from_dict(_served_schema())
schema.app = get_wsgi_application()


@pytest.fixture
def _connection_kept():
    """As Django's test client does: requests do not close the test's database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzzer(db, media_root):
    """A member of TEST in every role, its API token, and TEST's objects (clip, shot, fix
    request, succeeded job, proposal) by URL kwarg."""
    from reviews.services.productions import membership_add, production_create

    user = User.objects.create_user("fuzzer")
    with transaction.atomic():
        production = production_create(code="TEST", name="Fuzzed production", actor=None)
        for role in Role:
            membership_add(production=production, user=user, role=role.value, actor=None)
    objects = add_objects(production, "FUZZ")
    return Token.objects.create(user=user).key, objects


#: Which object an operation's ``id`` (the URL's ``pk``) names, by its path.
PK_OBJECT = {"fix-requests": "fix_request", "jobs": "job", "proposals": "proposal", "continuity-findings": "finding"}


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_never_answers_a_server_error(case, fuzzer, _connection_kept):
    key, objects = fuzzer
    if "code" in (case.path_parameters or {}):
        case.path_parameters["code"] = objects["production"]  # past the 404 to the operation itself
        if "id" in case.path_parameters:
            case.path_parameters["id"] = objects[PK_OBJECT[case.operation.path.split("/")[4]]]
    response = case.call(headers={"Authorization": f"Token {key}"})
    case.validate_response(response, checks=[not_a_server_error])

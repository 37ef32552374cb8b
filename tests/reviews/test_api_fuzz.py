"""The REST API fuzzed from its own OpenAPI schema (drf-spectacular, ``/api/schema/``) with
schemathesis: every operation, signed in by API token as a member holding every role, on a
production with real objects — never a 5xx. Bounded (a few examples per operation,
derandomised) so it stays within the suite's budget and fails the same way twice. A run on
PostgreSQL fuzzes SQLite too, in a child run (integers overflow differently on each)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection, transaction
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from reviews.models import Role

from .test_permission_matrix import add_objects

#: Generated cases per operation: a few in the suite; set LOUPE_FUZZ_EXAMPLES for a deeper run by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("LOUPE_FUZZ_EXAMPLES", "4"))


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
def fuzzer(db, media_root, request):
    """A member of TEST in every role, its API token, and TEST's objects (clip, shot, fix
    request, succeeded job, proposal) by URL kwarg. Its writes are not rate-limited (the limit
    has its own tests), so that every case reaches its operation."""
    from reviews.services.productions import membership_add, production_create

    request.getfixturevalue("settings").LOUPE_WRITE_RATE_PER_MIN = 10**9

    user = User.objects.create_user("fuzzer")
    with transaction.atomic():
        production = production_create(code="TEST", name="Fuzzed production", actor=None)
        for role in Role:
            membership_add(production=production, user=user, role=role.value, actor=None)
    objects = add_objects(production, "FUZZ")
    return Token.objects.create(user=user).key, objects


#: Which object an operation's ``id`` (the URL's ``pk``) names, by its path.
PK_OBJECT = {"clips": "clip", "fix-requests": "fix_request", "jobs": "job", "proposals": "proposal",
             "continuity-findings": "finding", "playlists": "playlist", "share-links": "share_link",
             "learned-models": "learned_model", "ingests": "ingest"}


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


@pytest.mark.timeout(900)
def test_the_api_never_answers_a_server_error_on_sqlite_too(tmp_path):
    """The fuzzing above again, in a child pytest run on a SQLite database of its own (this run
    being on PostgreSQL; a run on SQLite fuzzes SQLite itself)."""
    if connection.vendor == "sqlite":
        pytest.skip("this run is on SQLite: the fuzzing above covers it")
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'loupe.sqlite3'}", LOUPE_DATA_DIR=str(tmp_path),
               LOUPE_FUZZ_EXAMPLES=os.environ.get("LOUPE_FUZZ_EXAMPLES", "2"))
    run = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                          "-k", "never_answers_a_server_error and not sqlite_too"],
                         cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=850)
    assert run.returncode == 0, run.stdout[-4000:]
    assert " passed" in run.stdout.splitlines()[-1]

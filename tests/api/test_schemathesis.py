"""Schema conformance of every operation of the live schema (schemathesis over the WSGI app, in-process): for
an anonymous caller and for keys of each role (a buyer with read + buy, a city official with read + publish, a
platform admin with admin), generated requests — valid ones, invalid ones, and valid ones naming the world's
objects (tests/api/world.py) — must get no server error and responses exactly as the schema declares them:
status code, content type, body and headers.

Bounded and derandomized: API_FUZZ_EXAMPLES examples per operation and caller (10 by default), the same ones on
every run, so CI is reproducible and the file stays quick as the API grows."""

import copy
import os

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.world import document, operation_id, operations, path_parameters, world  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Each caller's key (tests/api/world.py) and whose objects its valid requests name.
CALLERS = {
    "anonymous": (None, "public"),
    "buyer": ("buyer", "buyer"),
    "official": ("publisher", "provider"),
    "admin": ("admin", "admin"),
}


@pytest.fixture(scope="module")
def app():
    """The site's WSGI application, run in the test's thread and database transaction: like Django's test client,
    the request signals must not close the connection between requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def api_schema():
    return schemathesis.openapi.from_dict(document())


def conform(app, api_schema, world, method: str, route: str, caller: str, examples: int = EXAMPLES) -> None:
    """Send `examples` generated requests to one operation as one caller; raise on the first non-conformance."""
    key, side = CALLERS[caller]
    headers = {"Authorization": f"Token {world.keys[key]}"} if key else {}
    operation = api_schema[route][method]
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    known = path_parameters(route, world, side)
    if known:  # valid requests that name real objects: the 200s are checked too, not only the 404s
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))

    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking: the first failure is shown
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=st.one_of(strategies))
    def request_and_check(case):
        # Each request in a savepoint rolled back: the world stays as built for the next one.
        with transaction.atomic():
            response = case.call(app=app, headers=headers)
            transaction.set_rollback(True)
        case.validate_response(response, checks=CHECKS, headers=headers)

    request_and_check()


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", operations(), ids=operation_id)
def test_responses_are_what_the_schema_says(app, api_schema, world, operation, caller, settings):
    settings.API_RATE_PER_TOKEN = settings.API_RATE_PER_IP = ""  # 429 is declared everywhere; here it hides the rest
    method, route = operation
    examples = EXAMPLES
    if caller == "anonymous" and {} not in (document()["paths"][route][method.lower()].get("security") or [{}]):
        examples = min(EXAMPLES, 3)  # a signed-in operation answers anonymous requests with 401: a few suffice
    conform(app, api_schema, world, method, route, caller, examples)


def test_a_response_the_schema_does_not_describe_is_caught(app, world, settings):
    """The checks bite: with the schema saying a key's name is a number, reading the key list fails."""
    settings.API_RATE_PER_TOKEN = settings.API_RATE_PER_IP = ""
    wrong = copy.deepcopy(document())
    wrong["components"]["schemas"]["ApiTokenOut"]["properties"]["name"]["type"] = "integer"
    with pytest.raises(FailureGroup, match="does not match the schema|Response violates schema"):
        conform(app, schemathesis.openapi.from_dict(wrong), world, "GET", "/api/v1/api-keys/", "official")


@pytest.mark.parametrize("caller", ["official", "admin"])
def test_following_the_links_from_what_was_made(app, api_schema, world, caller, settings):
    """Stateful: schemathesis makes something (POST → 201), then follows the schema's links to read, change or
    delete what it made (core.api.schema adds the links), checking every response on the way."""
    settings.API_RATE_PER_TOKEN = settings.API_RATE_PER_IP = ""
    headers = {"Authorization": f"Token {world.keys[CALLERS[caller][0]]}"}

    class Scenario(api_schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"app": app, "headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, headers=headers)

    Scenario.run(
        settings=hypothesis.settings(
            max_examples=EXAMPLES,
            stateful_step_count=4,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )

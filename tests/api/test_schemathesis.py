"""Schemathesis fuzzes the API against the schema it serves, with a token, on Göteborg's host:
no 5xx, responses as the schema says, and nothing of Malmö's ever in an answer."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stagesub.tenancy import use_orchestra
from tests.api.helpers import token_for
from tests.conftest import BACKEND, host_for, listed_musicians
from tests.offers.test_flow import make_need

# Examples per operation: bounded so the suite stays fast.
EXAMPLES = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="fuzzing runs on SQLite (CI time)")


def test_the_served_schema_holds_under_fuzzing_and_never_shows_another_orchestra(goteborg, malmo):
    make_need(goteborg, "sequential", 1, count=3)
    with use_orchestra(malmo):
        listed_musicians(2, name="Malmoe{:02d}")
    raw = token_for(goteborg, write=True)
    host = host_for(goteborg)
    # As Django's test client does: the test's transaction must outlive each request.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        _fuzz(host, raw)
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def _fuzz(host: str, raw: str) -> None:
    app = get_wsgi_application()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers={"Host": host})
    headers = {"Host": host, "Authorization": f"Bearer {raw}"}

    @given(case=schema.as_strategy())
    @hypothesis_settings(
        max_examples=EXAMPLES * len(list(schema.get_all_operations())),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        assert "Malmoe" not in response.text and "malmo" not in response.text.lower()

    fuzz()

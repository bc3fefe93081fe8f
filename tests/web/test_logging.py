"""Errors leave a traceback in the log, and every record of a request says which request,
host and orchestra it belongs to (plain lines, or JSON lines)."""

from __future__ import annotations

import json
import logging
import logging.config
import re

import pytest
from django.conf import settings as django_settings

from stagesub.web.observability import REQUEST_ID_HEADER, logging_config
from tests.conftest import host_client


@pytest.fixture
def boom_client(settings, goteborg):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.web.boom.BoomUrlconfMiddleware"]
    assert settings.DEBUG is False
    return host_client(goteborg, raise_request_exception=False)


@pytest.fixture
def json_logging():
    logging.config.dictConfig(logging_config(level="INFO", fmt="json"))
    yield
    logging.config.dictConfig(django_settings.LOGGING)


def _error_block(out: str) -> str:
    start = out.index("ERROR django.request")
    return out[start:]


def test_unhandled_error_is_logged_with_traceback_request_id_host_and_orchestra(
    boom_client, capsys
):
    capsys.readouterr()
    response = boom_client.get("/boom/", HTTP_X_REQUEST_ID="req-4711-abc")
    assert response.status_code == 500
    assert response[REQUEST_ID_HEADER] == "req-4711-abc"
    out = capsys.readouterr().out
    block = _error_block(out)
    first_line = block.splitlines()[0]
    assert "[req-4711-abc goteborg.stagesub.test goteborg]" in first_line
    assert "Internal Server Error: /boom/" in first_line
    assert "Traceback (most recent call last):" in block
    assert "BoomError: boom in goteborg" in block


def test_a_not_found_is_logged_with_request_id_host_and_orchestra(goteborg, capsys):
    # Django logs 4xx responses after the middleware chain has returned.
    capsys.readouterr()
    response = host_client(goteborg).get("/no-such-page/", HTTP_X_REQUEST_ID="req-404-a")
    assert response.status_code == 404
    out = capsys.readouterr().out
    assert (
        "WARNING django.request [req-404-a goteborg.stagesub.test goteborg] "
        "Not Found: /no-such-page/"
    ) in out


def test_error_page_is_the_friendly_one_with_the_request_id(boom_client):
    response = boom_client.get("/boom/", HTTP_X_REQUEST_ID="req-0815-xyz")
    body = response.content.decode()
    assert "Något gick fel" in body
    assert "req-0815-xyz" in body
    assert "Traceback" not in body and "BoomError" not in body


@pytest.mark.parametrize("incoming", ["", "has space", "x" * 200, "new\nline", "åäö"])
def test_an_insane_incoming_request_id_is_replaced_by_a_fresh_one(boom_client, incoming):
    response = boom_client.get("/login/", HTTP_X_REQUEST_ID=incoming)
    assert re.fullmatch(r"[0-9a-f]{32}", response[REQUEST_ID_HEADER])


def test_each_request_gets_its_own_id(goteborg):
    client = host_client(goteborg)
    ids = {client.get("/login/")[REQUEST_ID_HEADER] for _ in range(3)}
    assert len(ids) == 3


def test_records_outside_a_request_have_placeholders(capsys):
    capsys.readouterr()
    logging.getLogger("stagesub.test").info("outside any request")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.endswith("INFO stagesub.test [- - -] outside any request")


def test_json_lines_are_parseable_and_carry_the_traceback(boom_client, json_logging, capsys):
    capsys.readouterr()
    boom_client.get("/boom/", HTTP_X_REQUEST_ID="req-json-1")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    errors = [r for r in records if r["logger"] == "django.request"]
    assert len(errors) == 1
    error = errors[0]
    assert error["level"] == "ERROR"
    assert error["request_id"] == "req-json-1"
    assert error["host"] == "goteborg.stagesub.test"
    assert error["orchestra"] == "goteborg"
    assert error["status_code"] == 500
    assert "BoomError: boom in goteborg" in error["traceback"]


def test_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="plain or json"):
        logging_config(level="INFO", fmt="xml")


def test_the_task_worker_does_not_log_every_idle_pass(capsys):
    capsys.readouterr()
    logging.getLogger("django_tasks_db").info("No more tasks to run")
    logging.getLogger("django_tasks_db").warning("a task failed")
    out = capsys.readouterr().out
    assert "No more tasks" not in out and "a task failed" in out

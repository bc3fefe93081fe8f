"""With STAGESUB_SENTRY_DSN, an unhandled error is reported to Sentry tagged with the request id
and orchestra. The "Sentry" here is a real HTTP server on loopback that keeps what it gets."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk

from stagesub.web.observability import init_sentry
from tests.conftest import host_client


@pytest.fixture
def sentry_inbox():
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://0123456789abcdef@127.0.0.1:{server.server_port}/42", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def sentry(sentry_inbox):
    dsn, received = sentry_inbox
    init_sentry(dsn, environment="test")
    yield dsn, received
    sentry_sdk.flush(timeout=5)
    sentry_sdk.init()  # no DSN: reporting off again for the rest of the session


def _events(received: list[bytes]) -> list[dict]:
    items = [json.loads(line) for body in received for line in body.splitlines() if line.strip()]
    return [item for item in items if "exception" in item]


def test_unhandled_error_is_reported_with_request_id_and_orchestra(
    settings, goteborg, sentry, capsys
):
    dsn, received = sentry
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.web.boom.BoomUrlconfMiddleware"]
    client = host_client(goteborg, raise_request_exception=False)
    response = client.get("/boom/", HTTP_X_REQUEST_ID="req-sentry-1")
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    events = _events(received)
    assert len(events) == 1, received
    event = events[0]
    assert event["tags"]["request_id"] == "req-sentry-1"
    assert event["tags"]["orchestra"] == "goteborg"
    assert event["exception"]["values"][-1]["type"] == "BoomError"
    assert "cookies" not in event.get("request", {})
    captured = capsys.readouterr()
    assert dsn not in captured.out + captured.err

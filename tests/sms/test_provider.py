"""The 46elks adapter against a local server that speaks its API (no mocks)."""

from __future__ import annotations

import pytest

from stagesub.sms.provider import Elks, SmsError
from tests.smsprovider import ElksServer


@pytest.fixture
def elks():
    server = ElksServer().start()
    yield server
    server.stop()


def _adapter(server, password: str | None = None) -> Elks:
    return Elks(server.url, server.username, password or server.password, timeout=5)


def test_send_posts_the_form_with_basic_auth_and_returns_the_providers_id(elks):
    sms_id = _adapter(elks).send(sender="GSO", to="+46701234567", text="Hej Åsa 👋")
    assert elks.sent == [
        {"id": sms_id, "from": "GSO", "to": "+46701234567", "message": "Hej Åsa 👋"}
    ]


def test_wrong_credentials_are_a_temporary_error_not_a_refusal(elks):
    with pytest.raises(SmsError) as error:
        _adapter(elks, password="wrong").send(sender="GSO", to="+46701234567", text="x")
    assert "401" in str(error.value) and not error.value.permanent
    assert elks.sent == []


def test_a_refused_number_is_permanent(elks):
    with pytest.raises(SmsError) as error:
        _adapter(elks).send(sender="GSO", to="0701234567", text="x")
    assert error.value.permanent and "Invalid to number" in str(error.value)


def test_429_carries_the_retry_after_and_500_is_retried(elks):
    elks.fail_next(429, retry_after="42")
    elks.fail_next(500)
    with pytest.raises(SmsError) as limited:
        _adapter(elks).send(sender="GSO", to="+46701234567", text="x")
    assert limited.value.retry_after == 42 and not limited.value.permanent
    with pytest.raises(SmsError) as broken:
        _adapter(elks).send(sender="GSO", to="+46701234567", text="x")
    assert not broken.value.permanent and broken.value.retry_after is None
    assert _adapter(elks).send(sender="GSO", to="+46701234567", text="x")  # back again
    assert len(elks.sent) == 1


def test_only_web_urls_are_providers():
    with pytest.raises(ValueError):
        Elks("file:///etc/passwd", "u", "p")


def test_an_unreachable_provider_is_a_temporary_error(elks):
    url = elks.url
    elks.stop()
    with pytest.raises(SmsError) as error:
        Elks(url, "u", "p", timeout=2).send(sender="GSO", to="+46701234567", text="x")
    assert not error.value.permanent


def test_the_demo_provider_lets_the_musician_reply_through_the_webhook():
    """`stagesub sms_provider_dev`'s reply form: a form-encoded POST as 46elks delivers it,
    and the webhook's answer comes back as an SMS (a plain HTTP server stands in for it)."""
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from threading import Thread
    from urllib.parse import parse_qs
    from urllib.request import urlopen

    received = []

    class Webhook(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append(
                {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            )
            body = "Tack! Du är bokad.".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    hook = HTTPServer(("127.0.0.1", 0), Webhook)
    Thread(target=hook.serve_forever, daemon=True).start()
    elks = ElksServer(sms_url=f"http://127.0.0.1:{hook.server_address[1]}/sms/inbound/s/").start()
    try:
        sms_id = _adapter(elks).send(sender="+46766861004", to="+46701234567", text="JA 7?")
        assert "JA 7?" in urlopen(elks.url + "/").read().decode()  # noqa: S310
        urlopen(elks.url + "/reply", data=f"sms={sms_id}&text=ja+7".encode())  # noqa: S310
        [inbound] = received
        assert (inbound["from"], inbound["to"], inbound["message"]) == (
            "+46701234567",
            "+46766861004",
            "ja 7",
        )
        assert inbound["direction"] == "incoming" and inbound["id"]
        assert elks.sent[-1]["message"] == "Tack! Du är bokad."
    finally:
        elks.stop()
        hook.shutdown()
        hook.server_close()

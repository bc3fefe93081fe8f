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

"""The SMS settings page: admins only, the password stored encrypted and never shown."""

from __future__ import annotations

from stagesub.sms.models import SmsSettings
from stagesub.tenancy import use_orchestra
from tests.conftest import host_client, login

URL = "/settings/sms/"


def _form(**overrides):
    data = {
        "enabled": "on",
        "api_username": "u1234",
        "api_password": "hemligt-lösen",
        "sender": "0766-86 10 04",
        "send_request": "on",
        "send_reminder": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_an_admin_switches_sms_on_and_the_password_is_stored_encrypted(goteborg):
    client = login(goteborg, "goteborg-admin")
    page = client.get(URL)
    # No webhook address before the first save: an unsaved secret would never work.
    assert page.status_code == 200 and "/sms/inbound/" not in page.content.decode()
    response = client.post(URL, _form())
    assert response.status_code == 302
    with use_orchestra(goteborg):
        sms = SmsSettings.objects.get()
        assert sms.enabled and sms.sender == "+46766861004"  # E.164
        assert "hemligt" not in sms.api_password_encrypted
        assert sms.api_password() == "hemligt-lösen"
        assert (sms.send_request, sms.send_reminder, sms.send_confirmation) == (True, True, False)
    page = client.get(URL).content.decode()
    assert "hemligt" not in page and sms.webhook_secret in page
    # saving again with the password left empty keeps it
    assert client.post(URL, _form(api_password="")).status_code == 302
    with use_orchestra(goteborg):
        assert SmsSettings.objects.get().api_password() == "hemligt-lösen"


def test_switching_on_without_an_account_is_refused_next_to_the_fields(goteborg):
    client = login(goteborg, "goteborg-admin")
    response = client.post(URL, _form(api_username="", api_password="", sender="not a number!"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "error-summary" in page and "Needed to send SMS." in page
    assert "is not a valid phone number" in page
    with use_orchestra(goteborg):
        assert not SmsSettings.objects.exists()  # nothing half-written


def test_an_alphanumeric_sender_is_kept(goteborg):
    client = login(goteborg, "goteborg-admin")
    assert client.post(URL, _form(sender="GSO")).status_code == 302
    with use_orchestra(goteborg):
        assert SmsSettings.objects.get().sender == "GSO"


def test_strangers_are_sent_to_log_in(goteborg):
    # (members get 403: sms:settings is in the role matrix's admin-only views)
    response = host_client(goteborg).get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]

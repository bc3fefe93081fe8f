"""E-mail addresses are checked the same way wherever one comes in, and a bad one is refused
with a message next to the field: musician forms and services, the spreadsheet import, the
superadmin console and `create_orchestra --admin-email`."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from stagesub.roster import services, spreadsheets
from stagesub.roster.models import Musician
from stagesub.roster.services import MusicianData
from stagesub.superadmin.models import ProvisioningJob
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.models import Orchestra
from stagesub.validation import email_address
from tests.conftest import PASSWORD, host_client, login

BAD = [
    "@",
    "a@",
    "@example.se",
    "a b@c.se",
    "a@b.se\nBcc: victim@example.se",
    "a\n@b.se",
    "a@b.se\r\nX-Injected: 1",
    "a@b\u2028c.se",  # a Unicode line separator, which Django's validator lets through
    "a@b\x00.se",
    "plain text",
]
MESSAGES = {
    "Enter a valid e-mail address, like name@example.se.",
    "An e-mail address cannot contain line breaks or invisible characters.",
}
# Forms add Django's own check for NUL.
FORM_MESSAGES = MESSAGES | {"Null characters are not allowed."}
GOOD = ["eva.lind@example.se", "  Eva.Lind+vikarie@Example.SE  ", "eva@bå.se"]
# What a spreadsheet can carry (neither CSV nor XLSX holds a NUL).
IN_FILES = [v for v in BAD if "\x00" not in v]


@pytest.mark.parametrize("value", BAD)
def test_the_shared_check_refuses(value):
    with pytest.raises(ValidationError) as refused:
        email_address(value)
    assert set(refused.value.messages) <= MESSAGES


@pytest.mark.parametrize("value", GOOD)
def test_the_shared_check_accepts_and_trims(value):
    assert email_address(value) == value.strip()


def _musician(email: str, **kw) -> MusicianData:
    return MusicianData(first_name="Eva", last_name="Lind", email=email, **kw)


@pytest.mark.parametrize("value", BAD)
def test_roster_services_refuse_on_create_and_update(goteborg, value):
    with use_orchestra(goteborg):
        with pytest.raises(ValidationError) as refused:
            services.create_musician(_musician(value), max_musicians=100)
        assert set(refused.value.message_dict["email"]) <= MESSAGES
        musician = services.create_musician(_musician("eva@example.se"), max_musicians=100)
        with pytest.raises(ValidationError) as refused:
            services.update_musician(musician, _musician(value))
        assert set(refused.value.message_dict["email"]) <= MESSAGES
        assert list(Musician.objects.values_list("email", flat=True)) == ["eva@example.se"]


@pytest.mark.parametrize("name", ["Eva\nLind", "Eva\x07"])
def test_roster_services_refuse_control_characters_in_names(goteborg, name):
    with use_orchestra(goteborg):
        with pytest.raises(ValidationError) as refused:
            services.create_musician(
                MusicianData(first_name=name, last_name=name, email="e@example.se"),
                max_musicians=100,
            )
        assert set(refused.value.message_dict) == {"first_name", "last_name"}
        assert not Musician.objects.exists()


def test_the_musician_form_shows_the_error_next_to_the_field(goteborg):
    client = login(goteborg, "goteborg-admin")
    for value in BAD:
        response = client.post(
            "/musicians/new/",
            {"first_name": "Eva", "last_name": "Lind", "email": value, "preferred_language": "sv"},
        )
        errors = response.context["form"].errors
        assert list(errors) == ["email"], (value, errors)
        assert set(errors["email"]) <= FORM_MESSAGES
    with use_orchestra(goteborg):
        assert not Musician.objects.exists()


def test_the_musician_edit_form_refuses_too(goteborg):
    with use_orchestra(goteborg):
        musician = services.create_musician(_musician("eva@example.se"), max_musicians=100)
    client = login(goteborg, "goteborg-admin")
    for value in BAD:
        response = client.post(
            f"/musicians/{musician.musician_id}/edit/",
            {"first_name": "Eva", "last_name": "Lind", "email": value, "preferred_language": "sv"},
        )
        assert set(response.context["form"].errors["email"]) <= FORM_MESSAGES, value
    with use_orchestra(goteborg):
        assert Musician.objects.get().email == "eva@example.se"


def _table():
    return [
        ["Förnamn", "Efternamn", "E-post"],
        *[["Eva", f"R{i}", v] for i, v in enumerate(IN_FILES)],
    ]


def _csv(table) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(table)
    return buffer.getvalue().encode("utf-8")


def _xlsx(table) -> bytes:
    workbook = Workbook()
    for row in table:
        workbook.active.append(row)
    data = io.BytesIO()
    workbook.save(data)
    return data.getvalue()


@pytest.mark.parametrize(("filename", "encode"), [("m.csv", _csv), ("m.xlsx", _xlsx)])
def test_the_import_rejects_every_row_with_a_bad_address(goteborg, filename, encode):
    table = _table()
    with use_orchestra(goteborg):
        read = spreadsheets.read_table(filename, encode(table))
        preview = spreadsheets.preview_import(read)
        assert [r.action for r in preview.rows] == ["reject"] * len(IN_FILES)
        for row in preview.rows:
            assert set(row.errors) & MESSAGES, row.errors
        spreadsheets.apply_import(read, max_musicians=100)
        assert not Musician.objects.exists()


@pytest.fixture
def console(superadmin):
    client = host_client()
    assert client.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


def test_the_superadmin_console_refuses_next_to_the_field(console):
    form = {
        "name": "Uppsala Kammarorkester",
        "subdomain": "uppsala",
        "contact_name": "Eva",
        "admin_username": "",
        "plan": "medium",
    }
    for value in BAD:
        response = console.post("/superadmin/orchestras/new/", {**form, "contact_email": value})
        errors = response.context["form"].errors
        assert list(errors) == ["contact_email"], (value, errors)
        assert set(errors["contact_email"]) <= FORM_MESSAGES
    response = console.post(
        "/superadmin/orchestras/new/",
        {**form, "name": "Uppsala\nKammarorkester", "contact_email": "eva@example.se"},
    )
    assert response.context["form"].errors["name"]
    assert not ProvisioningJob.objects.exists()


@pytest.mark.parametrize("value", ["@", "a@", "a b@c.se", "a@b.se\nBcc: victim@example.se"])
def test_create_orchestra_refuses_a_bad_admin_email(db, value):
    with pytest.raises(CommandError, match="e-mail") as refused:
        call_command("create_orchestra", subdomain="uppsala", name="Uppsala", admin_email=value)
    assert refused.value.returncode == 1
    assert not Orchestra.objects.exists()

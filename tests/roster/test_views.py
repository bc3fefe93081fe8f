"""Roster pages on the orchestra's host: browse, search, add, edit, archive, import, export."""

import io

import pytest

from stagesub.roster.models import Instrument, Musician, Position
from stagesub.tenancy import use_orchestra
from tests.conftest import host_client, login


@pytest.fixture
def client(goteborg):
    return login(goteborg, "goteborg-admin")


def _position(goteborg, name="Tutti violin 1", instrument="Violin"):
    with use_orchestra(goteborg):
        return Position.objects.get(name=name, instrument__name=instrument).pk


def _create(client, **overrides):
    data = {
        "first_name": "Eva",
        "last_name": "Lind",
        "email": "eva@example.se",
        "phone": "",
        "preferred_language": "sv",
        "notes": "",
        **overrides,
    }
    return client.post("/musicians/new/", data)


def test_add_musician_then_view_profile(client, goteborg):
    response = _create(client, position_ids=[_position(goteborg)], phone="0701234567")
    assert response.status_code == 302 and response["Location"] == "/musicians/MUS001/"
    page = client.get("/musicians/MUS001/").content.decode()
    assert "Eva Lind" in page and "+46701234567" in page and "Tutti violin 1" in page


def test_duplicate_email_shown_next_to_the_field_nothing_saved(client, goteborg):
    _create(client)
    response = _create(client, first_name="Other", email="EVA@example.se")
    assert response.status_code == 200
    form = response.context["form"]
    assert "Eva Lind (MUS001)" in " ".join(form.errors["email"])
    with use_orchestra(goteborg):
        assert Musician.objects.count() == 1


def test_search_filter_and_sort(client, goteborg):
    _create(
        client,
        first_name="Örjan",
        last_name="Ek",
        email="o@example.se",
        position_ids=[_position(goteborg)],
    )
    _create(
        client,
        first_name="Åsa",
        last_name="Berg",
        email="a@example.se",
        position_ids=[_position(goteborg, "Tutti", "Viola")],
    )
    _create(client, first_name="Zara", last_name="Holm", email="z@example.se")
    names = [m.first_name for m in client.get("/musicians/").context["musicians"]]
    assert names == ["Zara", "Åsa", "Örjan"]  # Swedish order: z < å < ö
    assert [m.first_name for m in client.get("/musicians/?q=holm").context["musicians"]] == ["Zara"]
    with use_orchestra(goteborg):
        violin = Instrument.objects.get(name="Violin").pk
    assert [
        m.first_name for m in client.get(f"/musicians/?instrument={violin}").context["musicians"]
    ] == ["Örjan"]
    htmx = client.get("/musicians/?q=berg", HTTP_HX_REQUEST="true")
    assert "Åsa" in htmx.content.decode() and "<h1>" not in htmx.content.decode()


def test_archive_hides_from_default_list_and_restore(client, goteborg):
    _create(client)
    client.post("/musicians/MUS001/status/", {"action": "archive"})
    assert client.get("/musicians/").context["musicians"] == []
    assert len(client.get("/musicians/?status=archived").context["musicians"]) == 1
    client.post("/musicians/MUS001/status/", {"action": "restore"})
    with use_orchestra(goteborg):
        assert Musician.objects.get().status == "active"
    assert client.post("/musicians/MUS001/status/", {"action": "explode"}).status_code == 400
    assert client.get("/musicians/MUS001/status/").status_code == 405


def test_import_preview_then_confirm(client, goteborg):
    csv_file = io.BytesIO(
        "Förnamn;Efternamn;E-post\nEva;Lind;eva@example.se\nPer;;per@example.se\n".encode()
    )
    csv_file.name = "lista.csv"
    response = client.post("/musicians/import/", {"file": csv_file})
    assert response.status_code == 200
    preview = response.context["preview"]
    assert [r.action for r in preview.rows] == ["create", "reject"]
    with use_orchestra(goteborg):
        assert not Musician.objects.exists()
    response = client.post("/musicians/import/", {"token": response.context["token"]})
    assert response.status_code == 302
    with use_orchestra(goteborg):
        assert list(Musician.objects.values_list("email", flat=True)) == ["eva@example.se"]
    # the token is single use
    again = client.post("/musicians/import/", {"token": response.wsgi_request.POST["token"]})
    assert again.status_code == 302
    with use_orchestra(goteborg):
        assert Musician.objects.count() == 1


def test_import_update_keeps_blank_cells_and_previews_each_change(client, goteborg):
    _create(client, phone="070-123 45 67", notes="Spelar barock")
    with use_orchestra(goteborg):
        before = Musician.objects.get()
    sheet = "First name;Last name;E-mail;Phone;Notes\nEva;Lind-Berg;EVA@example.se;;\n"
    upload = io.BytesIO(sheet.encode())
    upload.name = "lista.csv"
    response = client.post("/musicians/import/", {"file": upload})
    row = response.context["preview"].rows[0]
    assert row.action == "update"
    assert [(c.label, c.old, c.new) for c in row.changes] == [("Last name", "Lind", "Lind-Berg")]
    page = response.content.decode()
    assert 'data-testid="import-diff"' in page and "Lind-Berg" in page
    client.post("/musicians/import/", {"token": response.context["token"]})
    with use_orchestra(goteborg):
        after = Musician.objects.get()
    assert after.last_name == "Lind-Berg"
    assert (after.first_name, after.phone, after.notes) == (
        before.first_name,
        before.phone,
        "Spelar barock",
    )


def test_import_rejects_bad_files_next_to_the_field(client):
    bad = io.BytesIO(b"%PDF-1.4")
    bad.name = "roster.pdf"
    response = client.post("/musicians/import/", {"file": bad})
    assert response.status_code == 200 and response.context["form"].errors["file"]


def test_export(client):
    _create(client)
    response = client.get("/musicians/export.csv")
    assert response["Content-Type"].startswith(
        "text/csv"
    ) and "eva@example.se" in response.content.decode("utf-8-sig")
    assert client.get("/musicians/export.xlsx").status_code == 200
    assert client.get("/musicians/export.pdf").status_code == 404


def test_instrument_pages(client, goteborg):
    assert client.get("/instruments/").status_code == 200
    client.post("/instruments/new/", {"action": "create", "name": "Luta"})
    with use_orchestra(goteborg):
        lute = Instrument.objects.get(name="Luta")
        ids = list(Instrument.objects.values_list("pk", flat=True))
    client.post(f"/instruments/{lute.pk}/", {"action": "add_position", "name": "Sololuta"})
    response = client.post(
        "/instruments/reorder/", {"order": [lute.pk, *[i for i in ids if i != lute.pk]]}
    )
    assert response.status_code == 200
    assert client.post("/instruments/reorder/", {"order": ids[:3]}).status_code == 409
    assert client.post("/instruments/reorder/", {"order": ["x"]}).status_code == 400
    with use_orchestra(goteborg):
        assert Instrument.objects.first().name == "Luta"
        assert lute.positions.get().name == "Sololuta"


def test_roster_pages_refuse_anonymous_and_other_orchestras(goteborg, malmo):
    assert host_client(goteborg).get("/musicians/").status_code == 302
    malmo_client = login(malmo, "malmo-admin")
    malmo_client.post(
        "/musicians/new/",
        {"first_name": "M", "last_name": "M", "email": "m@example.se", "preferred_language": "sv"},
    )
    # MUS001 exists in Malmö only: Göteborg's host never serves it
    goteborg_client = login(goteborg, "goteborg-admin")
    assert goteborg_client.get("/musicians/MUS001/").status_code == 404


def test_instrument_and_position_names_have_a_length_limit_on_both_backends(client, goteborg):
    huge = "A" * 10_000
    response = client.post("/instruments/new/", {"action": "create", "name": huge}, follow=True)
    assert response.status_code == 200 and "At most 100 characters" in response.content.decode()
    with use_orchestra(goteborg):
        assert not Instrument.objects.filter(name__startswith="AAAA").exists()
        violin = Instrument.objects.get(name="Violin")
    added = client.post(
        f"/instruments/{violin.pk}/", {"action": "add_position", "name": huge}, follow=True
    )
    assert "At most 100 characters" in added.content.decode()
    renamed = client.post(f"/instruments/{violin.pk}/", {"action": "rename", "name": huge})
    assert renamed.status_code == 302
    with use_orchestra(goteborg):
        assert not Position.objects.filter(name__startswith="AAAA").exists()
        assert Instrument.objects.get(pk=violin.pk).name == "Violin"
    exactly = "B" * 100  # the limit itself is fine
    client.post("/instruments/new/", {"action": "create", "name": exactly})
    with use_orchestra(goteborg):
        assert Instrument.objects.filter(name=exactly).exists()

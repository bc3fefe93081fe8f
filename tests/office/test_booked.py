"""A project's booked musicians: grouped by instrument and position, contact details,
CSV and XLSX exports with formula cells neutralised, and a print view."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from stagesub.offers import services as offers
from stagesub.office.booked import safe_cell
from stagesub.rankings import services as rankings
from stagesub.roster import services as roster
from stagesub.roster.models import Position
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra
from tests.conftest import login
from tests.office.helpers import need, project


def musician(first, last, email, seat, phone=""):
    return roster.create_musician(
        MusicianData(
            first_name=first, last_name=last, email=email, phone=phone, position_ids=[seat.pk]
        ),
        max_musicians=100,
    )


@pytest.fixture
def booked_project(goteborg):
    """Two cellists and a violinist accepted (listed in the score's order: violin before
    cello), one violinist declined; another project's musician accepted there."""
    with use_orchestra(goteborg):
        violin = Position.objects.get(name="Tutti violin 1", instrument__name="Violin")
        cello = Position.objects.filter(instrument__name="Cello").order_by("hierarchy_level").last()
        v_yes = musician("Vera", "Ek", "vera@example.se", violin, "+46701234567")
        v_no = musician("Nils", "Nej", "nils@example.se", violin)
        c1 = musician("Ada", "Östberg", "ada@example.se", cello)
        c2 = musician('=HYPERLINK("http://evil")', "@Bad", "bad@example.se", cello)
        other = musician("Olle", "Annan", "olle@example.se", violin)
        v_list, c_list = rankings.create_list(violin, "A"), rankings.create_list(cello, "A")
        rankings.add_musicians(v_list, [v_no.pk, v_yes.pk, other.pk])
        rankings.add_musicians(c_list, [c2.pk, c1.pk])
        p = project("Mahler 5", days=30)
        first = offers.send(need(p, v_list)).created[0]
        offers.answer(offers.answer(first, accepted=False).created[0], accepted=True)
        for offer in offers.send(need(p, c_list, strategy="parallel", quantity=2)).created:
            offers.answer(offer, accepted=True)
        elsewhere = project("Elsewhere", days=40)
        seat = need(elsewhere, v_list, strategy="first_come", max_recipients=3)
        for offer in offers.send(seat).created:
            if offer.musician_id == other.pk:
                offers.answer(offer, accepted=True)
        return p


def staff(orchestra):
    return login(orchestra, f"{orchestra.subdomain}-admin")


def test_page_groups_the_booked_musicians_by_instrument_and_position(goteborg, booked_project):
    page = staff(goteborg).get(f"/projects/{booked_project.project_id}/booked/").content.decode()
    assert "3 musicians booked" in page
    violin, cello = page.index("Violin – Tutti violin 1"), page.index("Cello – ")
    assert violin < page.index("Ek, Vera") < cello < page.index("@Bad") < page.index("Östberg")
    assert "mailto:vera@example.se" in page and "tel:+46701234567" in page
    assert "Nej" not in page and "Annan" not in page  # declined; booked in another project


def test_the_project_page_links_to_its_booked_musicians(goteborg, booked_project):
    page = staff(goteborg).get(f"/projects/{booked_project.project_id}/").content.decode()
    assert f'href="/projects/{booked_project.project_id}/booked/"' in page


def test_csv_export_has_every_booked_musician_and_neutralised_formulas(goteborg, booked_project):
    response = staff(goteborg).get(f"/projects/{booked_project.project_id}/booked.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"{booked_project.project_id}-mahler-5.csv" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:3] == ["Instrument", "Position", "Last name"]
    body = [r[:6] for r in rows[1:]]
    assert body[0] == ["Violin", "Tutti violin 1", "Ek", "Vera", "vera@example.se", "+46701234567"]
    assert body[1][2:4] == ["'@Bad", '\'=HYPERLINK("http://evil")']
    assert body[2][2] == "Östberg"
    assert len(body) == 3


def test_xlsx_export_holds_text_cells_only(goteborg, booked_project):
    response = staff(goteborg).get(f"/projects/{booked_project.project_id}/booked.xlsx")
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[1][:6] == [
        "Violin",
        "Tutti violin 1",
        "Ek",
        "Vera",
        "vera@example.se",
        "+46701234567",
    ]
    assert rows[2][2:4] == ["'@Bad", '\'=HYPERLINK("http://evil")']
    assert all(c.data_type == "s" for row in sheet.iter_rows() for c in row if c.value)
    assert len(rows) == 4


def test_print_view_is_a_plain_page_with_its_print_stylesheet(goteborg, booked_project):
    page = (
        staff(goteborg)
        .get(f"/projects/{booked_project.project_id}/booked/?print=1")
        .content.decode()
    )
    assert "office/print.css" in page and 'class="mainnav"' not in page
    assert "Ek, Vera" in page and "Mahler 5" in page


def test_an_unknown_project_is_404_and_exports_need_a_login(goteborg, booked_project):
    client = staff(goteborg)
    assert client.get("/projects/PROJ999/booked.csv").status_code == 404
    from tests.conftest import host_client

    anonymous = host_client(goteborg).get(f"/projects/{booked_project.project_id}/booked.csv")
    assert anonymous.status_code == 302


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("+46701234567", "+46701234567"),
        ("Anna", "Anna"),
        ("", ""),
    ],
)
def test_safe_cell(value, written):
    assert safe_cell(value) == written

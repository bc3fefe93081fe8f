"""Import preview writes nothing; apply writes accepted rows atomically; export round-trips."""

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from stagesub.roster import services, spreadsheets
from stagesub.roster.models import Musician
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra

TABLE = [
    ["Förnamn", "Efternamn", "E-post", "Telefon", "Språk", "Lokalt boende", "Tjänster"],
    ["Eva", "Lind", "eva.lind@example.se", "070-111 22 33", "sv", "ja", "Violin: Tutti violin 1"],
    ["Anna", "Berg", "ANNA.BERG@example.se", "", "en", "nej", ""],  # existing → update
    ["Per", "", "per@example.se", "", "sv", "nej", ""],  # no last name → reject
    ["Olle", "Holm", "olle@example.se", "", "sv", "kanske", "Violin: Nonexistent"],  # reject x2
    ["Eva", "Dubblett", "eva.lind@example.se", "", "sv", "nej", ""],  # same e-mail as row 2
    ["Karl", "Ny", "karl@example.se", "0701234567", "sv", "nej", ""],  # phone held by Anna
]


@pytest.fixture
def bound(goteborg):
    with use_orchestra(goteborg):
        services.create_musician(
            MusicianData(
                first_name="Anna",
                last_name="Berg",
                email="anna.berg@example.se",
                phone="+46701234567",
                notes="keep me",
            ),
            max_musicians=200,
        )
        yield goteborg


def test_preview_classifies_rows_and_writes_nothing(bound):
    preview = spreadsheets.preview_import(TABLE)
    assert [r.action for r in preview.rows] == [
        "create",
        "update",
        "reject",
        "reject",
        "reject",
        "reject",
    ]
    olle = preview.rows[3]
    assert any("ja/nej" in e for e in olle.errors) and any("Nonexistent" in e for e in olle.errors)
    assert any("row 2" in e for e in preview.rows[4].errors)
    assert any("Anna Berg (MUS001)" in e for e in preview.rows[5].errors)
    assert Musician.objects.count() == 1


def test_apply_writes_accepted_rows(bound):
    preview = spreadsheets.apply_import(TABLE, max_musicians=200)
    assert len(preview.creates) == 1 and len(preview.updates) == 1
    eva = Musician.objects.get(email="eva.lind@example.se")
    assert eva.phone == "+46701112233" and eva.local_residence
    assert [p.name for p in eva.qualifications.all()] == ["Tutti violin 1"]
    anna = Musician.objects.get(email__iexact="anna.berg@example.se")
    # The file has no notes column: an update keeps what the roster says.
    assert anna.preferred_language == "en" and anna.notes == "keep me"


def test_apply_is_all_or_nothing(bound):
    with pytest.raises(Exception, match="plan allows"):
        spreadsheets.apply_import(
            [TABLE[0], TABLE[1], ["Ny", "Person", "ny@example.se", "", "sv", "nej", ""]],
            max_musicians=2,
        )
    assert Musician.objects.count() == 1


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("roster.pdf", b"%PDF", ".csv or .xlsx"),
        ("roster.csv", b"", "empty"),
        ("roster.csv", b"name;mail\nx;y\n", "missing"),
        ("roster.xlsx", b"not a zip", "cannot be read"),
    ],
)
def test_unreadable_files_rejected_clearly(bound, filename, content, message):
    with pytest.raises(spreadsheets.ImportFileError, match=message):
        spreadsheets.preview_import(spreadsheets.read_table(filename, content))


def test_csv_and_xlsx_read_alike(bound):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(TABLE)
    from_csv = spreadsheets.read_table("r.csv", buffer.getvalue().encode("utf-8"))
    workbook = Workbook()
    for row in TABLE:
        workbook.active.append(row)
    data = io.BytesIO()
    workbook.save(data)
    from_xlsx = spreadsheets.read_table("r.xlsx", data.getvalue())
    assert from_csv == from_xlsx == TABLE


def test_export_round_trip_and_formula_neutralised(bound):
    services.create_musician(
        MusicianData(first_name="=HYPERLINK(1)", last_name="X", email="x@example.se"),
        max_musicians=200,
    )
    text = spreadsheets.export_csv().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:3] == ["Förnamn", "Efternamn", "E-post"]
    assert rows[1][:4] == ["Anna", "Berg", "anna.berg@example.se", "+46701234567"]
    assert rows[2][0] == "'=HYPERLINK(1)"
    sheet = load_workbook(io.BytesIO(spreadsheets.export_xlsx())).active
    assert sheet.cell(row=2, column=3).value == "anna.berg@example.se"
    # the export imports back without changes or rejections
    preview = spreadsheets.preview_import(rows)
    assert {r.action for r in preview.rows} == {"update"}

"""Importing an orchestra database of the original StageSub (a real PostgreSQL source built from
reference-schema.md, quirks included) into a real orchestra of ours."""

import datetime

import pytest
from django.core.management import CommandError, call_command

from stagesub.importer.models import ImportedRow
from stagesub.importer.reference import NotReferenceSchema, import_reference
from stagesub.messaging.defaults import DEFAULTS
from stagesub.messaging.models import MessageTemplate
from stagesub.messaging.templates_admin import current
from stagesub.offers.models import Offer, OfferEvent
from stagesub.orchestra.ids import next_readable_id
from stagesub.projects.files import files_dir, path_of
from stagesub.projects.models import Need, Project, ProjectFile, ProjectList
from stagesub.rankings.models import RankingEntry, RankingList
from stagesub.roster.models import Instrument, Musician, Position, Qualification
from stagesub.tenancy import use_orchestra
from tests.postgres.reference_source import source_database

MODELS = [
    Instrument,
    Position,
    Musician,
    Qualification,
    RankingList,
    RankingEntry,
    Project,
    ProjectList,
    Need,
    Offer,
    OfferEvent,
    ImportedRow,
]


def utc(*args):
    return datetime.datetime(*args, tzinfo=datetime.UTC)


def counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def ranked(list_id):
    return list(
        RankingEntry.objects.filter(ranking_list__ranking_list_id=list_id)
        .order_by("rank")
        .values_list("musician__musician_id", "rank")
    )


def test_import_fills_the_orchestra_and_reports_every_quirk(goteborg):
    with source_database() as url, use_orchestra(goteborg):
        report = import_reference(url)
        lines = "\n".join(report.lines())

        # Violin, Flöjt and their positions exist in every new orchestra: reused, not doubled.
        assert report.created["instruments"] == 1 and report.created["positions"] == 2
        assert Instrument.objects.filter(name="Violin").count() == 1
        assert "skipped instrument INST001: exists here; reused" in lines
        # 7 source musicians: the test one skipped, the case-twin merged into MUS001.
        assert Musician.objects.count() == 5
        assert report.created["musicians"] == 5
        anna = Musician.objects.get(musician_id="MUS001")
        assert (anna.email, anna.phone, anna.preferred_language) == (
            "anna@x.se",
            "+46701234567",
            "sv",
        )
        assert Musician.objects.get(musician_id="MUS002").status == Musician.Status.INACTIVE
        assert Musician.objects.get(musician_id="MUS003").status == Musician.Status.ARCHIVED
        assert Musician.objects.get(musician_id="MUS010").phone == ""  # invalid number dropped
        gus = Musician.objects.get(email="gus@x.se")
        assert gus.musician_id == "MUS011"  # its cuid id gets a fresh id past the kept MUS010
        assert gus.preferred_language == "en"
        assert not Musician.objects.filter(email__endswith="stagesubtest.com").exists()
        assert "Anna@X.se differs only by case: merged" in lines
        assert "test data (@stagesubtest.com)" in lines
        assert 'table "Orchestra" is a leftover' in lines
        assert 'column "Musician"."notes" missing' in lines
        assert "source IdSequence 'musician' is behind: 3 < 10" in lines
        assert "source IdSequence has no 'request' row" in lines
        assert "week 21 disagrees" in lines
        assert "response time None, 48 hours used" in lines

        gamba = Instrument.objects.get(name="Viola da gamba")
        assert gamba.display_order == 999  # NULL sorts last, as in the original
        assert gamba.instrument_id == "INST015"  # INST002 is taken here by the seeded Viola
        assert set(
            Qualification.objects.filter(musician=anna).values_list("position__name", flat=True)
        ) == {"Tutti violin 1", "Konsertmästare"}

        # List orders kept; the merged twin is not on a list twice; the gap closed.
        assert ranked("RANK001") == [("MUS010", 1), ("MUS001", 2), ("MUS011", 3)]
        assert ranked("RANK003") == [("MUS003", 1), ("MUS002", 2), ("MUS011", 3)]

        assert set(Project.objects.values_list("project_id", flat=True)) == {"PROJ001", "PROJ002"}
        need3 = Need.objects.get(need_id="NEED003")
        assert need3.ranking_list is None and need3.max_recipients is None
        assert list(need3.project_list.entries.values_list("musician__musician_id", flat=True)) == [
            "MUS011",
            "MUS002",
        ]
        assert Need.objects.get(need_id="NEED002").response_time_hours == 48
        assert Need.objects.get(need_id="NEED002").status == Need.Status.COMPLETED

        # REQ008 (the merged twin, already asked in PROJ001) and REQ009 (test) are not imported.
        assert sorted(Offer.objects.values_list("offer_id", flat=True)) == [
            f"REQ00{n}" for n in range(1, 8)
        ]
        assert "skipped request REQ008: a second request of the musician in the project" in lines
        assert Offer.objects.get(offer_id="REQ006").status == Offer.Status.WITHDRAWN
        history = list(
            OfferEvent.objects.filter(offer__offer_id="REQ003").values_list("kind", "at")
        )
        # The original's zone-less timestamps are UTC wall-clock time.
        assert history == [("sent", utc(2026, 2, 1, 9)), ("reminded", utc(2026, 2, 2, 3))]
        assert list(
            OfferEvent.objects.filter(offer__offer_id="REQ001").values_list("kind", flat=True)
        ) == ["sent", "accepted"]
        assert next_readable_id("REQ") == "REQ008"
        assert next_readable_id("MUS") == "MUS012"


def test_templates_get_our_variable_names_or_are_reported_by_name(goteborg):
    with source_database() as url, use_orchestra(goteborg):
        report = import_reference(url)
        lines = "\n".join(report.lines())
        request = MessageTemplate.objects.get(kind="request", language="sv")
        assert request.subject == "Förfrågan: {{projectName}}"
        assert request.body == (
            "Hej {{fullName}}!\nVi söker {{quantity}} {{position}} till {{projectName}}.\n"
            "Svara inom {{responseTime}} timmar: {{responseUrl}}"
        )
        assert report.created["templates"] == 1
        assert (
            "skipped template request_en: variables with no equivalent here: yesLink, noLink"
            in lines
        )
        assert "skipped template reminder: Malformed variable: {firstName}" in lines
        assert "skipped template welcome: no such template here" in lines
        assert current("request", "en") == DEFAULTS[("request", "en")]


def test_files_with_their_bytes_from_the_database_or_the_files_folder(goteborg, tmp_path):
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "schema.txt").write_bytes(b"Repetition 10-13")
    with source_database() as url, use_orchestra(goteborg):
        report = import_reference(url, files_dir=tmp_path)
        lines = "\n".join(report.lines())
        first, second = ProjectFile.objects.filter(file_id__in=["FILE001", "FILE002"]).order_by(
            "file_id"
        )
        assert first.stored == second.stored  # one URL, one copy of the bytes
        assert (first.need.need_id, first.file_type, first.send_timing) == (
            "NEED002",
            "sheet_music",
            "on_accept",
        )
        assert path_of(first.stored).read_bytes() == b"%PDF-1.4"
        schedule = ProjectFile.objects.get(file_id="FILE003")
        assert path_of(schedule.stored).read_bytes() == b"Repetition 10-13"
        assert "skipped file FILE004: /uploads/borta.pdf not found under" in lines
        assert "skipped file FILE005: type '.exe' not allowed here" in lines
        assert report.created["files"] == 3


def test_legacy_file_bytes_need_the_files_folder(goteborg):
    with source_database() as url, use_orchestra(goteborg):
        report = import_reference(url)
        assert (
            "file",
            "FILE003",
            "bytes at /uploads/schema.txt not in the database (give --files DIR)",
        ) in report.skipped


def test_dry_run_reports_and_writes_nothing(goteborg):
    with source_database() as url, use_orchestra(goteborg):
        before = counts()
        report = import_reference(url, dry_run=True)
        assert counts() == before
        assert "would create 5 musicians" in report.lines()
        assert not list(files_dir().iterdir())  # no bytes either
        assert next_readable_id("MUS") == "MUS001"


def test_second_run_writes_nothing_new(goteborg):
    with source_database() as url, use_orchestra(goteborg):
        import_reference(url)
        after_first = counts()
        again = import_reference(url)
        assert counts() == after_first
        assert not again.created.get("musicians") and not again.created.get("requests")
        assert again.already["musicians"] == 5 and again.already["requests"] == 7


def test_a_source_that_is_not_the_original_schema_is_refused_and_nothing_written(goteborg):
    wrong = (
        'CREATE TABLE "Musician" (id serial PRIMARY KEY, name text); CREATE TABLE other (x int);'
    )
    with source_database(wrong) as url:
        with use_orchestra(goteborg):
            before = counts()
            with pytest.raises(NotReferenceSchema, match='table "Instrument"'):
                import_reference(url)
            assert counts() == before
        with pytest.raises(CommandError, match="Nothing was written"):
            call_command("import_reference", "--from", url, "--subdomain", goteborg.subdomain)

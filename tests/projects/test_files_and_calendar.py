"""Project files (own storage root, reuse, access control) and the iCalendar export."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from icalendar import Calendar

from stagesub.projects import files, services
from stagesub.projects.models import Need, Project, ProjectFile, StoredFile
from stagesub.projects.services import NeedData, ProjectData
from stagesub.tenancy import use_orchestra
from tests.conftest import host_client, listed_musicians, login

PDF = b"%PDF-1.4 sheet music"


@pytest.fixture
def project(goteborg):
    with use_orchestra(goteborg):
        tutti, _musicians, a_list = listed_musicians(4, name="V{}")
        project = services.create_project(
            ProjectData(
                name="Mahler 2",
                start_date=datetime.date(2027, 3, 10),
                rehearsal_schedule="Mån 10–13",
                concert_info="Fre 19.30 Stora salen",
            ),
            max_projects=20,
        )
        for _ in range(2):
            services.create_need(
                project,
                NeedData(
                    position_id=tutti.pk,
                    quantity=1,
                    strategy="sequential",
                    response_time_hours=24,
                    ranking_list_id=a_list.pk,
                ),
            )
        yield project


def test_upload_stores_bytes_under_the_orchestras_own_root(project, goteborg, settings):
    with use_orchestra(goteborg):
        project_file = files.upload(
            project, name="noter.pdf", content=PDF, file_type="sheet_music", send_timing="on_accept"
        )
        path = files.path_of(project_file.stored)
    assert project_file.file_id == "FILE001" and path.read_bytes() == PDF
    assert goteborg.id.hex in str(path) and str(settings.DATA_DIR) in str(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("virus.exe", PDF, "cannot be uploaded"),
        ("noter.pdf", b"", "empty"),
        ("noter.pdf", b"x" * 2048, "larger"),
    ],
)
def test_bad_uploads_refused_and_nothing_kept(project, goteborg, settings, name, content, message):
    settings.MAX_UPLOAD_BYTES = 1024
    with use_orchestra(goteborg):
        with pytest.raises(Exception, match=message):
            files.upload(project, name=name, content=content)
        assert not StoredFile.objects.exists()
        assert not list(files.files_dir().iterdir())


def test_reuse_shares_bytes_and_survives_removal_of_one_link(project, goteborg):
    with use_orchestra(goteborg):
        first_need, second_need = Need.objects.all()
        original = files.upload(project, name="noter.pdf", content=PDF, need=first_need)
        reused = files.reuse(original, need=second_need)
        assert reused.stored_id == original.stored_id and StoredFile.objects.count() == 1
        path = files.path_of(original.stored)
        files.remove(original)
        assert path.exists() and ProjectFile.objects.get() == reused
        files.remove(reused)
        assert not StoredFile.objects.exists()
    assert not path.exists()


def test_download_only_for_the_orchestras_logged_in_users(project, goteborg, malmo):
    with use_orchestra(goteborg):
        files.upload(project, name="noter.pdf", content=PDF)
    client = login(goteborg, "goteborg-admin")
    response = client.get("/projects/PROJ001/files/FILE001/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert host_client(goteborg).get("/projects/PROJ001/files/FILE001/").status_code == 302
    # Malmö's host never reaches Göteborg's database or files, whatever id is asked for
    assert login(malmo, "malmo-admin").get("/projects/PROJ001/files/FILE001/").status_code == 404


def test_upload_through_the_page_with_errors_next_to_the_field(project, goteborg):
    client = login(goteborg, "goteborg-admin")
    bad = SimpleUploadedFile("program.exe", b"MZ")
    response = client.post(
        "/projects/PROJ001/files/new/",
        {"file": bad, "file_type": "general_info", "send_timing": "on_request"},
    )
    assert response.status_code == 400 and response.context["file_form"].errors["file"]
    good = SimpleUploadedFile("noter.pdf", PDF)
    response = client.post(
        "/projects/PROJ001/files/new/",
        {"file": good, "file_type": "sheet_music", "send_timing": "on_accept", "need": "NEED001"},
    )
    assert response.status_code == 302
    with use_orchestra(goteborg):
        assert ProjectFile.objects.get().need.need_id == "NEED001"


def test_deleting_the_project_deletes_its_files(project, goteborg):
    with use_orchestra(goteborg):
        path = files.path_of(files.upload(project, name="noter.pdf", content=PDF).stored)
        services.delete_project(project)
        assert not Project.objects.exists()
    assert not path.exists()


def test_project_calendar_parses_back(project, goteborg):
    client = login(goteborg, "goteborg-admin")
    response = client.get("/projects/PROJ001/calendar.ics")
    assert response["Content-Type"].startswith("text/calendar")
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert str(event["summary"]) == "Mahler 2"
    assert event.decoded("dtstart") == datetime.date(2027, 3, 10)
    assert event.decoded("dtend") == datetime.date(2027, 3, 15)  # through Sunday of the week
    assert "Stora salen" in str(event["description"]) and "Mån 10–13" in str(event["description"])
    uid = str(event["uid"])
    again = Calendar.from_ical(client.get("/projects/PROJ001/calendar.ics").content).walk("VEVENT")[
        0
    ]
    assert str(again["uid"]) == uid  # stable


def test_feed_needs_its_token_and_lists_upcoming_projects(project, goteborg):
    client = login(goteborg, "goteborg-admin")
    page = client.get("/projects/").content.decode()
    feed_path = page.split("/calendar/")[1].split(".ics")[0]
    anonymous = host_client(goteborg)
    response = anonymous.get(f"/calendar/{feed_path}.ics")
    assert response.status_code == 200
    summaries = [str(e["summary"]) for e in Calendar.from_ical(response.content).walk("VEVENT")]
    assert summaries == ["Mahler 2"]
    assert anonymous.get("/calendar/wrong-token.ics").status_code == 404
    client.post("/projects/calendar/renew/")
    assert anonymous.get(f"/calendar/{feed_path}.ics").status_code == 404


def test_staffing_labels(project, goteborg):
    with use_orchestra(goteborg):
        assert services.staffing(project)["label"] == "not_started"
        empty = services.create_project(
            ProjectData(name="Tom", start_date=datetime.date(2027, 5, 1)), max_projects=20
        )
        assert services.staffing(empty)["label"] == "no_needs"
        assert {services.need_state(n) for n in project.needs.all()} == {"not_started"}


def test_isolation_counts_projects(project):
    from stagesub.tenancy.isolation import verify_isolation

    assert verify_isolation().checks[0].counts["projects"] == 1
    call_command("check_database", "goteborg")

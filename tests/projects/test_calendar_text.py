"""Names with line breaks and control characters: the calendar stays valid, forms refuse them."""

import datetime
import re

import pytest
from icalendar import Calendar

from stagesub.projects import services
from stagesub.projects.models import Project
from stagesub.projects.services import ProjectData
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.models import Orchestra
from tests.conftest import host_client, login

# Written before forms refused them (or by an import): the calendar must still be valid.
NAMES = [
    ("Mahler 2\nVerdi Requiem", "Mahler 2\nVerdi Requiem"),
    ("Mahler 2\r\nBEGIN:VEVENT", "Mahler 2\nBEGIN:VEVENT"),
    ("Bell\x07 concert; a, b", "Bell concert; a, b"),
]


def _upcoming(goteborg, name):
    with use_orchestra(goteborg):
        return services.create_project(
            ProjectData(
                name=name,
                start_date=datetime.date.today() + datetime.timedelta(days=30),
                rehearsal_schedule="Mån 10–13\r\nTis 10–13",
            ),
            max_projects=20,
        )


def _unescaped(text: str) -> str:
    # icalendar leaves X- properties as written; calendar apps read them as TEXT (RFC 5545 3.3.11)
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], text)


@pytest.mark.parametrize(("name", "shown"), NAMES)
def test_project_calendar_with_a_line_break_in_the_name_parses_back(goteborg, name, shown):
    project = _upcoming(goteborg, name)
    response = login(goteborg, "goteborg-admin").get(f"/projects/{project.project_id}/calendar.ics")
    assert response.status_code == 200
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    assert str(event["summary"]) == shown
    calname = _unescaped(str(calendar["x-wr-calname"]))
    assert calname == " ".join(shown.split())
    assert "Mån 10–13\nTis 10–13" in str(event["description"])
    # every content line is a property of its own: nothing the name smuggled in
    assert [c.name for c in calendar.walk()] == ["VCALENDAR", "VEVENT"]


@pytest.mark.parametrize(("name", "shown"), NAMES)
def test_feed_with_such_names_parses_back(goteborg, name, shown):
    _upcoming(goteborg, name)
    Orchestra.objects.filter(pk=goteborg.pk).update(name="Göteborgs\nSymfoniker")
    page = login(goteborg, "goteborg-admin").get("/projects/").content.decode()
    token = page.split("/calendar/")[1].split(".ics")[0]
    response = host_client(goteborg).get(f"/calendar/{token}.ics")
    assert response.status_code == 200
    calendar = Calendar.from_ical(response.content)
    assert [str(e["summary"]) for e in calendar.walk("VEVENT")] == [shown]


@pytest.mark.parametrize("name", ["Mahler 2\nVerdi", "Mahler\r2", "Mahler\x002", "Tab\tname"])
def test_the_project_form_refuses_control_characters_in_the_name(goteborg, name):
    client = login(goteborg, "goteborg-admin")
    response = client.post(
        "/projects/new/", {"name": name, "start_date": "2027-03-08", "notes": "ok\nok"}
    )
    assert response.status_code == 200
    assert (
        "Remove the line breaks and other invisible characters."
        in (response.context["form"].errors["name"])
    )
    with use_orchestra(goteborg):
        assert not Project.objects.exists()


def test_the_project_form_still_takes_line_breaks_in_the_schedule(goteborg):
    client = login(goteborg, "goteborg-admin")
    response = client.post(
        "/projects/new/",
        {"name": "Mahler 2", "start_date": "2027-03-08", "rehearsal_schedule": "Mån\r\nTis"},
    )
    assert response.status_code == 302
    with use_orchestra(goteborg):
        assert Project.objects.get().rehearsal_schedule == "Mån\r\nTis"

"""A project's days: a week fills in Monday–Sunday, an end date before the start is refused
next to the field, and the migration gives existing projects the Sunday of their week."""

from __future__ import annotations

import datetime
import importlib

from django.apps import apps
from django.db import connections

from stagesub.projects import services as projects
from stagesub.projects.models import Project
from stagesub.projects.services import ProjectData
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import current_binding
from tests.conftest import login


def test_a_week_fills_in_monday_to_sunday_and_dates_can_span_weeks(goteborg):
    client = login(goteborg, "goteborg-admin")
    assert client.post("/projects/new/", {"name": "Veckan", "week": 10}).status_code == 302
    start, end = "2027-03-10", "2027-03-21"
    response = client.post(
        "/projects/new/", {"name": "Turné", "start_date": start, "end_date": end}
    )
    assert response.status_code == 302
    with use_orchestra(goteborg):
        week, tour = Project.objects.order_by("pk")
    assert week.start_date.weekday() == 0
    assert week.end_date == week.start_date + datetime.timedelta(days=6)
    assert (tour.start_date.isoformat(), tour.end_date.isoformat()) == (start, end)
    page = client.get(f"/projects/{tour.project_id}/edit/").content.decode()
    assert 'value="2027-03-21"' in page


def test_an_end_before_the_start_is_refused_next_to_the_field(goteborg):
    client = login(goteborg, "goteborg-admin")
    response = client.post(
        "/projects/new/",
        {"name": "Baklänges", "start_date": "2027-03-10", "end_date": "2027-03-09"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["end_date"]
    too_long = client.post(
        "/projects/new/", {"name": "För lång", "start_date": "2027-03-10", "end_date": "2028-03-10"}
    )
    assert too_long.context["form"].errors["end_date"]
    with use_orchestra(goteborg):
        assert not Project.objects.exists()


def test_the_migration_ends_existing_projects_on_the_sunday_of_their_week(goteborg):
    migration = importlib.import_module("stagesub.projects.migrations.0003_project_end_date")
    with use_orchestra(goteborg):
        wednesday = datetime.date(2027, 3, 10)
        project = projects.create_project(
            ProjectData(name="Gammalt", start_date=wednesday), max_projects=10
        )
        Project.objects.filter(pk=project.pk).update(end_date=wednesday)  # as if just added

        class Editor:  # what the function reads of a schema editor: the connection
            connection = connections[current_binding().alias]

        migration.fill_end_dates(apps, Editor())
        project.refresh_from_db()
    assert project.end_date == datetime.date(2027, 3, 14)

"""Plans that mean something: limits from the plan and overrides, at use time, shown to staff."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from stagesub.projects import services as projects
from stagesub.projects.models import Project
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.plans import PLAN_LIMITS, change_plan, limits_for, usage_report
from stagesub.tenancy.seeding import run_demo_steps
from tests.conftest import PASSWORD, host_client, login


@pytest.fixture
def console(superadmin):
    client = host_client()
    assert client.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


def _projects(orchestra, count):
    with use_orchestra(orchestra):
        for i in range(count):
            projects.create_project(
                projects.ProjectData(name=f"P{i}", start_date=datetime.date(2027, 1, 1)),
                max_projects=10_000,
            )


def test_limits_come_from_the_plan_with_overrides_first(make_orchestra):
    small = make_orchestra(plan="small")
    medium = make_orchestra(plan="medium")
    assert small.max_musicians == PLAN_LIMITS["small"].musicians
    assert medium.max_projects == PLAN_LIMITS["medium"].projects
    assert small.limits != medium.limits
    medium.projects_limit = 7
    assert limits_for(medium).projects == 7 and medium.max_projects == 7
    assert medium.max_musicians == PLAN_LIMITS["medium"].musicians


def test_changing_the_plan_in_the_console_changes_the_limit_at_once(console, goteborg):
    limit = PLAN_LIMITS["small"].projects
    _projects(goteborg, limit)
    staff = login(goteborg, "goteborg-admin")
    new_project = {"name": "Extra", "start_date": "2027-02-01"}
    assert staff.post("/projects/new/", new_project).status_code == 302  # medium: room left

    with use_orchestra(goteborg):
        Project.objects.filter(name="Extra").delete()
    response = console.post(f"/superadmin/orchestras/{goteborg.subdomain}/plan/", {"plan": "small"})
    assert response.status_code == 302
    assert Orchestra.objects.get(pk=goteborg.pk).plan == "small"
    refused = staff.post("/projects/new/", new_project).content.decode()
    assert f"Your plan allows {limit} projects" in refused and "contact" in refused

    # An override raises one limit for this orchestra only.
    response = console.post(
        f"/superadmin/orchestras/{goteborg.subdomain}/plan/",
        {"plan": "small", "projects_limit": limit + 5},
    )
    assert response.status_code == 302
    assert staff.post("/projects/new/", new_project).status_code == 302


def test_a_plan_or_limit_below_usage_is_refused_with_the_numbers(console, goteborg):
    limit = PLAN_LIMITS["small"].projects
    _projects(goteborg, limit + 1)
    url = f"/superadmin/orchestras/{goteborg.subdomain}/plan/"
    response = console.post(url, {"plan": "small"})
    assert response.status_code == 400
    assert f"the new limit {limit} is below the {limit + 1} in use" in response.content.decode()
    response = console.post(url, {"plan": "medium", "projects_limit": 3})
    assert response.status_code == 400
    assert f"the new limit 3 is below the {limit + 1} in use" in response.content.decode()
    goteborg.refresh_from_db()
    assert goteborg.plan == "medium" and goteborg.projects_limit is None
    with pytest.raises(ValidationError):
        change_plan(goteborg, "medium", {"musicians": 0, "staff_users": 0})


@pytest.mark.parametrize(
    ("used", "shown"),
    [
        (7, None),
        (8, "80 % used."),
        (9, "90 % used: the limit is close."),
        (10, "Limit reached: nothing more can be added."),
    ],
)
def test_staff_see_usage_against_limits_on_their_dashboard(goteborg, used, shown):
    change_plan(goteborg, "medium", {"projects": 10})
    _projects(goteborg, used)
    page = login(goteborg, "goteborg-admin").get("/").content.decode()
    assert f"{used} / 10" in page
    assert "To raise a limit, contact the platform: support@" in page
    for message in ("% used", "Limit reached"):
        assert (message in page) == (shown is not None and message in shown)
    if shown:
        assert shown in page


def test_demo_orchestras_are_seeded_well_below_their_limits(goteborg):
    with use_orchestra(goteborg):
        run_demo_steps(goteborg)
    report = usage_report(goteborg)
    assert report and all(item.percent < 80 for item in report), report


def test_staff_usage_counts_active_staff_only(goteborg):
    assert {u.name: u.used for u in usage_report(goteborg)}["staff_users"] == 1
    goteborg.users.update(is_active=False)
    assert {u.name: u.used for u in usage_report(goteborg)}["staff_users"] == 0

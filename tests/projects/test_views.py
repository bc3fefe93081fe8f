"""Project pages: create by week, needs with errors next to the field, project lists and templates."""

import datetime

import pytest

from stagesub.projects.models import Need, Project, ProjectList
from stagesub.rankings import services as rankings
from stagesub.roster import services as roster
from stagesub.roster.models import Position
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra
from tests.conftest import host_client, login


@pytest.fixture
def client(goteborg):
    with use_orchestra(goteborg):
        tutti = Position.objects.get(name="Tutti violin 1")
        musicians = [
            roster.create_musician(
                MusicianData(
                    first_name=f"V{i}",
                    last_name="Fiol",
                    email=f"v{i}@example.se",
                    position_ids=[tutti.pk],
                ),
                max_musicians=100,
            )
            for i in range(4)
        ]
        rankings.add_musicians(rankings.create_list(tutti, "A"), [m.pk for m in musicians])
    return login(goteborg, "goteborg-admin")


def test_create_by_week_number_then_view(client, goteborg):
    response = client.post("/projects/new/", {"name": "Mahler 2", "week": 10})
    assert response["Location"] == "/projects/PROJ001/"
    with use_orchestra(goteborg):
        project = Project.objects.get()
    assert project.start_date.weekday() == 0 and project.week == 10
    assert project.start_date >= datetime.date.today() - datetime.timedelta(days=6)
    assert "Mahler 2" in client.get("/projects/PROJ001/").content.decode()
    assert "Mahler 2" in client.get("/projects/?show=all").content.decode()


def test_missing_date_and_week_is_an_error_next_to_the_field(client):
    response = client.post("/projects/new/", {"name": "X"})
    assert response.status_code == 200 and response.context["form"].errors["start_date"]
    response = client.post("/projects/new/", {"name": "X", "week": 54})
    assert response.context["form"].errors["week"]


def test_need_form_errors_and_success(client, goteborg):
    client.post("/projects/new/", {"name": "Mahler 2", "start_date": "2027-03-08"})
    with use_orchestra(goteborg):
        tutti = Position.objects.get(name="Tutti violin 1")
        a_list = tutti.ranking_lists.get()
    data = {
        "position": tutti.pk,
        "chosen_list": f"rank:{a_list.pk}",
        "strategy": "parallel",
        "quantity": 1,
        "response_time": 2,
        "response_unit": "days",
    }
    response = client.post("/projects/PROJ001/needs/new/", data)
    assert response.status_code == 400 and response.context["need_form"].errors["quantity"]
    response = client.post("/projects/PROJ001/needs/new/", {**data, "quantity": 2})
    assert response.status_code == 302
    with use_orchestra(goteborg):
        need = Need.objects.get()
    assert need.response_time_hours == 48 and need.strategy == "parallel"
    client.post("/projects/PROJ001/needs/NEED001/", {"action": "pause"})
    with use_orchestra(goteborg):
        assert Need.objects.get().status == "paused"


def test_project_list_copy_reorder_template_apply(client, goteborg):
    client.post("/projects/new/", {"name": "Mahler 2", "start_date": "2027-03-08"})
    client.post("/projects/new/", {"name": "Bruckner 7", "start_date": "2027-04-12"})
    with use_orchestra(goteborg):
        tutti = Position.objects.get(name="Tutti violin 1")
        a_list = tutti.ranking_lists.get()
    response = client.post(
        "/projects/PROJ001/lists/new/", {"position": tutti.pk, "copy_from": f"rank:{a_list.pk}"}
    )
    assert response["Location"] == "/projects/PROJ001/lists/CLIST001/"
    page = client.get("/projects/PROJ001/lists/CLIST001/")
    assert page.status_code == 200 and "V. 10 Mahler 2" in page.content.decode()
    with use_orchestra(goteborg):
        plist = ProjectList.objects.get()
        ids = list(plist.entries.values_list("pk", flat=True))
    assert (
        client.post(
            "/projects/PROJ001/lists/CLIST001/reorder/",
            {"order": ids[::-1], "version": plist.version},
        ).status_code
        == 200
    )
    client.post(
        "/projects/PROJ001/lists/CLIST001/action/",
        {"action": "template", "template_name": "Tutti-mall"},
    )
    response = client.post("/projects/PROJ002/lists/template/", {"template": plist.pk})
    assert response["Location"] == "/projects/PROJ002/lists/CLIST002/"
    with use_orchestra(goteborg):
        applied = ProjectList.objects.get(list_id="CLIST002")
        assert [e.musician.first_name for e in applied.entries.all()] == ["V3", "V2", "V1", "V0"]


def test_delete_project_needs_the_word(client, goteborg):
    client.post("/projects/new/", {"name": "Mahler 2", "start_date": "2027-03-08"})
    client.post("/projects/PROJ001/action/", {"action": "delete", "confirm": "nej"})
    with use_orchestra(goteborg):
        assert Project.objects.exists()
    client.post("/projects/PROJ001/action/", {"action": "delete", "confirm": "RADERA"})
    with use_orchestra(goteborg):
        assert not Project.objects.exists()


def test_project_pages_stay_in_their_orchestra(client, goteborg, malmo):
    client.post("/projects/new/", {"name": "Mahler 2", "start_date": "2027-03-08"})
    assert login(malmo, "malmo-admin").get("/projects/PROJ001/").status_code == 404
    assert host_client(goteborg).get("/projects/").status_code == 302


def test_copy_from_another_projects_list_of_another_position_is_refused(client, goteborg):
    client.post("/projects/new/", {"name": "Mahler 2", "start_date": "2027-03-08"})
    client.post("/projects/new/", {"name": "Bruckner 7", "start_date": "2027-04-12"})
    with use_orchestra(goteborg):
        tutti = Position.objects.get(name="Tutti violin 1")
        viola = Position.objects.get(name="Tutti", instrument__name="Viola")
    client.post("/projects/PROJ001/lists/new/", {"position": tutti.pk})
    with use_orchestra(goteborg):
        first = ProjectList.objects.get()
    page = client.get("/projects/PROJ002/").content.decode()
    assert f'value="project:{first.pk}"' in page
    response = client.post(
        "/projects/PROJ002/lists/new/", {"position": viola.pk, "copy_from": f"project:{first.pk}"}
    )
    assert response["Location"] == "/projects/PROJ002/"
    with use_orchestra(goteborg):
        assert ProjectList.objects.count() == 1


def test_edit_need_page(client, goteborg):
    client.post("/projects/new/", {"name": "Mahler 2", "start_date": "2027-03-08"})
    with use_orchestra(goteborg):
        tutti = Position.objects.get(name="Tutti violin 1")
        a_list = tutti.ranking_lists.get()
    data = {
        "position": tutti.pk,
        "chosen_list": f"rank:{a_list.pk}",
        "strategy": "sequential",
        "quantity": 1,
        "response_time": 2,
        "response_unit": "days",
    }
    client.post("/projects/PROJ001/needs/new/", data)
    page = client.get("/projects/PROJ001/needs/NEED001/edit/")
    assert page.status_code == 200 and page.context["form"].initial["response_unit"] == "days"
    response = client.post("/projects/PROJ001/needs/NEED001/edit/", {**data, "quantity": 9})
    assert response.status_code == 400 and "quantity" in response.context["form"].errors
    response = client.post("/projects/PROJ001/needs/NEED001/edit/", {**data, "quantity": 3})
    assert response.status_code == 302
    with use_orchestra(goteborg):
        assert Need.objects.get().quantity == 3


def test_at_the_project_limit_new_project_says_so_before_the_form(client, goteborg, settings):
    goteborg.projects_limit = 1
    goteborg.save()
    assert client.get("/projects/new/").context["form"]  # room left: the form
    client.post("/projects/new/", {"name": "Mahler 2", "start_date": "2027-03-08"})
    listing = client.get("/projects/").content.decode()
    assert "Your plan allows 1 projects" in listing and settings.PLATFORM_CONTACT in listing
    assert 'href="/projects/new/"' not in listing and "disabled" in listing
    new = client.get("/projects/new/")
    page = new.content.decode()
    assert "Your plan allows 1 projects" in page and settings.PLATFORM_CONTACT in page
    assert 'name="name"' not in page  # no form to fill in for nothing


def test_failed_add_need_and_upload_summarise_errors_first_and_their_addresses_answer_get(
    client, goteborg
):
    client.post("/projects/new/", {"name": "Mahler 2", "start_date": "2027-03-08"})
    failed = client.post("/projects/PROJ001/needs/new/", {"quantity": "0"})
    page = failed.content.decode()
    assert failed.status_code == 400
    summary = page.index('data-testid="error-summary"')
    assert summary < page.index('id="offers-panel"')  # before the rest of the page
    assert 'href="#id_quantity"' in page[summary:] and "data-focus-on-load" in page
    reload = client.get("/projects/PROJ001/needs/new/")
    assert reload.status_code == 302 and reload["Location"] == "/projects/PROJ001/"
    upload = client.post("/projects/PROJ001/files/new/", {"display_name": "x"})
    page = upload.content.decode()
    assert upload.status_code == 400 and 'href="#id_file"' in page
    assert page.index('data-testid="error-summary"') < page.index('id="offers-panel"')
    assert client.get("/projects/PROJ001/files/new/").status_code == 302


def test_need_form_lists_only_the_chosen_positions_lists_in_the_page_language(client, goteborg):
    client.post("/projects/new/", {"name": "Mahler 2", "start_date": "2027-03-08"})
    with use_orchestra(goteborg):
        tutti = Position.objects.get(name="Tutti violin 1")
        a_list = tutti.ranking_lists.get()
        viola = Position.objects.filter(instrument__name="Viola").first()
        viola_list = rankings.create_list(viola, "B")
    page = client.get("/projects/PROJ001/").content.decode()
    assert 'hx-get="/projects/PROJ001/need-lists/"' in page and "-lista" not in page
    select = client.get(f"/projects/PROJ001/need-lists/?position={tutti.pk}").content.decode()
    assert f"rank:{a_list.pk}" in select and f"rank:{viola_list.pk}" not in select
    assert 'id="id_chosen_list"' in select and "A list, Violin" in select
    huge = client.get("/projects/PROJ001/need-lists/?position=99999999999999999999999")
    assert huge.status_code == 200  # no such position: every list, not a server error
    data = {
        "position": tutti.pk,
        "chosen_list": f"rank:{viola_list.pk}",  # another position's list
        "strategy": "sequential",
        "quantity": 1,
        "response_time": 2,
        "response_unit": "days",
    }
    refused = client.post("/projects/PROJ001/needs/new/", data)
    assert refused.status_code == 400 and refused.context["need_form"].errors["chosen_list"]
    sv = host_client(goteborg, language="sv")
    sv.cookies = client.cookies
    sv.cookies["django_language"] = "sv"
    swedish = sv.get(f"/projects/PROJ001/need-lists/?position={tutti.pk}").content.decode()
    assert "A-lista, Violin" in swedish
    with use_orchestra(goteborg):
        assert not Need.objects.exists()


def test_ranking_list_pages_name_lists_in_the_page_language(client, goteborg):
    with use_orchestra(goteborg):
        a_list = Position.objects.get(name="Tutti violin 1").ranking_lists.get()
    url = f"/rankings/{a_list.ranking_list_id}/"
    english = client.get(url).content.decode()
    assert "-lista" not in english and "A list, Violin" in english
    client.cookies["django_language"] = "sv"
    assert "A-lista, Violin" in client.get(url).content.decode()

"""Projects, needs and project lists: the rules of issues 4 and 5 that exist so far."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from stagesub.projects import services
from stagesub.projects.models import Need, Project, ProjectList
from stagesub.projects.services import NeedData, ProjectData
from stagesub.rankings import services as rankings
from stagesub.roster import services as roster
from stagesub.roster.models import Musician, Position
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra


@pytest.fixture
def world(goteborg):
    with use_orchestra(goteborg):
        tutti = Position.objects.get(name="Tutti violin 1")
        musicians = [
            roster.create_musician(
                MusicianData(
                    first_name=f"V{i}",
                    last_name="Fiol",
                    email=f"v{i}@example.se",
                    position_ids=[tutti.pk],
                    local_residence=i % 2 == 0,
                ),
                max_musicians=500,
            )
            for i in range(6)
        ]
        a_list = rankings.create_list(tutti, "A")
        rankings.add_musicians(a_list, [m.pk for m in musicians])
        project = services.create_project(
            ProjectData(name="Beethoven 5", start_date=datetime.date(2026, 12, 9)), max_projects=20
        )
        yield {"tutti": tutti, "musicians": musicians, "a_list": a_list, "project": project}


def _need(world, **kw):
    data = {
        "position_id": world["tutti"].pk,
        "quantity": 2,
        "strategy": "parallel",
        "response_time_hours": 48,
        "ranking_list_id": world["a_list"].pk,
        **kw,
    }
    return NeedData(**data)


def test_project_ids_week_and_status(world):
    project = world["project"]
    assert project.project_id == "PROJ001" and project.week == 50
    assert project.is_upcoming(datetime.date(2026, 12, 13))  # Sunday of the start week
    assert not project.is_upcoming(datetime.date(2026, 12, 14))
    assert str(project) == "V. 50 Beethoven 5"


def test_project_plan_limit(world):
    with pytest.raises(ValidationError, match="plan allows 1"):
        services.create_project(
            ProjectData(name="X", start_date=datetime.date(2027, 1, 1)), max_projects=1
        )
    services.set_project_archived(world["project"], True)
    services.create_project(
        ProjectData(name="X", start_date=datetime.date(2027, 1, 1)), max_projects=1
    )


def test_project_list_named_for_the_week_one_per_position(world):
    project_list = services.create_project_list(
        world["project"], world["tutti"], copy_from=world["a_list"]
    )
    assert project_list.name == "V. 50 Beethoven 5" and project_list.list_id == "CLIST001"
    assert [e.musician.first_name for e in project_list.entries.all()] == [
        "V0",
        "V1",
        "V2",
        "V3",
        "V4",
        "V5",
    ]
    with pytest.raises(ValidationError, match="CLIST001"):
        services.create_project_list(world["project"], world["tutti"])


def test_copy_leaves_out_inactive_and_other_positions(world):
    roster.set_musician_status(world["musicians"][1], Musician.Status.INACTIVE)
    project_list = services.create_project_list(
        world["project"], world["tutti"], copy_from=world["a_list"]
    )
    assert "V1" not in [e.musician.first_name for e in project_list.entries.all()]
    viola = Position.objects.get(name="Tutti", instrument__name="Viola")
    with pytest.raises(ValidationError, match="same position"):
        other = services.create_project(
            ProjectData(name="Y", start_date=datetime.date(2027, 2, 1)), max_projects=20
        )
        services.create_project_list(other, viola, copy_from=world["a_list"])


def test_templates_are_real(world):
    source = services.create_project_list(
        world["project"], world["tutti"], copy_from=world["a_list"]
    )
    rankings.reorder(
        source,
        list(source.entries.order_by("-rank").values_list("pk", flat=True)),
        version=ProjectList.objects.get(pk=source.pk).version,
    )
    services.save_as_template(source, "Julkonsert-tutti")
    later = services.create_project(
        ProjectData(name="Julkonsert", start_date=datetime.date(2027, 12, 13)), max_projects=20
    )
    applied = services.apply_template(services.templates_for(world["tutti"]).get(), later)
    assert applied.project == later and applied.name.endswith("Julkonsert")
    assert [e.musician.first_name for e in applied.entries.all()] == [
        "V5",
        "V4",
        "V3",
        "V2",
        "V1",
        "V0",
    ]
    with pytest.raises(ValidationError):
        services.save_as_template(source, " ")


def test_need_validation(world):
    project = world["project"]
    with pytest.raises(ValidationError) as exc:
        services.create_need(project, _need(world, quantity=1))
    assert "quantity" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.create_need(project, _need(world, max_recipients=3))
    assert "max_recipients" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.create_need(
            project, _need(world, strategy="first_come", quantity=3, max_recipients=2)
        )
    assert "max_recipients" in exc.value.message_dict
    with pytest.raises(ValidationError, match="fewer than the 4"):
        services.create_need(project, _need(world, quantity=4, require_local_residence=True))
    with pytest.raises(ValidationError) as exc:
        services.create_need(project, _need(world, ranking_list_id=None))
    assert "list" in exc.value.message_dict
    need = services.create_need(project, _need(world, quantity=3, require_local_residence=True))
    assert need.need_id == "NEED001"
    # sequential works for any quantity
    assert (
        services.create_need(project, _need(world, strategy="sequential", quantity=5)).quantity == 5
    )


def test_pause_skips_filled_and_archived(world):
    project = world["project"]
    a = services.create_need(project, _need(world))
    b = services.create_need(project, _need(world))
    Need.objects.filter(pk=b.pk).update(status=Need.Status.COMPLETED)
    assert services.set_project_paused(project, True) == 1
    assert (
        Need.objects.get(pk=a.pk).status == "paused"
        and Need.objects.get(pk=b.pk).status == "completed"
    )
    assert services.set_project_paused(project, False) == 1
    with pytest.raises(ValidationError):
        services.set_need_paused(Need.objects.get(pk=b.pk), True)


def test_list_in_use_cannot_be_deleted_naming_the_project(world):
    services.create_need(world["project"], _need(world))
    rankings.clear_list(world["a_list"], confirm="RADERA")
    with pytest.raises(ValidationError, match=r"Beethoven 5 \(PROJ001\)"):
        rankings.delete_list(world["a_list"], confirm="RADERA")


def test_position_used_by_a_need_cannot_be_deleted(world):
    services.create_need(world["project"], _need(world))
    with pytest.raises(ValidationError, match="Beethoven 5"):
        roster.delete_position(world["tutti"])


def test_qualification_a_need_relies_on_cannot_be_removed(world):
    services.create_need(world["project"], _need(world))
    v0 = world["musicians"][0]
    viola = Position.objects.get(name="Tutti", instrument__name="Viola")
    with pytest.raises(ValidationError, match="Beethoven 5"):
        roster.update_musician(
            v0,
            MusicianData(
                first_name="V0", last_name="Fiol", email=v0.email, position_ids=[viola.pk]
            ),
        )
    assert v0.qualifications.get() == world["tutti"]


def test_losing_a_qualification_leaves_project_lists(world):
    project_list = services.create_project_list(
        world["project"], world["tutti"], copy_from=world["a_list"]
    )
    v2 = world["musicians"][2]
    change = roster.update_musician(
        v2, MusicianData(first_name="V2", last_name="Fiol", email=v2.email, position_ids=[])
    )
    assert any("project list" in m for m in change.messages)
    assert "V2" not in [e.musician.first_name for e in project_list.entries.all()]
    assert list(project_list.entries.values_list("rank", flat=True)) == [1, 2, 3, 4, 5]


def test_deleting_a_project_removes_its_needs_and_lists(world):
    services.create_project_list(world["project"], world["tutti"])
    services.create_need(world["project"], _need(world))
    services.delete_project(world["project"])
    assert (
        not Project.objects.exists()
        and not Need.objects.exists()
        and not ProjectList.objects.exists()
    )


def test_project_list_in_use_cannot_be_deleted(world):
    project_list = services.create_project_list(
        world["project"], world["tutti"], copy_from=world["a_list"]
    )
    services.create_need(
        world["project"], _need(world, ranking_list_id=None, project_list_id=project_list.pk)
    )
    with pytest.raises(ValidationError, match="NEED001"):
        services.delete_project_list(project_list)


def test_update_need_revalidates_and_reopens(world):
    need = services.create_need(world["project"], _need(world))
    services.update_need(need, _need(world, quantity=4))
    assert Need.objects.get(pk=need.pk).quantity == 4
    with pytest.raises(ValidationError) as exc:
        services.update_need(need, _need(world, quantity=1))  # parallel needs 2 seats
    assert "quantity" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.update_need(
            need, _need(world, position_id=Position.objects.get(name="Soloharpa").pk)
        )
    assert "position_id" in exc.value.message_dict
    Need.objects.filter(pk=need.pk).update(status=Need.Status.COMPLETED)
    services.update_need(need, _need(world, quantity=5))
    assert Need.objects.get(pk=need.pk).status == "active"


def test_update_need_locks_strategy_list_and_time_once_offers_exist(world, monkeypatch):
    from stagesub.projects import usage

    need = services.create_need(world["project"], _need(world))
    monkeypatch.setattr(
        usage, "_offer_counters", [lambda target: 1]
    )  # as the offer engine will say
    with pytest.raises(ValidationError) as exc:
        services.update_need(need, _need(world, strategy="first_come", response_time_hours=12))
    assert set(exc.value.message_dict) == {"strategy", "response_time_hours"}
    with pytest.raises(ValidationError, match="Change seats"):  # through the seats preview
        services.update_need(need, _need(world, quantity=3))
    assert services.delete_need(Need.objects.get(pk=need.pk)) == "archived"
    with pytest.raises(ValidationError, match="cannot be deleted"):
        services.delete_project(world["project"])


def test_accepted_musicians_grouped_by_instrument_then_position(world, monkeypatch):
    from stagesub.projects import usage

    need = services.create_need(world["project"], _need(world))
    harp_need = Need(position=Position.objects.get(name="Soloharpa"))
    v1, v0 = world["musicians"][1], world["musicians"][0]
    monkeypatch.setattr(
        usage, "_accepted_providers", [lambda project: [(harp_need, v0), (need, v1), (need, v0)]]
    )
    groups = services.accepted_by_position(world["project"])
    assert [label for label, _ in groups] == ["Violin – Tutti violin 1", "Harpa – Soloharpa"]
    assert [m.first_name for m in groups[0][1]] == ["V0", "V1"]

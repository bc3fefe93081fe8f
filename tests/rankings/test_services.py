"""Ranking lists: membership rules, atomic reorder with an optimistic version, safety."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections as django_connections

from stagesub.rankings import services
from stagesub.rankings.models import RankingEntry, RankingList
from stagesub.roster import services as roster
from stagesub.roster.models import Musician, Position
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra


def _musicians(position, n, prefix="m", **kw):
    return [
        roster.create_musician(
            MusicianData(
                first_name=f"M{i}",
                last_name="Test",
                email=f"{prefix}{i}@example.se",
                position_ids=[position.pk],
                **kw,
            ),
            max_musicians=500,
        )
        for i in range(n)
    ]


@pytest.fixture
def setup(goteborg):
    with use_orchestra(goteborg):
        position = Position.objects.get(name="Tutti violin 1")
        musicians = _musicians(position, 5)
        ranking_list = services.create_list(position, "A")
        yield position, musicians, ranking_list


def _order(ranking_list):
    return list(
        ranking_list.entries.order_by("rank").values_list("musician__first_name", flat=True)
    )


def test_create_on_demand_once_per_type(setup):
    position, _, ranking_list = setup
    assert ranking_list.ranking_list_id == "RANK001"
    with pytest.raises(ValidationError, match="already has a A list"):
        services.create_list(position, "A")
    with pytest.raises(ValidationError):
        services.create_list(position, "D")
    assert services.create_list(position, "B").ranking_list_id == "RANK002"


def test_add_appends_in_order_and_refuses_unqualified_or_archived(setup):
    _position, musicians, ranking_list = setup
    services.add_musicians(ranking_list, [musicians[2].pk, musicians[0].pk])
    services.add_musicians(ranking_list, [musicians[1].pk])
    assert _order(ranking_list) == ["M2", "M0", "M1"]
    with pytest.raises(ValidationError):  # already on the list
        services.add_musicians(ranking_list, [musicians[0].pk])
    roster.set_musician_status(musicians[3], Musician.Status.ARCHIVED)
    with pytest.raises(ValidationError):
        services.add_musicians(ranking_list, [musicians[3].pk, musicians[4].pk])
    assert _order(ranking_list) == ["M2", "M0", "M1"]  # nothing half-added
    other = _musicians(
        Position.objects.get(name="Tutti", instrument__name="Viola"), 1, prefix="viola"
    )[0]
    with pytest.raises(ValidationError):
        services.add_musicians(ranking_list, [other.pk])


def test_remove_closes_the_ranks(setup):
    _, musicians, ranking_list = setup
    entries = services.add_musicians(ranking_list, [m.pk for m in musicians])
    services.remove_entry(ranking_list, entries[1].pk)
    assert list(ranking_list.entries.values_list("rank", flat=True)) == [1, 2, 3, 4]
    assert _order(ranking_list) == ["M0", "M2", "M3", "M4"]


def test_reorder_applies_full_order_and_refuses_a_stale_version(setup):
    _, musicians, ranking_list = setup
    entries = services.add_musicians(ranking_list, [m.pk for m in musicians])
    version = RankingList.objects.get(pk=ranking_list.pk).version
    reversed_ids = [e.pk for e in reversed(entries)]
    services.reorder(ranking_list, reversed_ids, version=version)
    assert _order(ranking_list) == ["M4", "M3", "M2", "M1", "M0"]
    with pytest.raises(services.ListChanged):
        services.reorder(ranking_list, [e.pk for e in entries], version=version)
    assert _order(ranking_list) == ["M4", "M3", "M2", "M1", "M0"]
    with pytest.raises(services.ListChanged):  # not the complete list
        services.reorder(ranking_list, reversed_ids[:3], version=version + 1)


def test_concurrent_reorders_end_with_one_of_the_two_orders(goteborg):
    with use_orchestra(goteborg):
        position = Position.objects.get(name="Tutti violin 2")
        musicians = _musicians(position, 8)
        ranking_list = services.create_list(position, "A")
        entries = services.add_musicians(ranking_list, [m.pk for m in musicians])
        version = RankingList.objects.get(pk=ranking_list.pk).version
    orders = {
        "forward": [e.pk for e in entries[::-1]],
        "shuffled": [e.pk for e in entries[1::2] + entries[::2]],
    }
    results, barrier = {}, threading.Barrier(2)

    def run(name):
        try:
            with use_orchestra(goteborg):
                barrier.wait()
                services.reorder(ranking_list, orders[name], version=version)
                results[name] = "ok"
        except services.ListChanged:
            results[name] = "changed"
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == ["changed", "ok"]
    winner = next(n for n, r in results.items() if r == "ok")
    with use_orchestra(goteborg):
        final = list(
            RankingEntry.objects.filter(ranking_list=ranking_list)
            .order_by("rank")
            .values_list("pk", flat=True)
        )
        ranks = list(
            RankingEntry.objects.filter(ranking_list=ranking_list)
            .order_by("rank")
            .values_list("rank", flat=True)
        )
    assert final == orders[winner] and ranks == list(range(1, 9))


def test_clear_and_delete_need_the_confirmation_word(setup):
    _, musicians, ranking_list = setup
    services.add_musicians(ranking_list, [musicians[0].pk])
    with pytest.raises(ValidationError, match="RADERA"):
        services.clear_list(ranking_list, confirm="radera?")
    with pytest.raises(ValidationError, match="empty"):
        services.delete_list(ranking_list, confirm="RADERA")
    services.clear_list(ranking_list, confirm="RADERA")
    services.delete_list(ranking_list, confirm="RADERA")
    assert not RankingList.objects.exists()


def test_losing_a_qualification_removes_from_its_lists_and_says_so(setup):
    _position, musicians, ranking_list = setup
    services.add_musicians(ranking_list, [m.pk for m in musicians[:3]])
    viola = Position.objects.get(name="Tutti", instrument__name="Viola")
    m1 = musicians[1]
    change = roster.update_musician(
        m1,
        MusicianData(
            first_name=m1.first_name,
            last_name=m1.last_name,
            email=m1.email,
            position_ids=[viola.pk],
        ),
    )
    assert any("removed from the A list" in msg for msg in change.messages)
    assert _order(ranking_list) == ["M0", "M2"]
    assert list(ranking_list.entries.values_list("rank", flat=True)) == [1, 2]


def test_inactive_musicians_keep_their_place(setup):
    _, musicians, ranking_list = setup
    services.add_musicians(ranking_list, [m.pk for m in musicians[:3]])
    roster.set_musician_status(musicians[1], Musician.Status.INACTIVE)
    assert _order(ranking_list) == ["M0", "M1", "M2"]

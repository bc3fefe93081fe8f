"""Ranking-list pages on the orchestra host."""

import pytest

from stagesub.rankings.models import RankingList
from stagesub.roster import services as roster
from stagesub.roster.models import Position
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra
from tests.conftest import login


@pytest.fixture
def client(goteborg):
    with use_orchestra(goteborg):
        position = Position.objects.get(name="Soloharpa")
        for i in range(3):
            roster.create_musician(
                MusicianData(
                    first_name=f"H{i}",
                    last_name="Harp",
                    email=f"h{i}@example.se",
                    position_ids=[position.pk],
                ),
                max_musicians=100,
            )
    return login(goteborg, "goteborg-admin")


def test_create_add_reorder_remove_delete(client, goteborg):
    with use_orchestra(goteborg):
        position = Position.objects.get(name="Soloharpa")
    assert "Harpa" in client.get("/rankings/").content.decode()
    response = client.post("/rankings/new/", {"position": position.pk, "list_type": "A"})
    assert response["Location"] == "/rankings/RANK001/"
    page = client.get("/rankings/RANK001/")
    ids = [m.pk for m in page.context["candidates"]]
    client.post("/rankings/RANK001/action/", {"action": "add", "musicians": ids})
    with use_orchestra(goteborg):
        ranking_list = RankingList.objects.get()
        entries = list(ranking_list.entries.values_list("pk", flat=True))
        version = ranking_list.version
    reordered = client.post(
        "/rankings/RANK001/reorder/", {"order": entries[::-1], "version": version}
    )
    assert reordered.status_code == 200 and reordered.json()["version"] == version + 1
    stale = client.post("/rankings/RANK001/reorder/", {"order": entries, "version": version})
    assert stale.status_code == 409 and "changed" in stale.json()["error"]
    assert client.post("/rankings/RANK001/reorder/", {"order": entries}).status_code == 400
    client.post("/rankings/RANK001/action/", {"action": "clear", "confirm": "nej"})
    with use_orchestra(goteborg):
        assert RankingList.objects.get().entries.count() == 3
    client.post("/rankings/RANK001/action/", {"action": "clear", "confirm": "RADERA"})
    response = client.post("/rankings/RANK001/action/", {"action": "delete", "confirm": "RADERA"})
    assert response["Location"] == "/rankings/"
    with use_orchestra(goteborg):
        assert not RankingList.objects.exists()


def test_profile_shows_list_places(client, goteborg):
    with use_orchestra(goteborg):
        position = Position.objects.get(name="Soloharpa")
    client.post("/rankings/new/", {"position": position.pk, "list_type": "B"})
    page = client.get("/rankings/RANK001/")
    client.post(
        "/rankings/RANK001/action/",
        {"action": "add", "musicians": [page.context["candidates"][0].pk]},
    )
    profile = client.get("/musicians/MUS001/").content.decode()
    assert "RANK001" in profile

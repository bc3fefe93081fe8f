"""The overview's cell labels, translated once per list type (not once per cell)."""

from django.conf import settings

from stagesub.rankings import services
from stagesub.roster.models import Position
from stagesub.tenancy import use_orchestra
from tests.conftest import login


def test_the_overview_names_each_list_and_offers_the_missing_ones(goteborg):
    with use_orchestra(goteborg):
        harp = Position.objects.get(name="Soloharpa")
        services.create_list(harp, "A")
    client = login(goteborg, "goteborg-admin")
    page = client.get("/rankings/").content.decode()
    assert "A list <span" in page
    assert "+ Create B list</button>" in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "sv"
    page = client.get("/rankings/").content.decode()
    assert "A-lista <span" in page
    assert "+ Skapa B-lista</button>" in page

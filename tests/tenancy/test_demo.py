"""`stagesub demo` gives three orchestras with rosters, lists and a season of projects."""

from django.core.management import call_command

from stagesub.messaging.models import Message
from stagesub.offers.models import Offer
from stagesub.projects.models import Need, Project
from stagesub.rankings.models import RankingList
from stagesub.roster.models import Musician
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.isolation import verify_isolation
from stagesub.tenancy.models import Orchestra


def test_demo(db, capsys, monkeypatch):
    monkeypatch.setenv("STAGESUB_ADMIN_PASSWORD", "demo-password-for-tests")
    call_command("demo")
    out = capsys.readouterr().out
    assert "goteborg-admin" in out and "demo-password-for-tests" in out
    assert set(Orchestra.objects.values_list("subdomain", flat=True)) == {
        "goteborg",
        "malmo",
        "stockholm",
    }
    with use_orchestra("goteborg"):
        assert Musician.objects.count() == 150
        assert Musician.objects.filter(status="archived").exists()
        assert Musician.objects.filter(local_residence=True).exists()
        assert RankingList.objects.exists() and Project.objects.count() == 20
        # requests are out: some needs filled, some mid-cascade, mail with links to follow
        assert Need.objects.filter(status="completed").exists()
        assert Offer.objects.filter(status="pending").exists()
        assert Offer.objects.filter(status="accepted").exists()
        assert Message.objects.filter(kind="request", body__contains="/r/").exists()
        assert Message.objects.filter(kind="confirmation").exists()
    assert verify_isolation().exit_code == 0
    call_command("demo")  # running it again changes nothing
    assert Orchestra.objects.count() == 3

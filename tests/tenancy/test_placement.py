# ruff: noqa: F811 (the shared server fixtures are imported by name, then used as parameters)
"""Placement: region, then class, then least loaded, never a draining or offline server; the
rule over random fleets (hypothesis), and provisioning following it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stagesub.tenancy import servers
from stagesub.tenancy.backends import default_server
from stagesub.tenancy.models import DatabaseServer, Orchestra
from stagesub.tenancy.placement import Candidate, NoServerAvailable, choose, ranked
from stagesub.tenancy.provisioning import ProvisioningRefused
from tests.fleet_servers import second_server, second_server_url  # noqa: F401

REGIONS = ["eu-north", "eu-west", "us-east"]
STATUSES = ["active", "draining", "offline"]

candidates = st.lists(
    st.builds(
        Candidate,
        name=st.text("abcdefgh", min_size=1, max_size=4),
        region=st.sampled_from(REGIONS),
        status=st.sampled_from(STATUSES),
        dedicated=st.booleans(),
        load=st.integers(0, 50),
    ),
    max_size=8,
    unique_by=lambda c: c.name,
)


@given(
    fleet=candidates,
    region=st.sampled_from(["", *REGIONS]),
    assigned=st.one_of(st.none(), st.text("abcdefgh", min_size=1, max_size=4)),
)
def test_the_rule_over_random_fleets(fleet, region, assigned):
    def eligible(c: Candidate) -> bool:
        return (
            c.status == "active"
            and (not region or c.region == region)
            and (not c.dedicated or c.name == assigned)
        )

    usable = [c for c in fleet if eligible(c)]
    if not usable:
        with pytest.raises(NoServerAvailable):
            choose(fleet, region=region, assigned_to=assigned)
        return
    chosen = choose(fleet, region=region, assigned_to=assigned)
    # never a draining/offline server, never outside the region, never another's dedicated one
    assert eligible(chosen)
    own = [c for c in usable if c.dedicated]
    if own:
        # the orchestra's own dedicated server wins
        assert chosen == own[0]
    else:
        # otherwise the least loaded shared server (ties by name)
        assert (chosen.load, chosen.name) == min((c.load, c.name) for c in usable)
    # the fallbacks: every eligible server once, the orchestra's own first, then by load
    order = ranked(fleet, region=region, assigned_to=assigned)
    assert sorted(order, key=lambda c: c.name) == sorted(usable, key=lambda c: c.name)
    shared = [c for c in order if not c.dedicated]
    assert order[: len(own)] == own
    assert [(c.load, c.name) for c in shared] == sorted((c.load, c.name) for c in shared)


def test_refusals_say_which_condition_failed():
    fleet = [
        Candidate("a", "eu-north", "draining", False, 0),
        Candidate("b", "eu-west", "active", False, 0),
        Candidate("c", "eu-north", "active", True, 0),
    ]
    with pytest.raises(NoServerAvailable, match="all are draining or offline"):
        choose(fleet[:1])
    with pytest.raises(NoServerAvailable, match="region 'us-east'"):
        choose(fleet, region="us-east")
    with pytest.raises(NoServerAvailable, match="dedicated to other orchestras"):
        choose(fleet, region="eu-north")
    assert choose(fleet, region="eu-north", assigned_to="c").name == "c"


def test_new_orchestras_go_to_the_least_loaded_server_of_the_region(
    make_orchestra, second_server, settings
):
    primary = default_server()
    DatabaseServer.objects.filter(pk=primary.pk).update(region="eu-north")
    a = make_orchestra("place-a")  # both empty: by name ("embedded"/"primary" < "second")
    assert a.server == primary
    b = make_orchestra("place-b")  # primary has one now, second none
    assert b.server == second_server
    c = make_orchestra("place-c")
    assert c.server == primary


def test_region_then_default_region_then_refusal(make_orchestra, second_server, settings):
    primary = default_server()
    DatabaseServer.objects.filter(pk=primary.pk).update(region="eu-west")
    assert make_orchestra("reg-a", region="eu-north").server == second_server
    assert make_orchestra("reg-b", region="eu-west").server == primary
    settings.DEFAULT_REGION = "eu-north"
    assert make_orchestra("reg-c").server == second_server
    with pytest.raises(ProvisioningRefused, match="region 'us-east'"):
        make_orchestra("reg-d", region="us-east")
    assert not Orchestra.objects.filter(subdomain="reg-d").exists()


def test_draining_and_dedicated_servers_take_no_new_orchestras(make_orchestra, second_server):
    primary = default_server()
    DatabaseServer.objects.filter(pk=primary.pk).update(region="eu-north", status="draining")
    assert make_orchestra("new-a").server == second_server
    DatabaseServer.objects.filter(pk=second_server.pk).update(dedicated=True)
    with pytest.raises(ProvisioningRefused, match="dedicated to other orchestras"):
        make_orchestra("new-b")
    # --server overrides the rule, and makes the dedicated server that orchestra's own
    own = make_orchestra("new-c", server_name="second")
    assert own.server == second_server and own.placement_server == second_server
    with pytest.raises(ProvisioningRefused, match="is draining"):
        make_orchestra("new-d", server_name=primary.name)


def test_assign_is_for_dedicated_servers_only(goteborg, second_server):
    with pytest.raises(servers.ServerRefused, match="is shared"):
        servers.assign("second", "goteborg")
    DatabaseServer.objects.filter(pk=second_server.pk).update(dedicated=True)
    servers.assign("second", "goteborg")
    assert Orchestra.objects.get(pk=goteborg.pk).placement_server == second_server
    servers.unassign("goteborg")
    assert Orchestra.objects.get(pk=goteborg.pk).placement_server is None

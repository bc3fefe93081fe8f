# ruff: noqa: F811 (the shared server fixtures are imported by name, then used as parameters)
"""Placement passes over a PostgreSQL server that does not answer (a SQLite data directory is
local: nothing there can be down)."""

from __future__ import annotations

import pytest

from stagesub.tenancy.backends import default_server
from stagesub.tenancy.models import DatabaseServer, Orchestra
from tests.fleet_servers import second_server, second_server_url  # noqa: F401


def test_a_server_that_is_down_is_passed_over(make_orchestra, second_server):
    primary = default_server()
    DatabaseServer.objects.filter(pk=primary.pk).update(region="eu-north")
    make_orchestra("busy-a", server_name="second")
    down = DatabaseServer(name="aaa-down", kind=primary.kind, region="eu-north")
    down.set_url("postgresql://postgres@127.0.0.1:9/postgres")
    down.save()  # registered behind the checks' back, then the server went away
    # "aaa-down" has no orchestra and sorts first: the rule would pick it, but it does not answer
    assert make_orchestra("after-down").server == primary
    # the only choice left is not probed: provisioning's own connection fails, rolled back
    DatabaseServer.objects.exclude(pk=down.pk).update(status="draining")
    with pytest.raises(Exception, match=r"127\.0\.0\.1"):  # psycopg's own error
        make_orchestra("nowhere")
    assert not Orchestra.objects.filter(subdomain="nowhere").exists()

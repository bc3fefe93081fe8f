"""More database servers for placement, move and drain tests.

PostgreSQL: further pgserver data directories started once per session with wal_level=logical
(the suite's own server stays at the default "replica", so moves off it take the dump and
restore path). SQLite: further data folders. Each test registers the ones it uses through
`servers.add_server`, the way an operator would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stagesub.tenancy import servers
from tests.conftest import BACKEND

_started: dict[str, str] = {}


def start_extra_server(label: str) -> str:
    # Test modules import these fixtures by name, so each module has its own copy of a
    # session fixture: start each server once for the whole session all the same.
    if label not in _started:
        _started[label] = _start(label)
    return _started[label]


def _start(label: str) -> str:
    # Beside the suite's own server (tests/backend_plugin.py): a folder pgserver's system user
    # can reach when the suite runs as root.
    root = Path(os.environ["STAGESUB_DATA_DIR"]).parent
    if BACKEND == "postgresql":
        from stagesub.devtools.localpg import start_server

        return start_server(root / f"pg-{label}", wal_level="logical")
    folder = root / f"data-{label}"
    folder.mkdir()
    return str(folder)


@pytest.fixture(scope="session")
def second_server_url() -> str:
    return start_extra_server("second")


@pytest.fixture
def second_server(db, second_server_url):
    server, _probe = servers.add_server("second", second_server_url, region="eu-north")
    return server


def pending_offer_links(orchestra, count: int = 3) -> list[str]:
    """In the orchestra: a first-come need sent to `count` musicians; their answer-link paths."""
    import datetime
    import re

    from stagesub.messaging.models import Message
    from stagesub.offers import services
    from stagesub.projects import services as projects
    from stagesub.projects.services import NeedData, ProjectData
    from stagesub.tenancy import use_orchestra
    from tests.conftest import listed_musicians

    with use_orchestra(orchestra):
        seat, _musicians, a_list = listed_musicians(count)
        project = projects.create_project(
            ProjectData(name="Sibelius 2", start_date=datetime.date(2027, 3, 8)), max_projects=20
        )
        need = projects.create_need(
            project,
            NeedData(
                position_id=seat.pk,
                quantity=count,
                strategy="first_come",
                response_time_hours=48,
                ranking_list_id=a_list.pk,
                max_recipients=count,
            ),
        )
        services.send(need)
        bodies = Message.objects.filter(kind="request").values_list("body", flat=True)
        return [
            "/" + m.split("/", 3)[3]
            for m in (re.search(r"https?://\S+/r/[^\s/]+/", b).group(0) for b in bodies)
        ]


def database_exists(server, name: str) -> bool:
    from stagesub.tenancy.backends import backend_for

    return backend_for(server).exists(name)


@pytest.fixture(scope="session")
def third_server_url() -> str:
    return start_extra_server("third")


@pytest.fixture
def third_server(db, third_server_url):
    server, _probe = servers.add_server("third", third_server_url, region="eu-north")
    return server

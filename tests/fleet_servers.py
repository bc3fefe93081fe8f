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


def start_extra_server(tmp_path_factory, label: str) -> str:
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
def second_server_url(tmp_path_factory) -> str:
    return start_extra_server(tmp_path_factory, "second")


@pytest.fixture
def second_server(db, second_server_url):
    server, _probe = servers.add_server("second", second_server_url, region="eu-north")
    return server

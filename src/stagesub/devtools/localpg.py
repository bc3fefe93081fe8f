"""Start a real PostgreSQL 16 server from the `pgserver` wheel, as an ordinary process.

Used by the test suite and the benchmarks (and handy for trying StageSub on PostgreSQL
locally). The server listens on a Unix socket only. The bootstrap superuser `postgres` is
trusted on that socket; every other role must give its password (SCRAM), so orchestra roles
and their passwords are exercised for real.
"""

from __future__ import annotations

from pathlib import Path

HBA = """\
# written by stagesub.devtools.localpg
local   all   postgres              trust
local   all   all                   scram-sha-256
"""


def start_server(pgdata: Path, *, cleanup: str = "delete") -> str:
    """Start (or reuse) the server in `pgdata`; returns the superuser URL of database postgres."""
    import pgserver
    import psycopg

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=cleanup)
    url = server.get_uri()
    hba = Path(pgdata) / "pg_hba.conf"
    if hba.read_text() != HBA:
        hba.write_text(HBA)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
    _servers.append(server)  # keep a reference: the handle stops the server when collected
    return url


_servers: list = []

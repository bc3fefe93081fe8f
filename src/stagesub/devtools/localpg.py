"""Start a real PostgreSQL 16 server from the `pgserver` wheel, as an ordinary process.

Used by the test suite and the benchmarks (and handy for trying StageSub on PostgreSQL
locally). The server listens on a Unix socket only. The bootstrap superuser `postgres` is
trusted on that socket; every other role must give its password (SCRAM), so orchestra roles
and their passwords are exercised for real.

`start_pgbouncer` puts Debian's PgBouncer in front of such a server, in transaction pooling
mode, the way docs/operations.md (PgBouncer) describes it for production.
"""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

HBA = """\
# written by stagesub.devtools.localpg
local   all   postgres              trust
local   all   all                   scram-sha-256
"""


def start_server(pgdata: Path, *, cleanup: str = "delete", wal_level: str | None = None) -> str:
    """Start (or reuse) the server in `pgdata`; returns the superuser URL of database postgres.

    `wal_level="logical"` lets the server publish for logical replication (moving an
    orchestra off it without copying inside the maintenance window); the setting needs a
    restart, done here once.
    """
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
    if wal_level:
        with psycopg.connect(url, autocommit=True) as conn:
            current = conn.execute("SHOW wal_level").fetchone()[0]
            if current != wal_level:
                conn.execute(f"ALTER SYSTEM SET wal_level = '{wal_level}'")
        if current != wal_level:
            _restart(server)
            url = server.get_uri()
    _servers.append(server)  # keep a reference: the handle stops the server when collected
    return url


def _restart(server) -> None:
    """pg_ctl restart (same socket options), then point pgserver's handle at the new process."""
    from pgserver._commands import pg_ctl
    from pgserver.utils import PostmasterInfo

    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)
    deadline = time.monotonic() + 30
    while True:
        info = PostmasterInfo.read_from_pgdata(server.pgdata)
        if info is not None and info.is_running() and info.status == "ready":
            server._postmaster_info = info  # the handle stops this process at exit
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL in {server.pgdata} did not come back after restart")
        time.sleep(0.1)


_servers: list = []


PGBOUNCER = "/usr/sbin/pgbouncer"


@dataclass
class PgBouncer:
    host: str
    port: int
    admin_url: str  # the admin console (database "pgbouncer"): SHOW POOLS, SHOW SERVERS, ...
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_pgbouncer(server_url: str, directory: Path, *, pool_size: int = 20) -> PgBouncer:
    """Start PgBouncer on a free 127.0.0.1 port in front of the server at `server_url`.

    It reaches the server on its Unix socket, so it runs as the server's own user (pgserver's,
    when we are root: PgBouncer refuses to run as root, and the socket's directory is 0700). Clients log in with SCRAM, checked against pg_shadow through
    auth_user=postgres (trusted on the socket), and PgBouncer passes their SCRAM proof on to
    the server. The admin console takes user postgres with a password made up here.
    """
    query = dict(parse_qsl(urlsplit(server_url).query))
    socket_dir = Path(query.get("host") or "/var/run/postgresql")
    server_port = urlsplit(server_url).port or 5432
    # The server's own user: the owner of its socket file.
    owner = pwd.getpwuid((socket_dir / f".s.PGSQL.{server_port}").stat().st_uid)
    directory.mkdir(parents=True, exist_ok=True)
    admin_password = secrets.token_urlsafe(16)
    port = _free_port()
    (directory / "userlist.txt").write_text(f'"postgres" "{admin_password}"\n')
    (directory / "pgbouncer.ini").write_text(
        f"""\
[databases]
* = host={socket_dir} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
pool_mode = transaction
auth_type = scram-sha-256
auth_file = {directory}/userlist.txt
auth_user = postgres
admin_users = postgres
max_client_conn = 2000
default_pool_size = {pool_size}
; each orchestra database is a pool of its own; close idle server connections soon, so a
; run that creates many orchestras stays below the server's max_connections
server_idle_timeout = 2
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
"""
    )
    for path in (directory, *directory.iterdir()):
        os.chown(path, owner.pw_uid, owner.pw_gid)
        path.chmod(0o700 if path.is_dir() else 0o600)
    run_as = ["-u", owner.pw_name] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        [PGBOUNCER, *run_as, str(directory / "pgbouncer.ini")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bouncer = PgBouncer(
        host="127.0.0.1",
        port=port,
        admin_url=f"postgresql://postgres:{admin_password}@127.0.0.1:{port}/pgbouncer",
        process=process,
        log=directory / "pgbouncer.log",
    )
    atexit.register(bouncer.stop)
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return bouncer
        if process.poll() is not None or time.monotonic() > deadline:
            bouncer.stop()
            log = bouncer.log.read_text() if bouncer.log.exists() else "(no log)"
            raise RuntimeError(f"PgBouncer did not start on port {port}:\n{log[-2000:]}")
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

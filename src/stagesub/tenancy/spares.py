"""Warm spare databases on PostgreSQL servers, so provisioning does not wait for CREATE DATABASE.

`CREATE DATABASE … TEMPLATE` copies and fsyncs the whole template (0.2–0.5 s on ordinary disks).
The worker keeps a few copies of the current template ready (`STAGESUB_SPARE_DATABASES`,
default 2, per server); provisioning takes one by renaming it, which is instant, and falls back
to creating a database when none is ready. A spare is an unused copy of the template: owned by
the server's administrator, CONNECT revoked from PUBLIC, no role, no stamp. Spares of an older
schema fingerprint are dropped, never handed out.
"""

from __future__ import annotations

import uuid

from django.conf import settings

from stagesub.tenancy import schema
from stagesub.tenancy.backends import PostgresBackend

LOCK = "hashtext('stagesub_spares')"


def _prefix() -> str:
    return f"stagesub_spare_{schema.current_fingerprint()}_"


def _spares(conn, prefix: str) -> list[str]:
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname",
        [prefix.replace("_", "\\_") + "%"],
    ).fetchall()
    return [r[0] for r in rows]


def ensure_spares(backend: PostgresBackend, count: int | None = None) -> int:
    """Top the server up to `count` spares of the current schema; returns how many were made."""
    from psycopg import sql

    wanted = settings.SPARE_DATABASES if count is None else count
    template = schema.pg_template(backend)
    prefix = _prefix()
    made = 0
    with backend.connect_admin() as conn:
        for stale in _spares(conn, "stagesub_spare_"):
            if not stale.startswith(prefix):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(stale))
                )
        while len(_spares(conn, prefix)) < wanted:
            name = f"{prefix}{uuid.uuid4().hex[:8]}"
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY WAL_LOG").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
            conn.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name))
            )
            made += 1
    return made


def take_spare(conn, new_name: str) -> bool:
    """Rename one ready spare to `new_name` (on an admin connection); False when none is ready."""
    from psycopg import sql

    conn.execute(f"SELECT pg_advisory_lock({LOCK})")
    try:
        spares = _spares(conn, _prefix())
        if not spares:
            return False
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(spares[0]), sql.Identifier(new_name)
            )
        )
        return True
    finally:
        conn.execute(f"SELECT pg_advisory_unlock({LOCK})")

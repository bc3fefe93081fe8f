"""Physical identity of a database, read from a live connection (never from a URL string).

PostgreSQL: the cluster's system identifier plus the database's OID. SQLite: device and inode
of the main database file. Two orchestras with the same identity share one database, however
differently their URLs are spelled.
"""

from __future__ import annotations

import os

from django.db import connections as django_connections


def physical_identity(alias: str) -> str:
    connection = django_connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA database_list")
            path = next(row[2] for row in cursor.fetchall() if row[1] == "main")
            stat = os.stat(path)
            return f"sqlite:{stat.st_dev}:{stat.st_ino}"
        cursor.execute(
            "SELECT (SELECT system_identifier FROM pg_control_system()), oid "
            "FROM pg_database WHERE datname = current_database()"
        )
        system_identifier, oid = cursor.fetchone()
        return f"postgresql:{system_identifier}:{oid}"

"""Registry of orchestra database connections.

Orchestra aliases are added to Django's connection handler on first use (settings only: a small
dict each), and every thread keeps at most MAX_OPEN_ORCHESTRA_CONNECTIONS of them open, closing the
least recently used. Each new connection is checked before first use: its identity stamp must
name the bound orchestra, and a guard on every SQL statement refuses to run unless the
connection's alias is the bound one (a second barrier behind the router).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict

from django.conf import settings
from django.db import connections as django_connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from stagesub.tenancy.context import (
    CrossOrchestraAccess,
    StampMismatch,
    binding_or_none,
)

ALIAS_PREFIX = "orchestra_"
STAMP_TABLE = "orchestra_databasestamp"

_register_lock = threading.Lock()
_local = threading.local()


def alias_for(orchestra_id: uuid.UUID | str) -> str:
    return f"{ALIAS_PREFIX}{uuid.UUID(str(orchestra_id)).hex}"


def is_orchestra_alias(alias: str) -> bool:
    return alias.startswith(ALIAS_PREFIX)


def register(alias: str, database: dict) -> None:
    """Make `alias` known to Django with the given settings (idempotent; replaces changed ones)."""
    if not is_orchestra_alias(alias):
        raise ValueError(f"{alias!r} is not an orchestra alias")
    database = {
        "CONN_MAX_AGE": settings.ORCHESTRA_CONN_MAX_AGE,
        "CONN_HEALTH_CHECKS": True,
        **database,
    }
    known = django_connections.settings.get(alias)
    if known is not None and all(known.get(k) == v for k, v in database.items()):
        return
    with _register_lock:
        configured = django_connections.configure_settings(
            {"default": django_connections.settings["default"], alias: dict(database)}
        )[alias]
        if known is not None:
            forget_in_this_thread(alias)
        django_connections.settings[alias] = configured


def registered_aliases() -> list[str]:
    return [a for a in django_connections.settings if is_orchestra_alias(a)]


def unregister_all() -> None:
    """Forget every orchestra alias (tests use this between cases; the process keeps working)."""
    with _register_lock:
        for alias in registered_aliases():
            forget_in_this_thread(alias)
            del django_connections.settings[alias]
    _lru().clear()


def forget_in_this_thread(alias: str) -> None:
    wrapper = getattr(django_connections._connections, alias, None)
    if wrapper is not None:
        wrapper.close()
        delattr(django_connections._connections, alias)
    _lru().pop(alias, None)


def _lru() -> OrderedDict:
    lru = getattr(_local, "lru", None)
    if lru is None:
        lru = _local.lru = OrderedDict()
    return lru


def touch(alias: str) -> None:
    """Mark `alias` as most recently used here; close this thread's least recently used extras."""
    lru = _lru()
    lru[alias] = None
    lru.move_to_end(alias)
    limit = max(1, settings.MAX_OPEN_ORCHESTRA_CONNECTIONS)
    if len(lru) <= limit:
        return
    current = binding_or_none()
    for old in list(lru):
        if len(lru) <= limit:
            break
        if current is not None and old == current.alias:
            continue
        wrapper = getattr(django_connections._connections, old, None)
        if wrapper is not None and wrapper.in_atomic_block:
            continue  # an enclosing binding is mid-transaction on it; close it later
        lru.pop(old)
        if wrapper is not None:
            wrapper.close()


def open_orchestra_connections() -> list[str]:
    """Aliases with an open database connection in this thread."""
    return [
        alias
        for alias in registered_aliases()
        if getattr(getattr(django_connections._connections, alias, None), "connection", None)
        is not None
    ]


def _guard(execute, sql, params, many, context):
    connection = context["connection"]
    binding = binding_or_none()
    if binding is None or binding.alias != connection.alias:
        raise CrossOrchestraAccess(
            f"SQL on {connection.alias} refused: bound to "
            f"{binding.alias if binding else 'no orchestra'}"
        )
    return execute(sql, params, many, context)


def read_stamp(raw_connection) -> str | None:
    """The orchestra UUID stamped into a database, or None when it has no stamp (yet)."""
    cursor = raw_connection.cursor()
    try:
        cursor.execute(f"SELECT orchestra_id FROM {STAMP_TABLE} WHERE id = 1")
        row = cursor.fetchone()
    except Exception:
        return None
    finally:
        cursor.close()
    return None if row is None else str(row[0]).replace("-", "")


@receiver(connection_created)
def _check_new_connection(sender, connection, **kwargs) -> None:
    if not is_orchestra_alias(connection.alias):
        return
    binding = binding_or_none()
    problem = None
    if binding is None or binding.alias != connection.alias:
        problem = CrossOrchestraAccess(
            f"connection to {connection.alias} opened while bound to "
            f"{binding.alias if binding else 'no orchestra'}"
        )
    elif binding.check_stamp:
        stamp = read_stamp(connection.connection)
        if stamp != binding.orchestra_id.hex:
            problem = StampMismatch(
                f"database behind {binding.subdomain!r} carries stamp {stamp or 'none'}, "
                f"expected {binding.orchestra_id}; refusing to use it"
            )
    if problem is not None:
        try:
            connection.connection.close()
        finally:
            connection.connection = None
        raise problem
    if _guard not in connection.execute_wrappers:
        connection.execute_wrappers.append(_guard)

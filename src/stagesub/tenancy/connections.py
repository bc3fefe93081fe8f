"""Registry of orchestra database connections, with a per-process budget.

Orchestra aliases are added to Django's connection handler on first use (settings only: a small
dict each). Connections themselves are bounded **per process**, not per thread: binding an
orchestra takes a lease on a slot (`acquire`), leaving the binding returns it (`release`), and
at most `settings.MAX_ORCHESTRA_CONNECTIONS` leases exist in the process at once. A released
lease keeps its connection open for short reuse; when the budget is full, the oldest idle lease
(of any thread) is revoked and its connection closed, and when every slot is in use the caller
waits `ORCHESTRA_CONNECTION_WAIT` seconds and then gets `ConnectionBudgetExhausted`, which the
web answers with 503 and Retry-After before anything was read or written. A reaper thread closes
leases idle longer than `ORCHESTRA_CONN_IDLE` seconds. So processes × budget bounds what one
database server sees (docs/operations.md, Connections).

Every use is checked: a new connection reads its identity stamp when it opens
(`_check_new_connection`), and a connection reused from an earlier binding reads it again
before the binding may use it (`acquire`), so a database replaced under a live connection (an
in-place restore) is refused on its next use, not when the connection happens to be recycled.
A guard on every SQL statement refuses to run unless the connection's alias is the bound one.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections as django_connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from stagesub.tenancy.context import (
    Binding,
    CrossOrchestraAccess,
    StampMismatch,
    binding_or_none,
)

ALIAS_PREFIX = "orchestra_"
STAMP_TABLE = "orchestra_databasestamp"


class ConnectionBudgetExhausted(RuntimeError):
    """Every orchestra connection slot of this process is in use; try again shortly."""

    retry_after = 2


_register_lock = threading.Lock()


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
            forget_alias(alias)
        django_connections.settings[alias] = configured


def registered_aliases() -> list[str]:
    return [a for a in django_connections.settings if is_orchestra_alias(a)]


def unregister_all() -> None:
    """Forget every orchestra alias (tests use this between cases; the process keeps working)."""
    with _register_lock:
        with _pool.condition:
            for lease in list(_pool.leases.values()):
                _pool.revoke(lease)
        for alias in registered_aliases():
            _close_own_wrapper(alias)
            del django_connections.settings[alias]


def forget_in_this_thread(alias: str) -> None:
    """Close this thread's connection to `alias` and give its slot back."""
    with _pool.condition:
        lease = _pool.leases.get((threading.get_ident(), alias))
        if lease is not None and lease.users == 0:
            _pool.revoke(lease)
    _close_own_wrapper(alias)


def forget_alias(alias: str) -> None:
    """Close every idle connection to `alias` in the process (its settings are changing)."""
    with _pool.condition:
        for lease in list(_pool.leases.values()):
            if lease.alias == alias and lease.users == 0:
                _pool.revoke(lease)
    _close_own_wrapper(alias)


def _close_own_wrapper(alias: str) -> None:
    wrapper = getattr(django_connections._connections, alias, None)
    if wrapper is not None:
        wrapper.close()
        delattr(django_connections._connections, alias)


@dataclass(eq=False)
class Lease:
    """One slot of the budget: a thread's right to hold a connection to one orchestra."""

    thread: int
    alias: str
    wrapper: object  # the owning thread's Django DatabaseWrapper for the alias
    users: int = 1  # nested bindings of this alias in this thread
    idle_since: float | None = None
    stamp_checked: bool = field(default=False)


class ConnectionPool:
    """The process-wide bookkeeping behind `acquire` / `release` (one instance: `_pool`)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.leases: dict[tuple[int, str], Lease] = {}
        self.reaper_pid: int | None = None

    @property
    def budget(self) -> int:
        return max(1, int(settings.MAX_ORCHESTRA_CONNECTIONS))

    def revoke(self, lease: Lease) -> None:
        """Drop an idle lease and close its connection (called with the condition held).

        Closing another thread's idle connection is safe: the lease is idle, so its owner is not
        using it, and the owner will not use it again without a new lease (see acquire), which
        discards the closed connection first. Django's SQLite and psycopg connections may be
        closed from any thread.
        """
        self.leases.pop((lease.thread, lease.alias), None)
        if lease.thread == threading.get_ident():
            lease.wrapper.close()
        else:
            raw = getattr(lease.wrapper, "connection", None)
            if raw is not None:
                with contextlib.suppress(Exception):  # a broken connection is closed enough
                    raw.close()
        self.condition.notify_all()

    def oldest_idle(self) -> Lease | None:
        idle = [lease for lease in self.leases.values() if lease.users == 0]
        return min(idle, key=lambda lease: lease.idle_since or 0.0, default=None)

    def reap(self, now: float) -> None:
        limit = settings.ORCHESTRA_CONN_IDLE
        with self.condition:
            for lease in list(self.leases.values()):
                if lease.users:
                    continue
                closed = getattr(lease.wrapper, "connection", None) is None
                if closed or (lease.idle_since is not None and now - lease.idle_since > limit):
                    self.revoke(lease)

    def start_reaper(self) -> None:
        import os

        if self.reaper_pid == os.getpid():
            return
        self.reaper_pid = os.getpid()  # per process: a forked worker starts its own
        thread = threading.Thread(target=self._reap_forever, name="stagesub-conn-reaper")
        thread.daemon = True
        thread.start()

    def _reap_forever(self) -> None:
        while True:
            time.sleep(max(0.5, settings.ORCHESTRA_CONN_IDLE / 2))
            try:
                self.reap(time.monotonic())
            except Exception:  # noqa: S112 - the reaper must outlive any one bad pass
                continue


_pool = ConnectionPool()


def acquire(binding: Binding) -> Lease:
    """Take (or re-enter) this thread's slot for the binding's alias, waiting briefly if full.

    Raises ConnectionBudgetExhausted when no slot frees up in time, and StampMismatch when a
    reused connection now reaches a database stamped for another orchestra.
    """
    key = (threading.get_ident(), binding.alias)
    _pool.start_reaper()
    with _pool.condition:
        lease = _pool.leases.get(key)
        if lease is not None:
            lease.users += 1
            if lease.users > 1:
                return lease
            lease.idle_since = None
        else:
            lease = _take_slot(key, binding.alias)
    try:
        _confirm_stamp(lease, binding)
    except BaseException:
        release(lease)
        raise
    return lease


def _take_slot(key: tuple[int, str], alias: str) -> Lease:
    deadline = time.monotonic() + settings.ORCHESTRA_CONNECTION_WAIT
    while len(_pool.leases) >= _pool.budget:
        victim = _pool.oldest_idle()
        if victim is not None:
            _pool.revoke(victim)
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ConnectionBudgetExhausted(
                f"all {_pool.budget} orchestra connections of this process are in use"
            )
        _pool.condition.wait(remaining)
    wrapper = django_connections[alias]
    if wrapper.connection is not None and not wrapper.in_atomic_block:
        # Left over from a revoked lease (closed under us) or from before: start afresh.
        wrapper.close()
    lease = Lease(thread=key[0], alias=alias, wrapper=wrapper)
    _pool.leases[key] = lease
    return lease


def _confirm_stamp(lease: Lease, binding: Binding) -> None:
    """Read the stamp again on a connection kept from an earlier use (a new one reads it on open)."""
    wrapper = lease.wrapper
    if not binding.check_stamp or wrapper.connection is None:
        return
    try:
        stamp = read_stamp(wrapper.connection, strict=True)
    except Exception:
        # A broken or closed connection: drop it; the next query reconnects and the new
        # connection's stamp is read on open.
        wrapper.close()
        return
    if stamp != binding.orchestra_id.hex:
        wrapper.close()
        _report_mismatch(binding, stamp)
        raise StampMismatch(
            f"database behind {binding.subdomain!r} now carries stamp {stamp or 'none'}, "
            f"expected {binding.orchestra_id}; refusing to use it"
        )
    # The stamp was just read on this connection, which proves it usable: Django's health
    # check (CONN_HEALTH_CHECKS, a SELECT 1 before the request's first query) would only
    # repeat that round trip.
    wrapper.health_check_done = True


def _report_mismatch(binding: Binding, stamp: str | None) -> None:
    from stagesub.tenancy.incidents import record_stamp_mismatch

    record_stamp_mismatch(binding.subdomain, binding.orchestra_id.hex, stamp)


def release(lease: Lease) -> None:
    with _pool.condition:
        lease.users -= 1
        if lease.users > 0:
            return
        if getattr(lease.wrapper, "connection", None) is None:
            _pool.leases.pop((lease.thread, lease.alias), None)
        else:
            lease.idle_since = time.monotonic()
        _pool.condition.notify_all()


def leases_in_process() -> int:
    """Slots currently taken in this process (in use or idle with an open connection)."""
    with _pool.condition:
        return len(_pool.leases)


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


def read_stamp(raw_connection, *, strict: bool = False) -> str | None:
    """The orchestra UUID stamped into a database, or None when it has no stamp (yet).

    With `strict`, a failing read (a closed or broken connection) raises instead.
    """
    cursor = raw_connection.cursor()
    try:
        cursor.execute(f"SELECT orchestra_id FROM {STAMP_TABLE} WHERE id = 1")
        row = cursor.fetchone()
    except Exception:
        if strict and not _is_missing_table(raw_connection):
            raise
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
            _report_mismatch(binding, stamp)
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


def _is_missing_table(raw_connection) -> bool:
    """After a failed stamp read: is the connection fine and only the stamp table absent?"""
    rollback = getattr(raw_connection, "rollback", None)
    try:
        if rollback is not None and getattr(raw_connection, "autocommit", True) is False:
            rollback()
        cursor = raw_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    except Exception:
        return False
    return True

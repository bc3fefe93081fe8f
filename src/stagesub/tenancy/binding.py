"""Binding an orchestra by subdomain, id or row: resolving it and registering its database."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from stagesub.tenancy import connections
from stagesub.tenancy.backends import database_settings_for
from stagesub.tenancy.context import Binding, TenancyError, bind
from stagesub.tenancy.models import Orchestra


class UnknownOrchestra(TenancyError):
    pass


def binding_for(orchestra: Orchestra, *, check_stamp: bool = True) -> Binding:
    alias = connections.alias_for(orchestra.id)
    connections.register(alias, database_settings_for(orchestra))
    return Binding(
        orchestra_id=orchestra.id,
        subdomain=orchestra.subdomain,
        alias=alias,
        check_stamp=check_stamp,
    )


def resolve(target: str | uuid.UUID | Orchestra) -> Orchestra:
    if isinstance(target, Orchestra):
        return target
    query = Orchestra.objects.select_related("server")
    try:
        if isinstance(target, uuid.UUID):
            return query.get(pk=target)
        try:
            return query.get(pk=uuid.UUID(str(target)))
        except (ValueError, Orchestra.DoesNotExist):
            return query.get(subdomain=str(target).strip().lower())
    except Orchestra.DoesNotExist:
        raise UnknownOrchestra(f"no orchestra {target!r}") from None


@contextmanager
def use_orchestra(
    target: str | uuid.UUID | Orchestra, *, check_stamp: bool = True
) -> Iterator[Orchestra]:
    """Bind one orchestra's database for the block: ``with use_orchestra("goteborg"): ...``.

    Orchestra models then read and write that orchestra's database; leaving the block restores
    the previous binding (or none). Unknown orchestras and orchestras without a database raise.
    """
    orchestra = resolve(target)
    with bind(binding_for(orchestra, check_stamp=check_stamp)):
        yield orchestra


class HostDirectory:
    """Subdomain → orchestra for request routing, cached briefly in the process.

    The cache keeps the per-request cost of routing near zero (one dict lookup); entries live
    `ttl` seconds, so a suspension or a move reaches every web process within that time, and
    at once in the process where it happened (see tenancy.signals).
    """

    def __init__(self, ttl: float = 5.0):
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Orchestra | None, Binding | None]] = {}

    def lookup(self, subdomain: str) -> tuple[Orchestra | None, Binding | None]:
        now = time.monotonic()
        entry = self._entries.get(subdomain)
        if entry is not None and entry[0] > now:
            return entry[1], entry[2]
        # The migration state comes in the same query: the middleware compares it with the
        # code's schema (tenancy.automigrate) without a query per request.
        orchestra = (
            Orchestra.objects.select_related("server", "migration")
            .filter(subdomain=subdomain)
            .first()
        )
        binding = None
        if orchestra is not None and orchestra.is_servable and orchestra.has_database:
            binding = binding_for(orchestra)
        self._entries[subdomain] = (now + self.ttl, orchestra, binding)
        return orchestra, binding

    def forget(self, subdomain: str | None = None) -> None:
        if subdomain is None:
            self._entries.clear()
        else:
            self._entries.pop(subdomain, None)


directory = HostDirectory()

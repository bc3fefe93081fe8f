"""Binding an orchestra by subdomain, id or row: resolving it and registering its database."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db.models import F, Subquery

from stagesub.tenancy import connections
from stagesub.tenancy.backends import database_settings_for
from stagesub.tenancy.context import Binding, TenancyError, bind
from stagesub.tenancy.models import Orchestra, RoutingGeneration


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
    """Subdomain → orchestra for request routing, cached in the process.

    The cache keeps the per-request cost of routing near zero (one dict lookup). A change of
    routing (maintenance page, switched database) bumps the control database's routing
    generation (`announce_route_change`); every process reads it at most every `poll` seconds
    (STAGESUB_ROUTING_POLL_SECONDS) and empties its cache when it moved, so a fleet operation
    reaches every web process within `poll`, at the cost of one one-row query per process per
    `poll` whatever the request rate. Entries also expire after `ttl` seconds, for changes
    that do not announce themselves (a suspension saved elsewhere; at once in the process
    where it happened, see tenancy.signals).
    """

    def __init__(self, ttl: float = 5.0, poll: float | None = None):
        self.ttl = ttl
        self._poll = poll
        # subdomain → (expires, generation it was read under, orchestra, binding)
        self._entries: dict[str, tuple[float, int | None, Orchestra | None, Binding | None]] = {}
        self._generation: int | None = None
        self._checked_at = -math.inf

    @property
    def poll(self) -> float:
        return settings.ROUTING_POLL_SECONDS if self._poll is None else self._poll

    @property
    def settle_seconds(self) -> float:
        """How long after a change every process has seen it (before its next lookup)."""
        return min(self.ttl, self.poll)

    def lookup(self, subdomain: str) -> tuple[Orchestra | None, Binding | None]:
        now = time.monotonic()
        entry = self._entries.get(subdomain)
        if entry is not None and entry[0] > now:
            if now >= self._checked_at + self.poll:
                self._check_generation(now)
            # Compared with the generation the entry was read under, not just "was it cleared":
            # another thread may clear the cache between our get() and this line.
            if entry[1] == self._generation:
                return entry[2], entry[3]
        # The migration state comes in the same query: the middleware compares it with the
        # code's schema (tenancy.automigrate) without a query per request. The generation too,
        # so a cache miss never costs a second query.
        orchestra = (
            Orchestra.objects.select_related("server", "migration")
            .annotate(
                routing_generation=Subquery(
                    RoutingGeneration.objects.order_by("pk").values("value")[:1]
                )
            )
            .filter(subdomain=subdomain)
            .first()
        )
        if orchestra is not None:
            self._note_generation(orchestra.routing_generation, now)
        binding = None
        if orchestra is not None and orchestra.is_servable and orchestra.has_database:
            binding = binding_for(orchestra)
        generation = orchestra.routing_generation if orchestra is not None else self._generation
        self._entries[subdomain] = (now + self.ttl, generation, orchestra, binding)
        return orchestra, binding

    def _check_generation(self, now: float) -> None:
        generation = RoutingGeneration.objects.order_by("pk").values_list("value", flat=True)
        self._note_generation(generation.first(), now)

    def _note_generation(self, value: int | None, read_at: float) -> None:
        # `read_at` is taken before the query: a change committed after it is seen one `poll`
        # later at the latest. The generation is set first, so a thread that sees the new
        # `_checked_at` also sees the new generation.
        if value != self._generation:
            self._generation = value
            self._entries.clear()
        self._checked_at = read_at

    def forget(self, subdomain: str | None = None) -> None:
        if subdomain is None:
            self._entries.clear()
        else:
            self._entries.pop(subdomain, None)


def announce_route_change() -> None:
    """Bump the routing generation: every web process drops its host cache within `poll`."""
    if not RoutingGeneration.objects.filter(pk=1).update(value=F("value") + 1):
        RoutingGeneration.objects.get_or_create(pk=1, defaults={"value": 1})


directory = HostDirectory()

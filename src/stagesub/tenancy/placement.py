"""Which database server an orchestra's database goes on.

The rule (`choose`), in order:

1. only active servers (never a draining or offline one), of the platform's database kind;
2. region: the requested one, else the platform default (STAGESUB_DEFAULT_REGION); no region
   at all means any region;
3. class: a dedicated server takes only the orchestras assigned to it
   (Orchestra.placement_server); an orchestra assigned to a usable dedicated server goes there;
4. least loaded: fewest orchestras, then the name (so the choice is deterministic);
5. among those, the first that answers (a server that is down is passed over).

`choose` is a pure function over `Candidate`s (tests/tenancy/test_placement.py checks it over
random fleets); `place_new` and `place_move` feed it from the control database. An explicit
`--server` bypasses the rule (provisioning checks only that the server is active).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count

from stagesub.tenancy.models import DatabaseServer, Orchestra
from stagesub.tenancy.provisioning import ADOPTED_SERVER_PREFIX

logger = logging.getLogger("stagesub.fleet")


class NoServerAvailable(RuntimeError):
    """No server satisfies the placement rule; the message says which condition failed."""


@dataclass(frozen=True)
class Candidate:
    name: str
    region: str
    status: str
    dedicated: bool
    load: int  # orchestras on the server


def ranked(
    candidates: Iterable[Candidate],
    *,
    region: str = "",
    assigned_to: str | None = None,
    exclude: Collection[str] = (),
) -> list[Candidate]:
    """Every server the rule allows, best first; NoServerAvailable when there is none."""
    active = [
        c for c in candidates if c.status == DatabaseServer.Status.ACTIVE and c.name not in exclude
    ]
    if not active:
        raise NoServerAvailable("no active database server (all are draining or offline)")
    in_region = [c for c in active if not region or c.region == region]
    if not in_region:
        raise NoServerAvailable(f"no active database server in region {region!r}")
    own = [c for c in in_region if c.dedicated and c.name == assigned_to]
    shared = sorted((c for c in in_region if not c.dedicated), key=lambda c: (c.load, c.name))
    if not own and not shared:
        raise NoServerAvailable(
            f"the active servers in region {region or '(any)'} are all dedicated to other "
            "orchestras"
        )
    return own + shared


def choose(
    candidates: Iterable[Candidate],
    *,
    region: str = "",
    assigned_to: str | None = None,
    exclude: Collection[str] = (),
) -> Candidate:
    """The server the rule picks; NoServerAvailable when there is none."""
    return ranked(candidates, region=region, assigned_to=assigned_to, exclude=exclude)[0]


def _first_reachable(choices: list[Candidate]) -> DatabaseServer:
    """The best choice that answers (a PostgreSQL server that is down is passed over, logged).

    With a single choice nothing is probed: the caller's own connection says it clearly. A
    SQLite directory is local and may not exist before its first database: not probed.
    """
    from stagesub.tenancy.servers import ServerRefused, probe

    servers = {s.name: s for s in DatabaseServer.objects.filter(name__in=[c.name for c in choices])}
    if len(choices) == 1:
        return servers[choices[0].name]
    for choice in choices:
        if servers[choice.name].kind == DatabaseServer.Kind.SQLITE:
            return servers[choice.name]
        try:
            probe(servers[choice.name])
            return servers[choice.name]
        except ServerRefused as exc:
            logger.warning("placement passes over server %s: %s", choice.name, exc)
    raise NoServerAvailable(
        "no database server the rule allows answers: " + ", ".join(c.name for c in choices)
    )


def candidates(kind: str) -> list[Candidate]:
    # A server registered for one adopted database is never a placement target.
    servers = (
        DatabaseServer.objects.filter(kind=kind)
        .exclude(name__startswith=ADOPTED_SERVER_PREFIX)
        .annotate(load=Count("orchestra"))
    )
    return [Candidate(s.name, s.region, s.status, s.dedicated, s.load) for s in servers]


def place_new(region: str | None = None) -> DatabaseServer:
    """The server for a new orchestra (by the rule, among servers of the platform's kind)."""
    from stagesub.tenancy.backends import default_server

    # Registers the configured server (or the SQLite directory) on first use, and tells the
    # platform's kind: a PostgreSQL platform never places an orchestra in a SQLite file.
    kind = default_server().kind
    return _first_reachable(ranked(candidates(kind), region=region or settings.DEFAULT_REGION))


def place_move(orchestra: Orchestra) -> DatabaseServer:
    """Where to move an orchestra off its server: same region and kind, by the same rule."""
    source = orchestra.server
    assigned = orchestra.placement_server.name if orchestra.placement_server_id else None
    return _first_reachable(
        ranked(
            candidates(source.kind),
            region=source.region,
            assigned_to=assigned,
            exclude=(source.name,),
        )
    )

"""Host header → orchestra subdomain. The one place that decides which orchestra a request is for.

The rule is an exact suffix match on the configured base domain, after normalising the host:

* lower-cased (DNS names are case-insensitive, and ``GOTEBORG.localhost`` must not be a
  different orchestra from ``goteborg.localhost``);
* the port dropped (browsers send ``goteborg.localhost:8000``; IPv6 literals keep their
  brackets and are never an orchestra);
* one trailing dot dropped (``goteborg.example.org.`` is the fully qualified spelling of the same
  name).

Then ``<label>.<base>`` with exactly one label is that orchestra; the bare base domain is the
platform; anything else, including ``goteborg.example.org.evil.com`` (a suffix of the attacker's
choosing) and nested names like ``a.goteborg.example.org``, is no orchestra at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class HostMatch:
    """Result of parsing a host: the platform itself, one orchestra's subdomain, or neither."""

    is_platform: bool = False
    subdomain: str | None = None

    @property
    def is_orchestra(self) -> bool:
        return self.subdomain is not None


PLATFORM = HostMatch(is_platform=True)
NO_MATCH = HostMatch()


def normalise_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal, possibly with a port: never an orchestra
        return host.split("]", 1)[0] + "]"
    host = host.rsplit(":", 1)[0] if ":" in host else host
    return host[:-1] if host.endswith(".") else host


def parse_host(host: str, base_domain: str) -> HostMatch:
    base = base_domain.strip().lower().rstrip(".")
    name = normalise_host(host)
    if not name or not base:
        return NO_MATCH
    if name == base:
        return PLATFORM
    suffix = "." + base
    if not name.endswith(suffix):
        return NO_MATCH
    label = name[: -len(suffix)]
    if "." in label or not _LABEL.match(label):
        return NO_MATCH
    return HostMatch(subdomain=label)

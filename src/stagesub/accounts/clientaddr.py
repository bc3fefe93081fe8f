"""The client's address, taken through the configured chain of trusted proxies.

Behind a load balancer REMOTE_ADDR is the balancer, the same for everyone; the client is in
X-Forwarded-For, which every proxy appends its peer to. Only the entries appended by proxies we
trust are believed: the header is read from the right, one hop per trusted proxy, and the first
address not vouched for by a trusted proxy is the client. Whatever a client writes at the left
of the header itself is never reached while trusted proxies remain to its right.

Trust comes from settings (none by default, so REMOTE_ADDR is the client):
``TRUSTED_PROXY_COUNT``: the rightmost N hops (REMOTE_ADDR being the first) are proxies;
``TRUSTED_PROXIES``: any hop inside these networks is a proxy.
Rate limits anywhere in the project should use :func:`client_address`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request) -> str | None:
    """The client's address for this request, or None when REMOTE_ADDR is missing or invalid."""
    return resolve_client_address(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        proxy_count=settings.TRUSTED_PROXY_COUNT,
        trusted_networks=settings.TRUSTED_PROXIES,
    )


def resolve_client_address(
    remote_addr: str,
    forwarded_for: str,
    *,
    proxy_count: int = 0,
    trusted_networks: Sequence[IPNetwork] = (),
) -> str | None:
    """The pure rule behind :func:`client_address` (see the module's docstring)."""
    remote = parse_address(remote_addr)
    if remote is None:
        return None
    if not proxy_count and not trusted_networks:
        return str(remote)
    forwarded = (
        [parse_address(entry) for entry in forwarded_for.split(",")] if forwarded_for else []
    )
    if len(forwarded) < proxy_count:
        # Every trusted proxy appends one entry: fewer means the request did not come through
        # the whole chain, so nothing in the header is vouched for.
        return str(remote)
    chain: list[IPAddress | None] = [*forwarded, remote]
    position = len(chain) - 1
    while position > 0:
        hop = chain[position]
        trusted = len(chain) - 1 - position < proxy_count or any(
            hop in network for network in trusted_networks
        )
        if not trusted:
            break
        if chain[position - 1] is None:
            # A trusted proxy vouched for something that is not an address (a proxy writing
            # "unknown", say): the proxy itself is the best address we can defend.
            return str(hop)
        position -= 1
    return str(chain[position])


def parse_address(text: str) -> IPAddress | None:
    """An address from a header entry: plain, with a port ("1.2.3.4:80", "[::1]:80"), or None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(text: str, *, setting: str) -> list[IPNetwork]:
    """Comma-separated networks ("10.0.0.0/8, 2001:db8::/32, 192.0.2.7") for a setting."""
    networks = []
    for item in text.split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError as error:
                raise ValueError(
                    f"{setting}: {item.strip()!r} is not a network ({error})"
                ) from None
    return networks

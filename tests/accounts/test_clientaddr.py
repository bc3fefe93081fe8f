"""The client's address through a trusted proxy chain: what proxies appended is believed, what
the client wrote is not."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory

from stagesub.accounts.clientaddr import client_address, parse_networks, resolve_client_address

NETS = parse_networks("10.0.0.0/8, 2001:db8::/32, 192.0.2.7", setting="test")
CLIENT = "203.0.113.5"


@pytest.mark.parametrize(
    ("remote", "forwarded", "count", "networks", "expected"),
    [
        # Trust nobody (the default): REMOTE_ADDR, whatever the header says.
        ("198.51.100.1", "1.2.3.4", 0, (), "198.51.100.1"),
        # One balancer appends the client; a spoofed entry at the left is ignored.
        ("10.0.0.2", f"6.6.6.6, {CLIENT}", 1, (), CLIENT),
        ("10.0.0.2", CLIENT, 1, (), CLIENT),
        # CDN + balancer: the client is the second entry from the right.
        ("10.0.0.2", f"6.6.6.6, 7.7.7.7, {CLIENT}, 192.0.2.50", 2, (), CLIENT),
        # Fewer entries than proxies: the request bypassed the chain, the header is not believed.
        ("198.51.100.9", "6.6.6.6", 2, (), "198.51.100.9"),
        ("198.51.100.9", "", 1, (), "198.51.100.9"),
        # Networks: walk left over trusted hops only.
        ("10.0.0.2", f"6.6.6.6, {CLIENT}, 10.1.2.3", 0, NETS, CLIENT),
        ("10.0.0.2", f"6.6.6.6, {CLIENT}, 192.0.2.7", 0, NETS, CLIENT),
        # A client writing a trusted-looking address does not get past its own real one.
        ("10.0.0.2", f"10.9.9.9, {CLIENT}", 0, NETS, CLIENT),
        # A peer outside the trusted networks: its header means nothing.
        ("198.51.100.1", CLIENT, 0, NETS, "198.51.100.1"),
        # Every hop is a proxy: the leftmost, vouched for by the proxy to its right.
        ("10.0.0.2", "10.0.0.3, 10.0.0.4", 0, NETS, "10.0.0.3"),
        # Count and networks together: the balancer by count, then the CDN's networks.
        ("172.16.0.1", f"6.6.6.6, {CLIENT}, 10.5.5.5", 1, NETS, CLIENT),
        # Ports, brackets, IPv6, IPv4-mapped IPv6.
        ("10.0.0.2", f"{CLIENT}:51234", 1, (), CLIENT),
        ("10.0.0.2", "[2001:db8:1::5]:443", 1, (), "2001:db8:1::5"),
        ("2001:db8::1", "2a00:1450::1, 2001:db8::9", 0, NETS, "2a00:1450::1"),
        ("::ffff:10.0.0.2", f"::ffff:{CLIENT}", 0, NETS, CLIENT),
        # A trusted proxy that wrote garbage: the proxy is the best address there is.
        ("10.0.0.2", f"{CLIENT}, unknown", 0, NETS, "10.0.0.2"),
        ("10.0.0.2", "unknown", 1, (), "10.0.0.2"),
        # No usable REMOTE_ADDR at all.
        ("", CLIENT, 1, (), None),
        ("not-an-address", CLIENT, 1, (), None),
    ],
)
def test_resolve_client_address(remote, forwarded, count, networks, expected):
    assert (
        resolve_client_address(remote, forwarded, proxy_count=count, trusted_networks=networks)
        == expected
    )


def test_client_address_reads_the_settings(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"6.6.6.6, {CLIENT}"
    )
    assert client_address(request) == "10.0.0.2"  # default: trust no proxy
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == CLIENT
    settings.TRUSTED_PROXY_COUNT = 0
    settings.TRUSTED_PROXIES = parse_networks("10.0.0.0/24", setting="test")
    assert client_address(request) == CLIENT


def test_a_bad_network_setting_names_itself():
    with pytest.raises(ValueError, match=re.escape("STAGESUB_TRUSTED_PROXIES: '10.0.0.0/33'")):
        parse_networks("10.0.0.0/8, 10.0.0.0/33", setting="STAGESUB_TRUSTED_PROXIES")

"""Host → subdomain parsing, table-driven, every case also with a port (after Zulip's tests)."""

import pytest

from stagesub.tenancy.hosts import NO_MATCH, PLATFORM, HostMatch, parse_host

BASE = "stagesub.se"

CASES = [
    # (host, expected)
    ("stagesub.se", PLATFORM),
    ("STAGESUB.SE", PLATFORM),
    ("stagesub.se.", PLATFORM),
    ("goteborg.stagesub.se", HostMatch(subdomain="goteborg")),
    ("GoteBorg.StageSub.SE", HostMatch(subdomain="goteborg")),
    ("goteborg.stagesub.se.", HostMatch(subdomain="goteborg")),
    ("malmo-2.stagesub.se", HostMatch(subdomain="malmo-2")),
    # a suffix of the attacker's choosing is not our domain
    ("goteborg.stagesub.se.evil.com", NO_MATCH),
    ("goteborgstagesub.se", NO_MATCH),
    ("evilstagesub.se", NO_MATCH),
    ("stagesub.se.evil.com", NO_MATCH),
    # nested subdomains are nobody's orchestra
    ("a.goteborg.stagesub.se", NO_MATCH),
    ("www.goteborg.stagesub.se", NO_MATCH),
    # labels that are not DNS labels
    ("-goteborg.stagesub.se", NO_MATCH),
    ("goteborg-.stagesub.se", NO_MATCH),
    ("göteborg.stagesub.se", NO_MATCH),
    ("gote_borg.stagesub.se", NO_MATCH),
    (".stagesub.se", NO_MATCH),
    ("", NO_MATCH),
    ("127.0.0.1", NO_MATCH),
    ("[::1]", NO_MATCH),
]


@pytest.mark.parametrize(("host", "expected"), CASES)
@pytest.mark.parametrize("port", ["", ":8000", ":443"])
def test_parse_host(host, expected, port):
    if host.startswith("[") or not host:
        port = "" if not host else port
    assert parse_host(host + port, BASE) == expected


def test_localhost_base_domain():
    assert parse_host("goteborg.localhost:8000", "localhost") == HostMatch(subdomain="goteborg")
    assert parse_host("goteborg.localhost.evil.com", "localhost") == NO_MATCH
    assert parse_host("localhost:8000", "localhost") == PLATFORM


def test_base_domain_given_with_trailing_dot_or_case():
    assert parse_host("goteborg.stagesub.se", "StageSub.SE.") == HostMatch(subdomain="goteborg")

"""The test server's URL without StageSub's own pooler options, for connecting directly."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def without_pool(url: str) -> str:
    """`url` without `pool_host`/`pool_port` (StageSub's options naming PgBouncer; libpq refuses
    them): set-up work and the control database connect to the server directly."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("pool_host", "pool_port")]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))

"""Readable ids: zero-padded, never reused, unique under concurrent creation."""

from concurrent.futures import ThreadPoolExecutor

from django.db import connections as django_connections

from stagesub.orchestra.ids import advance_past, format_readable_id, next_readable_id
from stagesub.tenancy import use_orchestra


def test_format():
    assert format_readable_id("MUS", 1) == "MUS001"
    assert format_readable_id("MUS", 999) == "MUS999"
    assert format_readable_id("MUS", 1000) == "MUS1000"


def test_ids_grow_per_prefix_and_per_orchestra(goteborg, malmo):
    with use_orchestra(goteborg):
        assert [next_readable_id("MUS") for _ in range(3)] == ["MUS001", "MUS002", "MUS003"]
        assert next_readable_id("PROJ") == "PROJ001"
        advance_past("INST", 14)
        assert next_readable_id("INST") == "INST015"
        advance_past("INST", 3)  # never goes back
        assert next_readable_id("INST") == "INST016"
    with use_orchestra(malmo):
        assert next_readable_id("MUS") == "MUS001"


def test_concurrent_ids_are_unique(goteborg):
    def take(_):
        try:
            with use_orchestra(goteborg):
                return [next_readable_id("MUS") for _ in range(10)]
        finally:
            django_connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [i for batch in pool.map(take, range(8)) for i in batch]
    assert len(ids) == 80 and len(set(ids)) == 80
    assert sorted(ids) == [format_readable_id("MUS", n) for n in range(1, 81)]

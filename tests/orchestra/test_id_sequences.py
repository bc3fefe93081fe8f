"""Offer numbers (REQ...): never reused, unique under concurrency, and on PostgreSQL taken
without holding a lock until commit (a sequence), so offer-creating transactions run side by side.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections as django_connections

from stagesub.orchestra.ids import advance_past, next_readable_id
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import orchestra_atomic
from tests.conftest import BACKEND


def number(readable_id: str) -> int:
    return int(readable_id.removeprefix("REQ"))


class Rollback(Exception):
    pass


def test_concurrent_offer_ids_are_unique_even_with_rollbacks(goteborg):
    committed: list[str] = []
    lock = threading.Lock()

    def take(worker):
        try:
            with use_orchestra(goteborg):
                for i in range(10):
                    try:
                        with orchestra_atomic():
                            taken = next_readable_id("REQ")
                            if (worker + i) % 3 == 0:
                                raise Rollback
                        with lock:
                            committed.append(taken)
                    except Rollback:
                        pass
        finally:
            django_connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(take, range(8)))
    assert len(committed) > 40
    assert len(set(committed)) == len(committed)


def test_a_rollback_never_lets_a_later_id_reuse_a_committed_one(goteborg):
    with use_orchestra(goteborg):
        with orchestra_atomic():
            first = next_readable_id("REQ")
        with pytest.raises(Rollback), orchestra_atomic():
            rolled_back = next_readable_id("REQ")
            raise Rollback
        later = next_readable_id("REQ")
    assert number(later) > number(first)
    if BACKEND == "postgresql":
        # A sequence leaves a gap where the rolled-back number was; it is never handed out.
        assert number(later) > number(rolled_back)


def test_advance_past_only_moves_forward(goteborg):
    with use_orchestra(goteborg):
        advance_past("REQ", 40)
        assert next_readable_id("REQ") == "REQ041"
        advance_past("REQ", 5)
        assert next_readable_id("REQ") == "REQ042"

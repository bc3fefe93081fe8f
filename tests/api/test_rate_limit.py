"""The per-token rate limit holds under concurrent requests (each thread its own connection)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from stagesub.api import tokens
from stagesub.tenancy import use_orchestra


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_pass_more_than_the_limit(goteborg, settings):
    settings.API_RATE_LIMIT = 20
    with use_orchestra(goteborg):
        token, _raw = tokens.create_token("goteborg", "busy")
    allowed, errors = [], []
    start = threading.Barrier(8)

    def hammer():
        try:
            with use_orchestra(goteborg):
                start.wait()
                for _ in range(5):
                    allowed.append(tokens.take(token).allowed)
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert allowed.count(True) == 20 and len(allowed) == 40

"""Offer numbers on PostgreSQL come from a sequence: an open transaction holding one does not
block another, and migrating to the sequence and back keeps the numbering continuous."""

import threading

from django.db import connections as django_connections
from django.db.migrations.executor import MigrationExecutor

from stagesub.orchestra.ids import format_readable_id, next_readable_id
from stagesub.orchestra.models import IdSequence
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import current_binding, orchestra_atomic


def test_an_open_transaction_holding_an_offer_id_does_not_block_another(goteborg):
    taken, release = threading.Event(), threading.Event()
    first: list[str] = []

    def hold():
        try:
            with use_orchestra(goteborg), orchestra_atomic():
                first.append(next_readable_id("REQ"))
                taken.set()
                release.wait(30)
        finally:
            django_connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(30)
        with use_orchestra(goteborg), orchestra_atomic():
            with django_connections[current_binding().alias].cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            second = next_readable_id("REQ")  # a counter row would wait for the holder's commit
    finally:
        release.set()
        holder.join()
    assert second != first[0]


def test_migrating_to_the_sequence_continues_after_the_counter_and_back(goteborg):
    with use_orchestra(goteborg):
        alias = current_binding().alias
        connection = django_connections[alias]
        executor = MigrationExecutor(connection)
        executor.migrate([("orchestra", "0003_orchestrasettings")])
        IdSequence.objects.update_or_create(prefix="REQ", defaults={"last_number": 41})

        executor = MigrationExecutor(connection)
        executor.migrate([("orchestra", "0004_readable_id_sequence_for_offers")])
        assert next_readable_id("REQ") == format_readable_id("REQ", 42)
        assert next_readable_id("REQ") == format_readable_id("REQ", 43)

        executor = MigrationExecutor(connection)
        executor.migrate([("orchestra", "0003_orchestrasettings")])
        assert IdSequence.objects.get(prefix="REQ").last_number == 43  # what the old code reads

        executor = MigrationExecutor(connection)
        executor.migrate([("orchestra", "0004_readable_id_sequence_for_offers")])
        assert next_readable_id("REQ") == format_readable_id("REQ", 44)

"""The control database holds control tables only, and one location belongs to one orchestra."""

import pytest
from django.db import IntegrityError, connection, transaction

from stagesub.tenancy.models import Orchestra


def test_control_database_has_no_orchestra_tables(db):
    tables = set(connection.introspection.table_names())
    assert "tenancy_orchestra" in tables and "accounts_user" in tables
    assert not {t for t in tables if t.startswith(("roster_", "rankings_", "orchestra_"))}


def test_database_location_is_unique_by_constraint(goteborg):
    with pytest.raises(IntegrityError), transaction.atomic():
        Orchestra.objects.create(
            subdomain="copycat",
            name="Copycat",
            server=goteborg.server,
            database_name=goteborg.database_name,
        )

"""Automatic remedy on conflict: the stamp decides who owns a database. An orchestra routed to
another orchestra's database is taken off it at once (maintenance page, jobs paused) and, when
allowed, re-homed from its own latest backup; when ownership is unclear, only block and alert."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail
from django.db import connections as django_connections
from django.utils import timezone

from stagesub.tenancy import remedy
from stagesub.tenancy.binding import directory, use_orchestra
from stagesub.tenancy.context import current_binding
from stagesub.tenancy.due import due_orchestras
from stagesub.tenancy.isolation import monitor_isolation, verify_isolation
from stagesub.tenancy.models import IsolationIncident, Orchestra, RetiredDatabase
from tests.conftest import host_client, point_at_same_database


def _location(orchestra: Orchestra) -> dict:
    return {
        "server": orchestra.server,
        "database_name": orchestra.database_name,
        "database_user": orchestra.database_user,
        "database_password_encrypted": orchestra.database_password_encrypted,
    }


def _steps(incident: IsolationIncident) -> list[tuple[str, str]]:
    incident.refresh_from_db()
    return [(s["orchestra"], s["step"]) for s in incident.details.get("remedy", [])]


def _restamp(orchestra: Orchestra, stamp: uuid.UUID) -> None:
    from stagesub.orchestra.models import DatabaseStamp

    with use_orchestra(orchestra, check_stamp=False):
        DatabaseStamp.objects.filter(id=1).update(orchestra_id=stamp)
        django_connections[current_binding().alias].close()


def test_the_intruder_is_taken_off_the_owners_database_and_let_back_once_fixed(
    goteborg, malmo, superadmin, tmp_path, settings
):
    settings.AUTO_REHOME = False
    own = _location(malmo)
    point_at_same_database(malmo, goteborg, tmp_path)
    Orchestra.objects.filter(pk=malmo.pk).update(next_due_at=timezone.now())
    report, incident = monitor_isolation()
    assert report.exit_code == 1
    blocked = Orchestra.objects.get(pk=malmo.pk)
    assert blocked.maintenance_reason == "isolation: database belongs to goteborg"
    assert Orchestra.objects.get(pk=goteborg.pk).maintenance_reason == ""  # the owner serves on
    assert _steps(incident) == [("malmo", "blocked"), ("malmo", "waiting")]
    directory.forget()
    response = host_client(malmo).get("/login/")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert host_client(goteborg).get("/login/").status_code == 200
    assert malmo not in list(due_orchestras(timezone.now()))  # its jobs wait
    assert len(mail.outbox) == 1  # one mail: the incident and what was done about it
    assert "malmo: blocked" in mail.outbox[0].body and superadmin.email in mail.outbox[0].to
    # The next run changes nothing and mails nobody.
    monitor_isolation()
    assert len(_steps(incident)) == 2 and len(mail.outbox) == 1
    # An operator routes malmo back to its own database: the block is lifted by the monitor.
    Orchestra.objects.filter(pk=malmo.pk).update(**own)
    report, _ = monitor_isolation()
    assert report.exit_code == 0
    assert Orchestra.objects.get(pk=malmo.pk).maintenance_reason == ""
    directory.forget()
    assert host_client(malmo).get("/login/").status_code == 200


@pytest.mark.parametrize("stamp", ["nobody", "missing"])
def test_when_ownership_is_unclear_everyone_on_it_is_blocked_and_nothing_restored(
    goteborg, malmo, superadmin, tmp_path, settings, stamp
):
    settings.AUTO_REHOME = True
    if stamp == "nobody":
        _restamp(goteborg, uuid.uuid4())
    else:
        from stagesub.orchestra.models import DatabaseStamp

        with use_orchestra(goteborg, check_stamp=False):
            DatabaseStamp.objects.filter(id=1).delete()
            django_connections[current_binding().alias].close()
    point_at_same_database(malmo, goteborg, tmp_path)
    before = Orchestra.objects.get(pk=malmo.pk).database_name
    _, incident = monitor_isolation()
    for orchestra in (goteborg, malmo):
        row = Orchestra.objects.get(pk=orchestra.pk)
        assert row.maintenance_reason.startswith("isolation:") and "owner unclear" in (
            row.maintenance_reason
        )
    assert sorted(_steps(incident)) == [("goteborg", "blocked"), ("malmo", "blocked")]
    assert Orchestra.objects.get(pk=malmo.pk).database_name == before  # never guessed
    assert "not re-homed (never guessed)" in mail.outbox[0].body


def test_without_a_backup_of_its_own_the_intruder_stays_blocked(
    goteborg, malmo, superadmin, tmp_path, settings
):
    settings.AUTO_REHOME = True
    point_at_same_database(malmo, goteborg, tmp_path)
    _, incident = monitor_isolation()
    assert _steps(incident) == [("malmo", "blocked"), ("malmo", "not re-homed")]
    assert Orchestra.objects.get(pk=malmo.pk).maintenance_reason.startswith("isolation:")
    assert not RetiredDatabase.objects.exists()
    assert verify_isolation().exit_code == 1  # still on goteborg's database, but blocked


def test_with_auto_rehome_the_intruder_gets_its_own_database_back_from_its_backup(
    goteborg, malmo, superadmin, tmp_path, settings, monkeypatch
):
    from stagesub.roster.models import Musician
    from stagesub.tenancy.backends import backend_for
    from stagesub.tenancy.backup import backup_orchestra
    from stagesub.tenancy.isolation import check_orchestra
    from tests.conftest import listed_musicians

    settings.AUTO_REHOME = True
    monkeypatch.setattr(directory, "ttl", 0.0)  # no routing-cache wait in the test
    with use_orchestra(malmo):
        before = Musician.objects.count()
    backup = backup_orchestra(malmo, to_dir=tmp_path / "backups")
    with use_orchestra(malmo):
        listed_musicians(1, name="Late{:02d}")  # written after the backup: will be missing
    owners_database = goteborg.database_name
    point_at_same_database(malmo, goteborg, tmp_path)
    _, incident = monitor_isolation()
    assert _steps(incident)[:3] == [
        ("malmo", "blocked"),
        ("malmo", "restoring"),
        ("malmo", "re-homed"),
    ]
    row = Orchestra.objects.select_related("server").get(pk=malmo.pk)
    assert row.database_name not in (owners_database, malmo.database_name)
    assert row.maintenance_reason == ""
    assert check_orchestra(row).stamp_ok
    # The owner's database is untouched and never scheduled to be dropped on malmo's behalf.
    assert backend_for(goteborg.server).exists(owners_database)
    assert not RetiredDatabase.objects.filter(database_name=owners_database).exists()
    with use_orchestra(row):
        assert Musician.objects.count() == before
    directory.forget()
    assert host_client(row).get("/login/").status_code == 200
    assert host_client(goteborg).get("/login/").status_code == 200
    assert verify_isolation().exit_code == 0
    body = mail.outbox[0].body
    assert "malmo: re-homed" in body and f"{backup.path}" in body
    assert "not in it" in body
    assert remedy.latest_backup(malmo).path == str(backup.path)

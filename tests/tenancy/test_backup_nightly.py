"""The worker's nightly backups with a controlled clock: each orchestra once per night at its own
stable slot in the window, daily and weekly retention, a record of every result, and one e-mail
to the superadmins per failure or missing backup (not one per pass); check_database shows it."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from stagesub.tenancy.backup import nightly_backups, slot_offset
from stagesub.tenancy.models import BackupRecord, Orchestra

WINDOW = 4 * 3600


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime.datetime:
    """A time in January 2027, in the platform's time zone (the window is local time)."""
    return timezone.make_aware(datetime.datetime(2027, 1, day, hour, minute, second))


@pytest.fixture(autouse=True)
def _nightly(settings, tmp_path):
    settings.BACKUP_WINDOW = "01:00-05:00"
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_KEY = ""
    settings.BACKUP_KEEP_DAILY = 2
    settings.BACKUP_KEEP_WEEKLY = 2


def backups():
    # Without "missing" markers: in 2027 these orchestras (made today) have lacked a backup.
    return BackupRecord.objects.exclude(outcome="missing")


def slot(orchestra, day: int) -> datetime.datetime:
    return local(day, 1) + datetime.timedelta(seconds=slot_offset(orchestra.id, WINDOW))


def test_each_orchestra_is_backed_up_once_a_night_at_its_own_slot(make_orchestra):
    orchestras = [make_orchestra() for _ in range(3)]
    assert nightly_backups(local(10, 0, 30)) == []  # before the window
    slots = sorted((slot(o, 10), o) for o in orchestras)
    assert len({s for s, _ in slots}) == 3  # spread, not all at once
    assert all(local(10, 1) <= s < local(10, 5) for s, _ in slots)
    # the slot is stable: derived from the id alone
    assert [slot(o, 10) for _, o in slots] == [s for s, _ in slots]
    for n, (at, orchestra) in enumerate(slots, start=1):
        nightly_backups(at - datetime.timedelta(seconds=1))
        assert backups().count() == n - 1  # not yet its turn
        done = nightly_backups(at + datetime.timedelta(seconds=1))
        assert done == [f"{orchestra.subdomain}: ok"]
        record = backups().get(orchestra=orchestra)
        assert record.kind == "nightly" and record.outcome == "ok"
        assert record.started_at == at + datetime.timedelta(seconds=1)
        assert record.size_bytes == Path(record.path).stat().st_size
        assert record.duration_seconds is not None
    assert nightly_backups(local(10, 4, 59)) == []  # once per night
    assert nightly_backups(local(10, 12)) == []  # the window has closed


def test_retention_keeps_the_newest_of_the_last_days_and_weeks(make_orchestra):
    orchestra = make_orchestra()
    for day in range(10, 20):  # Sunday 10 January to Tuesday 19 January 2027
        nightly_backups(slot(orchestra, day) + datetime.timedelta(seconds=1))
    records = backups().filter(orchestra=orchestra)
    assert records.count() == 10 and all(r.outcome == "ok" for r in records)
    kept = {timezone.localtime(r.started_at).day for r in records.filter(deleted_at__isnull=True)}
    # two newest days (19, 18) and the newest of the two newest ISO weeks (19 and 17)
    assert kept == {19, 18, 17}
    for record in records:
        assert Path(record.path).exists() == (record.deleted_at is None)


def test_a_failed_backup_mails_the_superadmins_once_and_shows_in_check_database(
    make_orchestra, superadmin, mail_server, settings, tmp_path
):
    orchestra = make_orchestra()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    settings.BACKUP_DIR = blocker / "backups"  # every write there fails, for real
    at = slot(orchestra, 10) + datetime.timedelta(seconds=1)
    assert nightly_backups(at) == [f"{orchestra.subdomain}: FAILED"]
    record = backups().get(orchestra=orchestra)
    assert record.outcome == "failed" and "Not a directory" in record.error
    assert record.alerted_at is not None
    assert len(mail_server.to(superadmin.email)) == 1
    body = mail_server.text(mail_server.to(superadmin.email)[0])
    assert orchestra.subdomain in body and "FAILED" in body
    nightly_backups(at + datetime.timedelta(minutes=10))  # later passes: no second mail
    nightly_backups(at + datetime.timedelta(minutes=20))
    assert len(mail_server.to(superadmin.email)) == 1
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_status:
        call_command("check_database", orchestra.subdomain, stdout=out)
    assert exit_status.value.code == 1
    assert "last backup: FAILED" in out.getvalue()
    assert "last backup failed" in out.getvalue()

    settings.BACKUP_DIR = tmp_path / "backups"
    nightly_backups(slot(orchestra, 11) + datetime.timedelta(seconds=1))
    out = io.StringIO()
    call_command("check_database", orchestra.subdomain, stdout=out)
    assert "last backup: 2027-01-1" in out.getvalue() and out.getvalue().strip().endswith("OK")


def test_an_orchestra_without_a_backup_for_36_hours_is_reported_once(
    make_orchestra, superadmin, mail_server, settings
):
    settings.BACKUP_WINDOW = ""  # nightly backups off: nothing will save it
    orchestra = make_orchestra()
    fresh = make_orchestra()
    Orchestra.objects.filter(pk=orchestra.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=3)
    )
    nightly_backups()  # with the window off it only backs up nothing and returns
    assert mail_server.to(superadmin.email) == []
    settings.BACKUP_WINDOW = "01:00-05:00"
    nightly_backups(timezone.now())
    nightly_backups(timezone.now())
    mails = mail_server.to(superadmin.email)
    assert len(mails) == 1
    assert f"{orchestra.subdomain}: no successful backup in 36 h" in mail_server.text(mails[0])
    assert fresh.subdomain not in mail_server.text(mails[0])  # too young to miss one
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("check_database", orchestra.subdomain, stdout=out)
    assert "last backup: MISSING" in out.getvalue()
    out = io.StringIO()
    call_command("check_database", fresh.subdomain, stdout=out)
    assert "last backup: none yet" in out.getvalue()

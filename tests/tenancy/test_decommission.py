"""Retiring an orchestra: suspended at once, a final backup, archived with its database kept for
the grace period, then database, role and files dropped; the subdomain reserved until released.
Killed at every step (SIGKILL of the real command) or with its backup failing for real, it
leaves nothing orphaned and finishes when run again."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from stagesub.tenancy import decommission as retirement
from stagesub.tenancy.backends import PostgresBackend, backend_for
from stagesub.tenancy.binding import directory, use_orchestra
from stagesub.tenancy.isolation import verify_isolation
from stagesub.tenancy.models import (
    AuditEvent,
    BackupRecord,
    DatabaseServer,
    Orchestra,
    RetiredDatabase,
)
from stagesub.tenancy.operations import OperationRefused, exclusive_operation
from tests.conftest import BACKEND, PASSWORD, host_client

STAGESUB = str(Path(sys.executable).with_name("stagesub"))


def _with_a_file(orchestra: Orchestra) -> Path:
    from stagesub.orchestra.storage import storage_root

    with use_orchestra(orchestra):
        path = storage_root() / "files" / "score.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.4 final")
    return path


def _database_exists(server: DatabaseServer, name: str, role: str = "") -> bool:
    backend = backend_for(server)
    if isinstance(backend, PostgresBackend) and role and backend.role_exists(role):
        return True
    return backend.exists(name)


def _later(days: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=days)


def test_decommission_archives_then_drops_everything_after_the_grace_period(
    goteborg, tmp_path, make_orchestra
):
    stored = _with_a_file(goteborg)
    server, name, role = goteborg.server, goteborg.database_name, goteborg.database_user
    result = retirement.decommission(goteborg, keep_days=7, to_dir=tmp_path, settle=False)

    row = Orchestra.objects.get(pk=goteborg.pk)
    assert row.status == Orchestra.Status.ARCHIVED and row.subdomain == "goteborg"
    assert not row.has_database and row.operation == "" and row.maintenance_reason == ""
    assert result.backup.path.exists() and result.backup.path.parent == tmp_path
    assert result.backup.manifest["orchestra_id"] == goteborg.id.hex
    assert BackupRecord.objects.get(orchestra=goteborg).kind == BackupRecord.Kind.FINAL
    kept = RetiredDatabase.objects.get(orchestra=goteborg)
    assert (kept.reason, kept.database_name, kept.dropped_at) == ("decommission", name, None)
    assert kept.drop_after > _later(6)
    # Kept for the grace period: database and files still there, nobody can log in, the host
    # shows the suspended page (the subdomain is reserved, not free).
    assert _database_exists(server, name, role) and stored.exists()
    assert not get_user_model().objects.filter(orchestra=goteborg, is_active=True).exists()
    directory.forget()
    assert host_client(goteborg).get("/login/").status_code == 403
    with pytest.raises(OperationRefused, match="kept until"):
        retirement.release(row)
    assert verify_isolation().exit_code == 0
    # Running it again changes nothing.
    again = retirement.decommission(row, to_dir=tmp_path, settle=False)
    assert again.already_archived and RetiredDatabase.objects.count() == 1

    assert retirement.purge_due() == []  # still in its grace period
    assert retirement.purge_due(_later(8)) == ["goteborg"]
    assert not _database_exists(server, name, role)
    assert not stored.exists() and not retirement.files_root(row).exists()
    assert RetiredDatabase.objects.get(pk=kept.pk).dropped_at is not None
    assert retirement.purge_due(_later(8)) == []  # idempotent
    assert verify_isolation().exit_code == 0

    tombstone = retirement.release(row)
    assert tombstone == f"~{goteborg.id.hex}"
    assert Orchestra.objects.get(pk=goteborg.pk).status == Orchestra.Status.ARCHIVED
    assert not get_user_model().objects.filter(orchestra=goteborg).exists()
    actions = set(
        AuditEvent.objects.filter(orchestra=goteborg, orchestra_label="goteborg").values_list(
            "action", flat=True
        )
    )
    assert {
        "orchestra.decommission_started",
        "orchestra.decommissioned",
        "orchestra.purged",
    } <= actions
    assert AuditEvent.objects.get(action="orchestra.released").details["subdomain"] == "goteborg"
    # The subdomain (and its default admin username) can be used again.
    fresh = make_orchestra("goteborg")
    assert fresh.pk != goteborg.pk
    assert host_client(fresh).get("/login/").status_code == 200
    assert verify_isolation().exit_code == 0


def test_release_only_after_decommission_and_a_second_operation_is_refused(goteborg, tmp_path):
    with pytest.raises(OperationRefused, match="decommission it first"):
        retirement.release(goteborg)
    with (
        exclusive_operation(goteborg, "move"),
        pytest.raises(OperationRefused, match="move is running"),
    ):
        retirement.decommission(goteborg, to_dir=tmp_path, settle=False)
    assert Orchestra.objects.get(pk=goteborg.pk).status == Orchestra.Status.ACTIVE


def test_the_command_asks_for_confirmation_and_names_unknown_orchestras(goteborg):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="without --yes"):
        call_command("decommission", "goteborg")
    with pytest.raises(CommandError, match="no orchestra"):
        call_command("decommission", "nowhere", "--yes")
    assert Orchestra.objects.get(pk=goteborg.pk).status == Orchestra.Status.ACTIVE


def test_demo_reset_retires_the_demo_orchestras_through_the_same_path(db, monkeypatch):
    monkeypatch.setenv("STAGESUB_ADMIN_PASSWORD", "demo-password-for-tests")
    call_command("demo")
    before = {o.subdomain: o for o in Orchestra.objects.select_related("server")}
    call_command("demo", "--reset")
    for subdomain, old in before.items():
        archived = Orchestra.objects.get(pk=old.pk)
        assert archived.subdomain == f"~{old.id.hex}"
        assert archived.status == Orchestra.Status.ARCHIVED
        assert not _database_exists(old.server, old.database_name, old.database_user)
        assert BackupRecord.objects.filter(orchestra=old, kind="final", outcome="ok").exists()
        new = Orchestra.objects.get(subdomain=subdomain)
        assert new.pk != old.pk and new.status == Orchestra.Status.ACTIVE
    assert verify_isolation().exit_code == 0


# --- the real command, killed or failing ------------------------------------------------------


def _environment() -> dict[str, str]:
    name = connection.settings_dict["NAME"]
    url = (
        f"sqlite:///{name}"
        if BACKEND == "sqlite"
        else os.environ["STAGESUB_DATABASE_URL"].replace("/stagesub_control?", f"/{name}?")
    )
    return {
        **os.environ,
        "STAGESUB_DATABASE_URL": url,
        "STAGESUB_ADMIN_PASSWORD": PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }


def _run(subdomain: str, to: Path, *, kill_after: str | None = None, delay: float = 0.0):
    """Run `stagesub decommission`; SIGKILL it `delay` s after it announces step `kill_after`.
    Returns (exit status or None when killed, output)."""
    import time

    process = subprocess.Popen(
        [STAGESUB, "decommission", subdomain, "--yes", "--keep-days", "3", "--to", str(to)],
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if kill_after and line.strip() == f"{kill_after}…":
                time.sleep(delay)
                process.send_signal(signal.SIGKILL)
                break
        status = process.wait(timeout=120)
        return (None if status == -signal.SIGKILL else status), "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


def _not_archives(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".tar"))


def _assert_finished_and_purged(orchestra: Orchestra, location: tuple, to: Path) -> None:
    server, name, role = location
    row = Orchestra.objects.get(pk=orchestra.pk)
    assert row.status == Orchestra.Status.ARCHIVED and row.operation == ""
    assert RetiredDatabase.objects.filter(orchestra=orchestra).count() == 1
    assert _not_archives(to) == []
    assert len(list(to.glob(f"{orchestra.subdomain}-*.tar"))) >= 1
    assert verify_isolation().exit_code == 0
    retirement.purge_due(_later(4))
    assert not _database_exists(server, name, role)
    assert not retirement.files_root(row).exists()
    assert verify_isolation().exit_code == 0


def _assert_untouched_but_suspended(orchestra: Orchestra, location: tuple, step) -> None:
    server, name, role = location
    row = Orchestra.objects.get(pk=orchestra.pk)
    # Killed inside "suspend", the suspension may not have committed: still active is fine.
    still = (Orchestra.Status.SUSPENDED,) + (
        (Orchestra.Status.ACTIVE,) if step == "suspend" else ()
    )
    assert row.status in still, step
    assert (row.server_id, row.database_name) == (server.pk, name), step
    assert not RetiredDatabase.objects.filter(orchestra=orchestra).exists(), step
    assert _database_exists(server, name, role), step
    assert retirement.files_root(row).exists(), step
    assert verify_isolation().exit_code == 0, step


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "step,delay", [("suspend", 0.0), ("backup", 0.0), ("backup", 0.15), ("archive", 0.0)]
)
def test_killed_at_every_step_leaves_nothing_behind_and_finishes_when_run_again(
    make_orchestra, tmp_path, step, delay
):
    orchestra = make_orchestra("retiring")
    _with_a_file(orchestra)
    location = (orchestra.server, orchestra.database_name, orchestra.database_user)
    to = tmp_path / "final"
    status, output = _run(orchestra.subdomain, to, kill_after=step, delay=delay)
    row = Orchestra.objects.get(pk=orchestra.pk)
    if status is not None or row.status == Orchestra.Status.ARCHIVED:
        # The last step committed before the kill landed: a finished retirement.
        assert row.status == Orchestra.Status.ARCHIVED, output
    else:
        _assert_untouched_but_suspended(orchestra, location, step)
        assert row.operation == retirement.REASON  # the dead process's claim, taken over below
    status, output = _run(orchestra.subdomain, to)
    assert status == 0, output
    _assert_finished_and_purged(orchestra, location, to)


@pytest.mark.django_db(transaction=True)
def test_a_failing_backup_leaves_it_suspended_with_its_database_and_it_can_be_run_again(
    make_orchestra, tmp_path
):
    orchestra = make_orchestra("retiring")
    _with_a_file(orchestra)
    location = (orchestra.server, orchestra.database_name, orchestra.database_user)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the backup folder should be")
    status, output = _run(orchestra.subdomain, blocked)
    assert status == 1, output
    assert "stays suspended" in output
    _assert_untouched_but_suspended(orchestra, location, "backup")
    assert Orchestra.objects.get(pk=orchestra.pk).operation == ""
    assert BackupRecord.objects.get(orchestra=orchestra).outcome == BackupRecord.Outcome.FAILED
    to = tmp_path / "final"
    status, output = _run(orchestra.subdomain, to)
    assert status == 0, output
    _assert_finished_and_purged(orchestra, location, to)

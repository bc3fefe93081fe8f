"""`stagesub restore` and `stagesub backup` killed with SIGKILL at several moments, for real.

The commands run as subprocesses on the backend under test (same STAGESUB_* environment, the
test's control database). `restore` prints a line as each step begins; the test kills it a few
milliseconds after the line of step N. `backup` is killed when its claim shows in the control
database, when its temporary archive appears, and at random moments. After each kill and the
worker's housekeeping (abandoned operations cleared, scratch databases of dead restores swept):
the orchestra serves from its previous database (or, when the kill landed after the switch
committed, from the restored one), no scratch database, role, folder, partial archive or
control row is left, verify_isolation exits 0; and the command, run again, succeeds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from stagesub.tenancy import backup, operations, restore
from stagesub.tenancy.backup import backup_orchestra
from stagesub.tenancy.isolation import verify_isolation
from stagesub.tenancy.models import BackupRecord, Orchestra, RetiredDatabase, ScratchDatabase
from tests.conftest import login
from tests.tenancy.test_backup_restore import (
    add_musician,
    musician_names,
    names_on_server,
    write_file,
)
from tests.tenancy.test_provisioning_kill import _environment

STAGESUB = str(Path(sys.executable).with_name("stagesub"))
RESTORE_STEPS = ["verify", "load", "compare", "migrate", "files", "switch"]


def _kill_after_line(command: list[str], line_wanted: str, delay: float) -> int | None:
    """Run the command; SIGKILL it `delay` s after it prints `line_wanted`. None: killed."""
    process = subprocess.Popen(
        command, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        for line in process.stdout:
            if line.strip() == line_wanted:
                time.sleep(delay)
                process.send_signal(signal.SIGKILL)
                break
        return None if process.wait(timeout=120) == -signal.SIGKILL else process.returncode
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


def _housekeeping() -> None:
    """What the worker does every minute after a process died."""
    operations.clear_stale_operations()
    restore.sweep_scratch()


def _expected_names(orchestra: Orchestra) -> list[str]:
    """The orchestra's own database (and role), its retired ones, its live and kept folders."""
    names = [f"folder {orchestra.id.hex}"]
    for location in [orchestra, *RetiredDatabase.objects.filter(orchestra=orchestra)]:
        if orchestra.server.kind == "postgresql":
            names += [f"database {location.database_name}", f"role {location.database_user}"]
        else:
            names.append(f"file {location.database_name}")
        if getattr(location, "files_folder", ""):
            names.append(f"folder {location.files_folder}")
    return sorted(names)


def _serves_and_is_clean(orchestra: Orchestra) -> Orchestra:
    row = Orchestra.objects.select_related("server").get(pk=orchestra.pk)
    assert row.operation == "" and row.maintenance_reason == ""
    assert not ScratchDatabase.objects.exists()
    assert names_on_server(row) == _expected_names(row)
    assert verify_isolation().exit_code == 0
    assert login(row, f"{row.subdomain}-admin").get("/musicians/").status_code == 200
    return row


@pytest.mark.django_db(transaction=True)
def test_restore_killed_at_every_step_leaves_the_orchestra_serving_and_nothing_behind(
    make_orchestra,
):
    orchestra = make_orchestra("killrestore")
    add_musician(orchestra, "Original")
    write_file(orchestra, "original")
    archive = backup_orchestra(orchestra).path
    add_musician(orchestra, "Changed")
    command = [STAGESUB, "restore", orchestra.subdomain, str(archive), "--keep-days", "1"]
    kills = [(step, random.uniform(0, 0.03)) for step in RESTORE_STEPS]
    # Inside the switch: while the maintenance page settles, and later (around the swap).
    kills += [("switch", delay) for delay in (0.5, random.uniform(4.5, 5.5))]
    killed = 0
    for step, delay in kills:
        before = Orchestra.objects.get(pk=orchestra.pk).database_name
        status = _kill_after_line(command, f"step: {step}", delay)
        _housekeeping()
        row = _serves_and_is_clean(orchestra)
        if status is None and row.database_name == before:
            killed += 1
            assert "Changed" in musician_names(row), step  # still the previous database
        else:
            # The kill came after the switch committed: a finished restore, not debris.
            assert "Changed" not in musician_names(row), (step, status)
            restore.rollback(row, keep_days=1)
            _housekeeping()
    assert killed >= len(RESTORE_STEPS) - 1

    finished = subprocess.run(
        command, env=_environment(), capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    row = _serves_and_is_clean(orchestra)
    assert musician_names(row) == {"Original"}
    assert (backup.storage_folder(row.id) / "scores" / "mahler2.txt").read_text() == "original"


def _kill_when(command: list[str], ready, timeout: float = 60) -> int | None:
    process = subprocess.Popen(
        command, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            if ready():
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        return None if process.wait(timeout=120) == -signal.SIGKILL else process.returncode
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


@pytest.mark.django_db(transaction=True)
def test_backup_killed_at_several_moments_leaves_no_archive_and_runs_again(make_orchestra):
    orchestra = make_orchestra("killbackup")
    add_musician(orchestra, "Original")
    # Large enough that writing the archive takes a while.
    backup.storage_folder(orchestra.id).mkdir(parents=True)
    (backup.storage_folder(orchestra.id) / "recording.bin").write_bytes(os.urandom(40 << 20))
    folder = Path(django_settings.BACKUP_DIR)
    command = [STAGESUB, "backup", orchestra.subdomain]

    def claimed() -> bool:
        return Orchestra.objects.filter(pk=orchestra.pk, operation="backup").exists()

    def ours() -> list[Path]:
        """This orchestra's archives and temporary files (the folder is the session's)."""
        if not folder.is_dir():
            return []
        return [p for p in folder.iterdir() if f"{orchestra.subdomain}-" in p.name]

    def writing() -> bool:
        return any(".partial-" in p.name for p in ours())

    start = time.monotonic()

    def after(seconds: float):
        return lambda: time.monotonic() - start > seconds

    moments = [("claimed", claimed), ("writing", writing), ("writing", writing)]
    killed = 0
    for label, moment in moments + [("random", None)] * 2:
        start = time.monotonic()
        ready = moment or after(random.uniform(1.0, 3.0))
        status = _kill_when(command, ready)
        archives = [p for p in ours() if p.name.endswith(".tar")]
        if status is None:
            killed += 1
        else:
            assert status == 0 and len(archives) == 1, label
        # Never a partial archive under an archive's name: one that exists (the kill came
        # after the rename) is whole, every checksum right.
        assert len(archives) <= 1, label
        for complete in archives:
            with restore.open_archive(complete) as opened:
                assert opened.manifest["orchestra_id"] == orchestra.id.hex
            complete.unlink()
        operations.clear_stale_operations()
        row = _serves_and_is_clean(orchestra)
        assert row.database_name == orchestra.database_name
    assert killed >= 3

    result = backup_orchestra(Orchestra.objects.get(pk=orchestra.pk))  # partials of the dead swept
    assert [p.name for p in ours()] == [result.path.name]
    assert BackupRecord.objects.filter(orchestra=orchestra, outcome="ok").exists()
    assert restore.verify_archive(result.path)[-1] == "scratch database dropped"

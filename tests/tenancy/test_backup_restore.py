"""Backups and restores on the backend under test: round trip, every bad archive, encryption,
failing writes and a failing pg_restore, the restore drill, restoring as a new orchestra.

After every failure: the orchestra still serves from its previous database, no database, role,
file, folder or control row is left behind, verify_isolation exits 0, and the operation works
when run again.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import os
import resource
import signal
import tarfile
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from stagesub.messaging.models import Message
from stagesub.offers import services
from stagesub.roster.models import Musician
from stagesub.tenancy import backup, operations, restore, use_orchestra
from stagesub.tenancy.backends import PostgresBackend, backend_for
from stagesub.tenancy.backup import BackupError, backup_orchestra
from stagesub.tenancy.binding import directory
from stagesub.tenancy.isolation import verify_isolation
from stagesub.tenancy.models import (
    AuditEvent,
    BackupRecord,
    Orchestra,
    RetiredDatabase,
    ScratchDatabase,
)
from stagesub.tenancy.restore import RestoreRefused, restore_orchestra
from tests.conftest import host_client, login
from tests.offers.test_flow import T0, link_path, make_need

KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()


@pytest.fixture(autouse=True)
def _quick_maintenance(monkeypatch, settings, tmp_path):
    # The maintenance page waits one routing-cache period; in one process a short one will do.
    monkeypatch.setattr(directory, "ttl", 0.05)
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_KEY = ""


def add_musician(orchestra, name: str) -> None:
    from stagesub.roster import services as roster
    from stagesub.roster.services import MusicianData

    with use_orchestra(orchestra):
        roster.create_musician(
            MusicianData(first_name=name, last_name="X", email=f"{name.lower()}@example.se"),
            max_musicians=1000,
        )


def musician_names(orchestra) -> set[str]:
    with use_orchestra(Orchestra.objects.get(pk=orchestra.pk)):
        return set(Musician.objects.values_list("first_name", flat=True))


def stored_file(orchestra) -> Path:
    return backup.storage_folder(orchestra.id) / "scores" / "mahler2.txt"


def write_file(orchestra, text: str) -> None:
    path = stored_file(orchestra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def names_on_server(orchestra) -> list[str]:
    """Every database, role and file on the server (and files folder) named for the orchestra."""
    backend = backend_for(orchestra.server)
    prefix = f"stagesub_{orchestra.subdomain.replace('-', '_')}_"
    found = []
    if isinstance(backend, PostgresBackend):
        with backend.connect_admin() as conn:
            found += [
                f"database {r[0]}"
                for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"]
                )
            ]
            found += [
                f"role {r[0]}"
                for r in conn.execute(
                    "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", [prefix + "%"]
                )
            ]
    else:
        found += [
            f"file {p.name}"
            for p in backend.directory.glob(prefix + "*")
            if not p.name.endswith(("-wal", "-shm"))  # a live database's own journal
        ]
    found += [f"folder {p.name}" for p in backup.files_base().glob(orchestra.id.hex + "*")]
    return sorted(found)


def nothing_changed(orchestra, before: list[str]) -> None:
    now = Orchestra.objects.select_related("server").get(pk=orchestra.pk)
    assert now.database_name == orchestra.database_name
    assert now.maintenance_reason == "" and now.operation == ""
    assert names_on_server(now) == before
    assert not ScratchDatabase.objects.exists()
    assert not RetiredDatabase.objects.filter(orchestra=orchestra).exists()
    assert verify_isolation().exit_code == 0
    assert login(now, f"{now.subdomain}-admin").get("/musicians/").status_code == 200


def test_round_trip_restores_old_data_files_and_links_then_rolls_back(goteborg, malmo):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        services.send(need, now=T0)
        link = link_path(Message.objects.filter(kind="request").first())
    write_file(goteborg, "first edition")
    made = backup_orchestra(goteborg)
    assert made.path.exists() and made.size == made.path.stat().st_size
    assert made.manifest["orchestra_id"] == goteborg.id.hex
    assert made.manifest["stamp"] == goteborg.id.hex
    assert made.manifest["row_counts"]["roster_musician"] == 5
    assert made.manifest["file_count"] == 1
    assert oct(made.path.stat().st_mode & 0o777) == "0o600"
    record = BackupRecord.objects.get(orchestra=goteborg)
    assert (
        record.outcome == "ok" and record.size_bytes == made.size and record.path == str(made.path)
    )

    add_musician(goteborg, "Latecomer")
    write_file(goteborg, "second edition")
    before = goteborg.database_name
    names_before = names_on_server(goteborg)  # (the suite's other tests leave theirs too)

    result = restore_orchestra(goteborg, made.path, keep_days=7)
    restored = Orchestra.objects.get(pk=goteborg.pk)
    assert restored.database_name != before and restored.database_name == result.database_name
    assert "Latecomer" not in musician_names(goteborg)
    assert stored_file(goteborg).read_text() == "first edition"
    client = login(restored, "goteborg-admin")
    page = client.get("/musicians/")
    assert page.status_code == 200 and "M00" in page.content.decode()
    assert host_client(restored).get(link).status_code == 200  # the answer link still works
    assert verify_isolation().exit_code == 0
    retired = RetiredDatabase.objects.get(orchestra=goteborg)
    assert retired.database_name == before and retired.reason == "restore"
    assert retired.files_folder and (backup.files_base() / retired.files_folder).is_dir()

    call_command("restore", "--rollback", "goteborg")
    assert Orchestra.objects.get(pk=goteborg.pk).database_name == before
    assert "Latecomer" in musician_names(goteborg)
    assert stored_file(goteborg).read_text() == "second edition"
    assert verify_isolation().exit_code == 0

    # After the grace period the worker drops what the rollback retired: database and files.
    kept = RetiredDatabase.objects.get(orchestra=goteborg, dropped_at__isnull=True)
    operations.drop_due_retired(timezone.now() + datetime.timedelta(days=8))
    assert not (backup.files_base() / kept.files_folder).exists()
    assert names_on_server(goteborg) == names_before


def _own_names(orchestra) -> list[str]:
    if orchestra.server.kind == "postgresql":
        return [f"database {orchestra.database_name}", f"role {orchestra.database_user}"]
    return [f"file {orchestra.database_name}"]


def rewrite(archive: Path, target: Path, *, manifest=None, part=None, recompute=True) -> Path:
    """A copy of the archive with the manifest and/or one part changed (checksums recomputed)."""
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}
    data = json.loads(members["manifest.json"])
    if part:
        name, change = part
        members[name] = change(members[name])
        if recompute:
            data["parts"][name] = {
                "size": len(members[name]),
                "sha256": hashlib.sha256(members[name]).hexdigest(),
            }
    if manifest:
        manifest(data)
    members["manifest.json"] = json.dumps(data).encode()
    with tarfile.open(target, "w") as tar:
        for name in ("database.dump", "database.sqlite3", "files.tar", "manifest.json"):
            if name in members:
                info = tarfile.TarInfo(name)
                info.size = len(members[name])
                tar.addfile(info, io.BytesIO(members[name]))
    return target


def test_every_bad_archive_is_refused_by_name_and_nothing_changes(goteborg, malmo, tmp_path):
    good = backup_orchestra(goteborg).path
    foreign = backup_orchestra(malmo).path
    part = "database.dump" if goteborg.server.kind == "postgresql" else "database.sqlite3"
    raw = good.read_bytes()
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(raw[: len(raw) // 2])
    cut_manifest = tmp_path / "no-manifest.tar"
    cut_manifest.write_bytes(raw[: raw.rfind(b"manifest.json") - 1])
    flipped = bytearray(raw)
    flipped[1024] ^= 0xFF  # inside the database part
    tampered = tmp_path / "tampered.tar"
    tampered.write_bytes(bytes(flipped))
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("Mahler 2, rehearsal at ten\n" * 100)

    def newer_format(m):
        m["format_version"] = 99

    def newer_version(m):
        m["stagesub_version"] = "99.0.0"

    def unknown_migration(m):
        m["migrations"].append("roster.0999_from_the_future")

    cases = [
        (truncated, "truncated"),
        (cut_manifest, "truncated"),
        (tampered, "tampered"),
        (
            rewrite(good, tmp_path / "lie.tar", part=(part, lambda b: b + b"x"), recompute=False),
            "tampered",
        ),
        (rewrite(good, tmp_path / "fmt.tar", manifest=newer_format), "newer StageSub"),
        (rewrite(good, tmp_path / "ver.tar", manifest=newer_version), "newer StageSub"),
        (rewrite(good, tmp_path / "mig.tar", manifest=unknown_migration), "newer StageSub"),
        (not_archive, "not a StageSub archive"),
        (tmp_path / "absent.tar", "no such archive"),
        (foreign, "archive is of orchestra malmo"),
    ]
    before = names_on_server(goteborg)
    for archive, reason in cases:
        with pytest.raises(RestoreRefused, match=reason):
            restore_orchestra(goteborg, archive)
        nothing_changed(goteborg, before)
        with pytest.raises(RestoreRefused, match=reason):
            restore.verify_archive(archive) if reason != "archive is of orchestra malmo" else (
                restore_orchestra(goteborg, archive)
            )

    # Malmö's data under a manifest rewritten to name Göteborg: the stamp inside the restored
    # database still names Malmö, and the restore stops before anything is switched.
    def claim_goteborg(m):
        m["orchestra_id"], m["subdomain"] = goteborg.id.hex, "goteborg"

    disguised = rewrite(foreign, tmp_path / "disguised.tar", manifest=claim_goteborg)
    with pytest.raises(BackupError, match=f"carries stamp {malmo.id.hex}"):
        restore_orchestra(goteborg, disguised)
    nothing_changed(goteborg, before)
    # The command says the same, with exit status 1.
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="malmo") as refused:
        call_command("restore", "goteborg", str(foreign))
    assert refused.value.returncode == 1
    nothing_changed(goteborg, before)


def test_a_pg_restore_error_or_unreadable_copy_leaves_nothing_and_a_rerun_works(goteborg, tmp_path):
    good = backup_orchestra(goteborg).path
    part = "database.dump" if goteborg.server.kind == "postgresql" else "database.sqlite3"
    # A truncated dump with a manifest that agrees with it: only loading it can find out.
    broken = rewrite(good, tmp_path / "broken.tar", part=(part, lambda b: b[: len(b) // 3]))
    before = names_on_server(goteborg)
    with pytest.raises(BackupError, match=r"pg_restore failed|unreadable"):
        restore_orchestra(goteborg, broken)
    nothing_changed(goteborg, before)
    assert restore_orchestra(goteborg, good).database_name != goteborg.database_name


def _file_size_limit(limit: int):
    """A real failing write: the kernel refuses to grow any file past `limit` bytes (EFBIG)."""
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    previous = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, previous[1]))
    return previous, previous_handler


def _lift(previous, handler) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, previous)
    signal.signal(signal.SIGXFSZ, handler)


def test_a_failing_write_fails_backup_and_restore_cleanly(goteborg, settings):
    from django.db import connection

    write_file(goteborg, "x")
    big = backup.storage_folder(goteborg.id) / "recording.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    good = backup_orchestra(goteborg).path
    before = names_on_server(goteborg)
    control = Path(connection.settings_dict["NAME"])
    floor = control.stat().st_size if control.exists() else 0
    limit = max(floor + 2 * 1024 * 1024, 3 * 1024 * 1024)  # past the control database's size
    archives = set(Path(settings.BACKUP_DIR).iterdir())

    state = _file_size_limit(limit)
    try:
        with pytest.raises(OSError, match="File too large"):
            backup_orchestra(goteborg)
        with pytest.raises(OSError, match="File too large"):
            restore_orchestra(goteborg, good)
    finally:
        _lift(*state)
    assert set(Path(settings.BACKUP_DIR).iterdir()) == archives  # no partial archive either
    failed = BackupRecord.objects.filter(orchestra=goteborg, outcome="failed").get()
    assert "File too large" in failed.error
    nothing_changed(goteborg, before)
    assert backup_orchestra(goteborg).size > 6 * 1024 * 1024
    restore_orchestra(goteborg, good)
    assert big.read_bytes() == (backup.storage_folder(goteborg.id) / "recording.bin").read_bytes()


def test_encryption_round_trip_wrong_key_and_weak_key(goteborg, settings, tmp_path):
    settings.BACKUP_KEY = KEY
    add_musician(goteborg, "Sealed")
    made = backup_orchestra(goteborg)
    assert made.path.name.endswith(".tar.aes")
    content = made.path.read_bytes()
    assert content.startswith(backup.SEALED_MAGIC) and b"manifest.json" not in content
    assert any("scratch database dropped" in line for line in restore.verify_archive(made.path))

    settings.BACKUP_KEY = base64.urlsafe_b64encode(bytes(range(1, 33))).decode()
    with pytest.raises(RestoreRefused, match="wrong key"):
        restore_orchestra(goteborg, made.path)
    settings.BACKUP_KEY = ""
    with pytest.raises(RestoreRefused, match="STAGESUB_BACKUP_KEY is not set"):
        restore_orchestra(goteborg, made.path)
    cut = tmp_path / "cut.tar.aes"
    cut.write_bytes(content[:-100])
    settings.BACKUP_KEY = KEY
    with pytest.raises(RestoreRefused, match=r"truncated"):
        restore_orchestra(goteborg, cut)

    add_musician(goteborg, "AfterSealing")
    restore_orchestra(goteborg, made.path)
    assert "Sealed" in musician_names(goteborg)
    assert "AfterSealing" not in musician_names(goteborg)

    for weak in ("short", "a" * 43, ""):
        settings.BACKUP_KEY = weak
        with pytest.raises(BackupError, match=r"weak or malformed|not set"):
            backup_orchestra(goteborg, encrypt=True)
    settings.BACKUP_KEY = ""
    assert not backup_orchestra(goteborg).path.name.endswith(".aes")  # no key: plain by default


def test_backup_verify_drill_drops_its_scratch_database(goteborg, tmp_path):
    made = backup_orchestra(goteborg, tmp_path / "elsewhere")
    assert made.path.parent == tmp_path / "elsewhere"
    before = names_on_server(goteborg)
    out = io.StringIO()
    call_command("backup", "--verify", str(made.path), stdout=out)
    assert "OK" in out.getvalue() and "stamp ok" in out.getvalue()
    assert names_on_server(goteborg) == before
    assert not ScratchDatabase.objects.exists()
    broken = tmp_path / "broken.tar"
    broken.write_bytes(made.path.read_bytes()[:5000])
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"NOT OK: .*truncated") as failed:
        call_command("backup", "--verify", str(broken))
    assert failed.value.returncode == 1


def test_restore_as_new_gets_a_new_id_and_stamp_and_old_links_are_dead(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        services.send(need, now=T0)
        link = link_path(Message.objects.filter(kind="request").first())
    write_file(goteborg, "shared score")
    made = backup_orchestra(goteborg)
    out = io.StringIO()
    call_command("restore", str(made.path), "--as-new", "goteborg-kopia", stdout=out)
    copy = Orchestra.objects.select_related("server").get(subdomain="goteborg-kopia")
    assert copy.id != goteborg.id and copy.status == "active"
    with use_orchestra(copy):
        from stagesub.orchestra.models import DatabaseStamp

        stamp = DatabaseStamp.objects.get()
        assert stamp.orchestra_id == copy.id and stamp.subdomain == "goteborg-kopia"
    assert musician_names(copy) == musician_names(goteborg)
    assert stored_file(copy).read_text() == "shared score"
    assert host_client(goteborg).get(link).status_code == 200
    assert host_client(copy).get(link).status_code == 404  # HMAC of the old id: dead here
    with use_orchestra(goteborg):
        queued = Message.objects.filter(status="queued").count()
    with use_orchestra(copy):  # the original's queued mail is not sent again from the copy
        assert not Message.objects.filter(status="queued").exists()
        assert Message.objects.filter(status="cancelled").count() == queued >= 1
    assert verify_isolation().exit_code == 0
    # The empty database provisioning made for it is gone at once, not after a grace period.
    assert not RetiredDatabase.objects.filter(orchestra=copy, dropped_at__isnull=True).exists()
    assert names_on_server(copy) == sorted([f"folder {copy.id.hex}", *_own_names(copy)])
    assert AuditEvent.objects.filter(action="fleet.restored_as_new", orchestra=copy).exists()


def test_a_second_operation_is_refused_while_a_restore_runs(goteborg):
    made = backup_orchestra(goteborg)
    with operations.exclusive_operation(goteborg, "move"):
        with pytest.raises(operations.OperationRefused, match="move is running"):
            restore_orchestra(goteborg, made.path)
        with pytest.raises(operations.OperationRefused, match="move is running"):
            backup_orchestra(goteborg)
    assert not ScratchDatabase.objects.exists()


def test_the_sweep_undoes_a_half_done_files_swap_of_a_restore_whose_process_died(goteborg):
    import socket
    import subprocess
    import sys

    write_file(goteborg, "as backed up")
    made = backup_orchestra(goteborg)
    write_file(goteborg, "changed since")
    before = names_on_server(goteborg)
    with restore.open_archive(made.path) as opened:
        built = restore._build(
            opened,
            server=goteborg.server,
            orchestra=goteborg,
            purpose="restore",
            expect_stamp=goteborg.id,
            step=lambda step: None,
        )
    # Killed between the two renames of the switch: the live folder parked, the restored one
    # in its place, routing not switched.
    scratch = built.scratch
    base = backup.files_base()
    os.rename(base / goteborg.id.hex, base / scratch.previous_files_folder)
    os.rename(base / scratch.files_folder, base / goteborg.id.hex)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    ScratchDatabase.objects.filter(pk=scratch.pk).update(owner=f"{socket.gethostname()}:{dead}")
    assert stored_file(goteborg).read_text() == "as backed up"  # what the dead process left
    assert restore.sweep_scratch() != []
    assert stored_file(goteborg).read_text() == "changed since"
    nothing_changed(goteborg, before)
    # A live owner's scratch is never touched.
    with restore.open_archive(made.path) as opened:
        built = restore._build(
            opened,
            server=goteborg.server,
            orchestra=goteborg,
            purpose="restore",
            expect_stamp=goteborg.id,
            step=lambda step: None,
        )
    assert restore.sweep_scratch() == []
    assert ScratchDatabase.objects.filter(pk=built.scratch.pk).exists()
    restore._drop_scratch(built.scratch)
    nothing_changed(goteborg, before)


def test_a_database_too_large_for_memory_goes_through_a_temporary_file(goteborg, monkeypatch):
    # (SQLite: over SQLITE_IN_MEMORY_LIMIT the copy is made on disk; PostgreSQL streams anyway.)
    monkeypatch.setattr(backup, "SQLITE_IN_MEMORY_LIMIT", 0)
    add_musician(goteborg, "Large")
    made = backup_orchestra(goteborg)
    assert not [p for p in made.path.parent.iterdir() if ".partial-" in p.name]
    add_musician(goteborg, "Later")
    restore_orchestra(goteborg, made.path)
    assert "Large" in musician_names(goteborg) and "Later" not in musician_names(goteborg)


def test_an_archive_from_an_older_schema_is_migrated_forward(goteborg):
    from django.db import connections as django_connections
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.loader import MigrationLoader

    from stagesub.tenancy import connections, schema

    # Every messaging migration after the first (each wave may add one).
    later = sorted(
        f"{app}.{name}"
        for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations
        if app == "messaging" and name != "0001_initial"
    )
    latest = later[-1]
    alias = connections.alias_for(goteborg.id)
    with use_orchestra(goteborg):
        MigrationExecutor(django_connections[alias]).migrate([("messaging", "0001_initial")])
    made = backup_orchestra(goteborg)  # an archive of the schema one migration back
    assert latest not in made.manifest["migrations"]
    result = restore_orchestra(goteborg, made.path)
    assert result.applied_migrations == later
    with use_orchestra(Orchestra.objects.get(pk=goteborg.pk)):
        assert schema.pending_migrations(alias) == []
    assert verify_isolation().exit_code == 0


@pytest.mark.django_db(transaction=True)
def test_while_a_restore_switches_the_host_answers_the_maintenance_page_never_a_500(
    make_orchestra, monkeypatch
):
    import threading

    from django.db import connections as django_connections

    orchestra = make_orchestra("switching")
    add_musician(orchestra, "Before")
    made = backup_orchestra(orchestra)
    add_musician(orchestra, "After")
    monkeypatch.setattr(directory, "ttl", 0.5)  # a settle long enough to be seen
    client = login(orchestra, "switching-admin")
    seen: list[tuple[int, str]] = []
    done = threading.Event()

    def poll():
        try:
            while not done.is_set():
                response = client.get("/musicians/")
                seen.append((response.status_code, response.get("Retry-After", "")))
                time.sleep(0.01)
        finally:
            django_connections.close_all()

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        restore_orchestra(orchestra, made.path)
        time.sleep(0.6)  # past the routing cache: the restored database is served
    finally:
        done.set()
        poller.join()
    codes = {code for code, _ in seen}
    assert codes <= {200, 503}, seen
    assert 503 in codes and all(after for code, after in seen if code == 503)
    assert seen[-1][0] == 200
    assert "After" not in musician_names(orchestra)


def test_a_caller_holding_the_operation_restores_the_latest_backup_behind_its_own_page(goteborg):
    """As the remedy does: claim, block, restore its latest backup, and the block stays."""
    add_musician(goteborg, "Backed")
    first = backup_orchestra(goteborg)
    add_musician(goteborg, "Later")
    latest = backup_orchestra(goteborg)
    first.path.unlink()
    assert backup.latest_backup(goteborg).path == str(latest.path)
    with operations.exclusive_operation(goteborg, "remedy") as current:
        Orchestra.objects.filter(pk=goteborg.pk).update(maintenance_reason="remedy")
        current.maintenance_reason = "remedy"
        restore_orchestra(current, Path(backup.latest_backup(goteborg).path), claim=False)
        assert Orchestra.objects.get(pk=goteborg.pk).maintenance_reason == "remedy"
    assert {"Backed", "Later"} <= musician_names(goteborg)
    latest.path.unlink()
    assert backup.latest_backup(goteborg) is None


def test_a_restored_database_that_cannot_reach_the_disk_fails_the_restore(tmp_path):
    """The copied SQLite file is fsynced on another thread while the restore checks and
    migrates it; its failure must still stop the restore before the switch."""
    durable = restore._Durable()
    durable.start(tmp_path / "removed-before-it-was-synced.sqlite3")
    with pytest.raises(BackupError, match="could not write the restored database to disk"):
        durable.wait()

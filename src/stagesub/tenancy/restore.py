"""Restores, never in place: an archive goes into a NEW database, is checked, then routed to.

`restore_orchestra` verifies the archive (checksums, format, the stamp must be this
orchestra's), builds a new database on the orchestra's server (its own role on PostgreSQL,
`pg_restore --no-owner --no-acl --role=<role>`; SQLite: a new file), migrates it forward if the
archive is older, compares the row counts with the manifest and the stamp with the orchestra,
puts the files in a new folder, and only then, behind the maintenance page, swaps the files
folder and switches routing in one control transaction (operations.switch_database), keeping the
previous database and folder for `keep_days` (`rollback` switches back).

Everything built before the switch is recorded first as a `ScratchDatabase` row (database,
role, folders, owner process) and removed when the switch commits; `sweep_scratch` removes what
a killed restore left (undoing a half-done folder swap), so a crash at any moment leaves the
orchestra on its previous database with nothing orphaned, and the restore can simply be run
again. `verify_archive` is the same build into a scratch database that is then dropped (the
restore drill); `restore_as_new` provisions a new orchestra and restores the archive into it
with a new stamp (the old orchestra's answer links, HMACs of its id, do not work there).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connections as django_connections
from django.db import transaction
from django.utils import timezone

from stagesub.crypto import encrypt_secret
from stagesub.tenancy import audit, connections, operations, schema
from stagesub.tenancy.backends import (
    PostgresBackend,
    SQLiteBackend,
    backend_for,
    default_server,
    generate_password,
    new_database_name,
)
from stagesub.tenancy.backup import (
    FILES_PART,
    FORMAT_VERSION,
    MANIFEST,
    PG_PART,
    SEALED_MAGIC,
    SQLITE_PART,
    BackupError,
    _pg_state,
    backup_key,
    files_base,
    pg_client,
    pg_command_environment,
    server_major,
    sqlite_state,
    stagesub_version,
    unseal,
)
from stagesub.tenancy.context import Binding, bind
from stagesub.tenancy.identity import physical_identity
from stagesub.tenancy.models import (
    DatabaseServer,
    MigrationState,
    Orchestra,
    RetiredDatabase,
    ScratchDatabase,
)
from stagesub.tenancy.operations import Location, OperationRefused
from stagesub.tenancy.scheduler import periodic_job
from stagesub.tenancy.sides import is_orchestra_app

Progress = Callable[[str], None]


class Steps(list):
    """The steps an operation went through, each also announced to `progress` as it starts."""

    def __init__(self, progress: Progress | None = None):
        super().__init__()
        self.progress = progress

    def __call__(self, name: str) -> None:
        self.append(name)
        if self.progress:
            self.progress(name)


_PARTS = {MANIFEST, FILES_PART, PG_PART, SQLITE_PART}


class RestoreRefused(RuntimeError):
    """The archive cannot be restored here (the message names the reason); nothing changed."""


@dataclass
class OpenedArchive:
    """A checked archive: its manifest, the unpacked dump (PostgreSQL), where each part lies."""

    path: Path
    manifest: dict
    work: Path
    tar_path: Path  # the plain tar (the archive itself, or its decrypted copy in `work`)
    members: dict[str, tuple[int, int]]  # part → (offset of its data in tar_path, size)

    @property
    def database_part(self) -> Path:
        """The PostgreSQL dump, unpacked (pg_restore reads a file)."""
        return self.work / self.manifest["database_part"]

    @property
    def orchestra_id(self) -> uuid.UUID:
        return uuid.UUID(self.manifest["orchestra_id"])

    @contextlib.contextmanager
    def part_reader(self, name: str) -> Iterator[_Slice]:
        """Read one part straight out of the tar, without unpacking it first."""
        offset, size = self.members[name]
        with open(self.tar_path, "rb") as fh:
            fh.seek(offset)
            yield _Slice(fh, size)

    def copy_part(self, name: str, target: Path) -> None:
        """Copy one part into a file of its own (in the kernel where it can); not yet fsynced
        (see `_Durable`)."""
        offset, size = self.members[name]
        with open(self.tar_path, "rb") as source, open(target, "wb") as out:
            done = 0
            try:
                while done < size:
                    n = os.copy_file_range(
                        source.fileno(), out.fileno(), size - done, offset + done
                    )
                    if n == 0:
                        break
                    done += n
            except OSError:
                out.seek(0)
                out.truncate()
                done = 0
                source.seek(offset)
                reader = _Slice(source, size)
                while chunk := reader.read(1024 * 1024):
                    out.write(chunk)
                    done += len(chunk)
            if done != size:
                raise BackupError(f"{name}: archive ended {size - done} bytes early")


class _Slice:
    """A file object limited to `size` bytes from the current position (one tar member)."""

    def __init__(self, fh, size: int):
        self.fh = fh
        self.left = size

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self.left:
            n = self.left
        data = self.fh.read(n)
        self.left -= len(data)
        return data

    @property
    def orchestra_id(self) -> uuid.UUID:
        return uuid.UUID(self.manifest["orchestra_id"])


@dataclass
class RestoreResult:
    orchestra: Orchestra
    database_name: str
    applied_migrations: list[str]
    row_counts: dict[str, int]
    retired: RetiredDatabase | None = None
    steps: list[str] = field(default_factory=list)


# --- reading and checking an archive -------------------------------------------------------


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _work_folder() -> Path:
    folder = Path(settings.DATA_DIR) / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


@contextlib.contextmanager
def open_archive(path: Path) -> Iterator[OpenedArchive]:
    """Unpack and check an archive (decrypting it first when sealed); refuse it by name."""
    path = Path(path)
    if not path.is_file():
        raise RestoreRefused(f"{path}: no such archive file")
    with tempfile.TemporaryDirectory(dir=_work_folder(), prefix="restore-") as work:
        work_path = Path(work)
        tar_path = path
        with open(path, "rb") as fh:
            head = fh.read(len(SEALED_MAGIC))
        if head == SEALED_MAGIC:
            try:
                key = backup_key(required=True)
                tar_path = work_path / "archive.tar"
                with open(path, "rb") as source, open(tar_path, "wb") as target:
                    unseal(source, target, key)
            except BackupError as exc:
                raise RestoreRefused(f"{path}: {exc}") from None
        manifest, members = _unpack(path, tar_path, work_path)
        yield OpenedArchive(path, manifest, work_path, tar_path, members)


def _unpack(label: Path, tar_path: Path, work: Path) -> tuple[dict, dict[str, tuple[int, int]]]:
    """Check every part's checksum; unpack only the manifest and a PostgreSQL dump."""
    import hashlib

    if not tarfile.is_tarfile(tar_path):
        raise RestoreRefused(f"{label}: not a StageSub archive (not a tar file)")
    found: dict[str, dict] = {}
    members: dict[str, tuple[int, int]] = {}
    try:
        with tarfile.open(tar_path, mode="r:") as tar:
            for member in tar:
                if member.name not in _PARTS or not member.isfile():
                    raise RestoreRefused(
                        f"{label}: not a StageSub archive (unexpected member {member.name!r})"
                    )
                source = tar.extractfile(member)
                assert source is not None
                digest = hashlib.sha256()
                keep = member.name in (MANIFEST, PG_PART)
                with open(work / member.name, "wb") if keep else contextlib.nullcontext() as out:
                    while chunk := source.read(1024 * 1024):
                        digest.update(chunk)
                        if out is not None:
                            out.write(chunk)
                found[member.name] = {"size": member.size, "sha256": digest.hexdigest()}
                members[member.name] = (member.offset_data, member.size)
    except (tarfile.TarError, EOFError) as exc:
        raise RestoreRefused(f"{label}: archive is truncated ({exc})") from None
    if MANIFEST not in found:
        if found:
            raise RestoreRefused(
                f"{label}: archive is truncated (its manifest, written last, is missing)"
            )
        raise RestoreRefused(f"{label}: not a StageSub archive (no manifest.json)")
    try:
        manifest = json.loads((work / MANIFEST).read_text())
        fmt = int(manifest["format_version"])
        for key in ("orchestra_id", "subdomain", "engine", "database_part", "parts", "row_counts"):
            manifest[key]
        uuid.UUID(manifest["orchestra_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise RestoreRefused(f"{label}: manifest is tampered with or unreadable ({exc})") from None
    if fmt > FORMAT_VERSION:
        raise RestoreRefused(
            f"{label}: made by a newer StageSub (archive format {fmt}, StageSub "
            f"{manifest.get('stagesub_version', '?')}); this StageSub {stagesub_version()} "
            f"reads format {FORMAT_VERSION}: upgrade first"
        )
    theirs = str(manifest.get("stagesub_version", "0"))
    if _version_tuple(theirs) > _version_tuple(stagesub_version()):
        raise RestoreRefused(
            f"{label}: made by a newer StageSub ({theirs}, this is {stagesub_version()}): "
            "upgrade first"
        )
    known = {f"{a}.{n}" for a, n in schema.orchestra_migrations_on_disk()}
    unknown = [
        m
        for m in manifest.get("migrations", [])
        if is_orchestra_app(m.split(".", 1)[0]) and m not in known
    ]
    if unknown:
        raise RestoreRefused(
            f"{label}: made by a newer StageSub (its schema has migrations this one does not "
            f"know: {', '.join(unknown[:5])}): upgrade first"
        )
    expected_parts = {manifest["database_part"], FILES_PART}
    if set(manifest["parts"]) != expected_parts or manifest["database_part"] not in (
        PG_PART,
        SQLITE_PART,
    ):
        raise RestoreRefused(f"{label}: manifest is tampered with (it lists other parts)")
    for name, expected in manifest["parts"].items():
        got = found.get(name)
        if got is None:
            raise RestoreRefused(f"{label}: archive is truncated ({name} is missing)")
        if got["size"] != expected.get("size") or got["sha256"] != expected.get("sha256"):
            raise RestoreRefused(
                f"{label}: archive is tampered with (checksum of {name} does not match its "
                "manifest)"
            )
    return manifest, members


# --- building a database from an archive ----------------------------------------------------


def _owner() -> str:
    return operations._owner()


def _new_location_names(server: DatabaseServer, subdomain: str) -> tuple[str, str]:
    backend = backend_for(server)
    if isinstance(backend, SQLiteBackend):
        return backend.file_name(subdomain), ""
    name = new_database_name(subdomain)
    return name, name


def _scratch_settings(server: DatabaseServer, scratch: ScratchDatabase, password: str) -> dict:
    backend = backend_for(server)
    if isinstance(backend, SQLiteBackend):
        return backend.settings_for_path(backend.path(scratch.database_name))
    return backend._settings(scratch.database_name, scratch.database_user, password)


class _Durable:
    """fsync a file on another thread while the restore goes on checking and migrating it.

    The copied SQLite database must be on disk before the orchestra is routed to it; the
    fsync (the largest part of a SQLite restore on a busy disk) waits in the kernel without
    the GIL, so it overlaps the row counts, the stamp check, the migrations and the files.
    `wait()` before the switch; the checks read the page cache, which holds the same bytes.
    """

    def __init__(self) -> None:
        self._pending: list[threading.Thread] = []
        self._errors: list[OSError] = []

    def start(self, path: Path) -> None:
        def sync() -> None:
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                self._errors.append(exc)

        thread = threading.Thread(target=sync, name=f"fsync {path.name}", daemon=True)
        thread.start()
        self._pending.append(thread)

    def wait_quietly(self) -> None:
        """On the way out of a failed restore: the file is about to be dropped anyway."""
        with contextlib.suppress(BackupError):
            self.wait()

    def wait(self) -> None:
        while self._pending:
            self._pending.pop().join()
        if self._errors:
            raise BackupError(f"could not write the restored database to disk: {self._errors[0]}")


def _load_database(
    server: DatabaseServer,
    scratch: ScratchDatabase,
    password: str,
    opened: OpenedArchive,
    durable: _Durable,
) -> dict[str, int]:
    """Create the new database from the archive's dump; returns its row counts as loaded."""
    backend = backend_for(server)
    if isinstance(backend, SQLiteBackend):
        target = backend.path(scratch.database_name)
        partial = target.with_suffix(".partial")
        opened.copy_part(SQLITE_PART, partial)
        os.replace(partial, target)
        durable.start(target)
        db = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
        try:
            return sqlite_state(db)[2]
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"the archive's SQLite database is unreadable: {exc}") from None
        finally:
            db.close()
    assert isinstance(backend, PostgresBackend)
    major = server_major(backend)
    if opened.manifest.get("server_major") and int(opened.manifest["server_major"]) > major:
        raise RestoreRefused(
            f"{opened.path}: dumped from PostgreSQL {opened.manifest['server_major']}, this "
            f"server is {major}"
        )
    pg_restore = pg_client("pg_restore", major)
    backend.create_empty(scratch.database_name, scratch.database_user, password)
    conninfo, env = pg_command_environment(backend, scratch.database_name)
    done = subprocess.run(
        [
            str(pg_restore),
            "--no-owner",
            "--no-acl",
            f"--role={scratch.database_user}",
            "--exit-on-error",
            "--single-transaction",
            "-d",
            conninfo,
            str(opened.database_part),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[:2000]}")
    with backend.connect_admin(scratch.database_name) as conn:
        return _pg_state(conn)[2]


def _compare_counts(opened: OpenedArchive, counts: dict[str, int]) -> None:
    expected = opened.manifest["row_counts"]
    wrong = [
        f"{table}: {counts.get(table)} instead of {count}"
        for table, count in expected.items()
        if counts.get(table) != count
    ]
    if wrong:
        raise BackupError("restored row counts differ from the manifest: " + "; ".join(wrong[:10]))


def _extract_files(opened: OpenedArchive, folder: Path) -> None:
    folder.mkdir(parents=True)
    with opened.part_reader(FILES_PART) as part, tarfile.open(fileobj=part, mode="r|") as tar:
        tar.extractall(folder, filter="data")


@dataclass
class _Built:
    scratch: ScratchDatabase
    password: str
    identity: str
    applied: list[str]
    counts: dict[str, int]


def _build(
    opened: OpenedArchive,
    *,
    server: DatabaseServer,
    orchestra: Orchestra | None,
    purpose: str,
    expect_stamp: uuid.UUID,
    restamp: Orchestra | None = None,
    step: Progress,
) -> _Built:
    """A new database (and files folder) from the archive, checked; recorded as scratch first."""
    subdomain = restamp.subdomain if restamp else opened.manifest["subdomain"]
    name, role = _new_location_names(server, subdomain)
    password = generate_password() if role else ""
    owner_id = (restamp or orchestra).id if (restamp or orchestra) else expect_stamp
    suffix = uuid.uuid4().hex[:8]
    scratch = ScratchDatabase.objects.create(
        orchestra=restamp or orchestra,
        purpose=purpose,
        server=server,
        database_name=name,
        database_user=role,
        files_folder=f"{owner_id.hex}.restore-{suffix}" if purpose != "verify" else "",
        previous_files_folder=f"{owner_id.hex}.retired-{suffix}" if purpose != "verify" else "",
        owner=_owner(),
    )
    durable = _Durable()
    try:
        step("load")
        counts = _load_database(server, scratch, password, opened, durable)
        step("compare")
        _compare_counts(opened, counts)
        alias = f"{connections.alias_for(owner_id)}_{purpose}"
        connections.register(alias, _scratch_settings(server, scratch, password))
        binding = Binding(
            orchestra_id=owner_id, subdomain=subdomain, alias=alias, check_stamp=False
        )
        try:
            with bind(binding):
                wrapper = django_connections[alias]
                wrapper.ensure_connection()
                stamp = connections.read_stamp(wrapper.connection)
                if stamp != expect_stamp.hex:
                    raise BackupError(
                        f"restored database carries stamp {stamp or 'none'}, expected "
                        f"{expect_stamp.hex}; dropped"
                    )
                if restamp is not None:
                    from stagesub.orchestra.models import DatabaseStamp

                    DatabaseStamp.objects.filter(id=1).update(
                        orchestra_id=restamp.id, subdomain=restamp.subdomain
                    )
                    _cancel_copied_mail()
                step("migrate")
                applied = schema.migrate(alias)
                identity = physical_identity(alias)
        finally:
            connections.forget_in_this_thread(alias)
            with contextlib.suppress(KeyError):
                del django_connections.settings[alias]
        if scratch.files_folder:
            step("files")
            _extract_files(opened, files_base() / scratch.files_folder)
        durable.wait()
    except BaseException:
        durable.wait_quietly()
        _drop_scratch(scratch)
        raise
    return _Built(scratch, password, identity, applied, counts)


def _cancel_copied_mail() -> None:
    """A copy must not send the original's queued e-mails (their links name the original)."""
    from stagesub.messaging.models import Message

    Message.objects.filter(status__in=[Message.Status.QUEUED, Message.Status.SENDING]).update(
        status=Message.Status.CANCELLED,
        last_error="not sent: copied from another orchestra's backup",
    )


def _drop_scratch(scratch: ScratchDatabase) -> list[str]:
    """Remove a scratch database, its role and folders; undo a half-done folder swap."""
    removed = []
    if scratch.orchestra_id and scratch.previous_files_folder:
        current = files_base() / scratch.orchestra_id.hex
        previous = files_base() / scratch.previous_files_folder
        restored = files_base() / scratch.files_folder
        if previous.exists():
            # The swap had begun: whatever is in place now is the restored copy.
            if current.exists() and not restored.exists():
                os.rename(current, restored)
            os.rename(previous, current)
            removed.append("files swap undone")
    if scratch.files_folder:
        folder = files_base() / scratch.files_folder
        if folder.exists():
            shutil.rmtree(folder)
            removed.append(f"folder {scratch.files_folder}")
    backend = backend_for(scratch.server)
    if isinstance(backend, PostgresBackend):
        backend.drop(scratch.database_name, scratch.database_user)
        removed.append(f"database and role {scratch.database_name}")
    else:
        backend.drop(scratch.database_name)
        removed.append(f"file {scratch.database_name}")
    ScratchDatabase.objects.filter(pk=scratch.pk).delete()
    return removed


def sweep_scratch(orchestra: Orchestra | None = None) -> list[str]:
    """Remove what restores and drills whose process died left behind (never a live one's)."""
    removed = []
    rows = ScratchDatabase.objects.select_related("server")
    if orchestra is not None:
        rows = rows.filter(orchestra=orchestra)
    for scratch in rows:
        if operations._owner_is_dead(scratch.owner):
            removed += _drop_scratch(scratch)
            audit.record(
                "fleet.scratch_swept",
                orchestra=scratch.orchestra,
                actor_label="stagesub",
                database=scratch.database_name,
                purpose=scratch.purpose,
            )
    return removed


@periodic_job("tenancy.restore_scratch_sweep", interval=lambda: 60.0)
def _sweep_scratch_job() -> str:
    return f"{len(sweep_scratch())} leftovers of dead restores removed"


# --- switching -----------------------------------------------------------------------------


def _switch(orchestra: Orchestra, built: _Built, *, keep_days: float) -> RetiredDatabase | None:
    """Swap the files folder, then route to the new database in one control transaction."""
    scratch = built.scratch
    current = files_base() / orchestra.id.hex
    restored = files_base() / scratch.files_folder
    previous = files_base() / scratch.previous_files_folder
    had_files = current.exists()
    if had_files:
        os.rename(current, previous)
    os.rename(restored, current)
    try:
        with transaction.atomic():
            retired = operations.switch_database(
                orchestra,
                Location(
                    server=scratch.server,
                    database_name=scratch.database_name,
                    database_user=scratch.database_user,
                    database_password_encrypted=(
                        encrypt_secret(built.password) if built.password else ""
                    ),
                    physical_identity=built.identity,
                ),
                reason="restore",
                keep_days=keep_days,
            )
            if retired is not None and had_files:
                RetiredDatabase.objects.filter(pk=retired.pk).update(
                    files_folder=scratch.previous_files_folder
                )
            MigrationState.objects.update_or_create(
                orchestra=orchestra,
                defaults={
                    "applied_fingerprint": schema.current_fingerprint(),
                    "status": MigrationState.Status.OK,
                    "last_error": "",
                    "applied_at": timezone.now(),
                    "last_attempt_at": timezone.now(),
                },
            )
            ScratchDatabase.objects.filter(pk=scratch.pk).delete()
    except BaseException:
        _drop_scratch(scratch)
        raise
    return retired


# --- the operations --------------------------------------------------------------------------


def _refuse_foreign(opened: OpenedArchive, orchestra: Orchestra) -> None:
    if opened.orchestra_id == orchestra.id:
        return
    other = Orchestra.objects.filter(pk=opened.orchestra_id).first()
    label = f"{other.subdomain} ({other.name})" if other else opened.manifest["subdomain"]
    raise RestoreRefused(
        f"{opened.path}: this archive is of orchestra {label}, id {opened.orchestra_id.hex}, "
        f"not of {orchestra.subdomain}; refusing to restore another orchestra's data here "
        f"(use --as-new to make a new orchestra from it)"
    )


def _refuse_other_engine(opened: OpenedArchive, server: DatabaseServer) -> None:
    if opened.manifest["engine"] != server.kind:
        raise RestoreRefused(
            f"{opened.path}: the archive holds a {opened.manifest['engine']} database; the "
            f"orchestra's server {server.name} is {server.kind}"
        )


def restore_orchestra(
    orchestra: Orchestra,
    archive: Path,
    *,
    keep_days: float = 7,
    progress: Progress | None = None,
    claim: bool = True,
) -> RestoreResult:
    """Restore the orchestra's own archive into a new database and switch to it.

    `claim=False` is for a caller that already holds the orchestra's exclusive operation (the
    remedy); a maintenance page already up (put there by such a caller) stays up afterwards.
    """
    step = Steps(progress)

    step("verify")
    with open_archive(archive) as opened:
        _refuse_foreign(opened, orchestra)
        claimed = (
            operations.exclusive_operation(orchestra, "restore")
            if claim
            else contextlib.nullcontext(
                Orchestra.objects.select_related("server").get(pk=orchestra.pk)
            )
        )
        with claimed as current:
            sweep_scratch(current)
            if not current.has_database:
                raise RestoreRefused(f"{current.subdomain} has no database to restore over")
            _refuse_other_engine(opened, current.server)
            built = _build(
                opened,
                server=current.server,
                orchestra=current,
                purpose="restore",
                expect_stamp=current.id,
                step=step,
            )
            step("switch")
            page = (
                contextlib.nullcontext()
                if current.maintenance_reason
                else operations.maintenance(current, "restore")
            )
            try:
                with page:
                    retired = _switch(current, built, keep_days=keep_days)
            except BaseException:
                if ScratchDatabase.objects.filter(pk=built.scratch.pk).exists():
                    _drop_scratch(built.scratch)
                raise
    audit.record(
        "fleet.restored",
        orchestra=orchestra,
        actor_label="stagesub",
        archive=str(archive),
        database=built.scratch.database_name,
        migrated=built.applied,
    )
    step("done")
    return RestoreResult(
        Orchestra.objects.get(pk=orchestra.pk),
        built.scratch.database_name,
        built.applied,
        built.counts,
        retired,
        list(step),
    )


def rollback(orchestra: Orchestra, *, keep_days: float = 7) -> RetiredDatabase:
    """Switch back to the database (and files) the last restore replaced."""
    with (
        operations.exclusive_operation(orchestra, "restore") as current,
        operations.maintenance(current, "restore rollback"),
    ):
        previous = (
            RetiredDatabase.objects.filter(orchestra=current, dropped_at__isnull=True)
            .order_by("-retired_at", "-pk")
            .first()
        )
        if previous is None:
            raise OperationRefused(
                f"{current.subdomain}: no earlier database is kept to switch back to"
            )
        folder = files_base() / current.id.hex
        swapped = f"{current.id.hex}.retired-{uuid.uuid4().hex[:8]}"
        swap = bool(previous.files_folder) and (files_base() / previous.files_folder).exists()
        if swap:
            if folder.exists():
                os.rename(folder, files_base() / swapped)
            os.rename(files_base() / previous.files_folder, folder)
        try:
            with transaction.atomic():
                operations.rollback_switch(current, keep_days=keep_days)
                if swap:
                    newest = RetiredDatabase.objects.filter(orchestra=current).latest(
                        "retired_at", "pk"
                    )
                    RetiredDatabase.objects.filter(pk=newest.pk).update(files_folder=swapped)
        except BaseException:
            if swap:
                os.rename(folder, files_base() / previous.files_folder)
                if (files_base() / swapped).exists():
                    os.rename(files_base() / swapped, folder)
            raise
    return previous


def verify_archive(archive: Path, *, progress: Progress | None = None) -> list[str]:
    """The restore drill: build the archive into a scratch database, check it, drop it."""
    lines: list[str] = []
    step = Steps(progress)

    with open_archive(archive) as opened:
        manifest = opened.manifest
        lines.append(
            f"archive of {manifest['subdomain']} ({manifest['orchestra_id']}), made "
            f"{manifest.get('created_at', '?')} by StageSub {manifest.get('stagesub_version')}"
        )
        lines.append("checksums: ok")
        orchestra = (
            Orchestra.objects.select_related("server").filter(pk=opened.orchestra_id).first()
        )
        server = orchestra.server if orchestra and orchestra.has_database else default_server()
        _refuse_other_engine(opened, server)
        sweep_scratch()
        with (
            opened.part_reader(FILES_PART) as part,
            tarfile.open(fileobj=part, mode="r|") as tar,
        ):
            files = sum(1 for m in tar if m.isfile())
        if files != manifest.get("file_count", files):
            raise BackupError(
                f"files: {files} in the archive, manifest says {manifest['file_count']}"
            )
        built = _build(
            opened,
            server=server,
            orchestra=orchestra,
            purpose="verify",
            expect_stamp=opened.orchestra_id,
            step=step,
        )
        _drop_scratch(built.scratch)
    total = sum(built.counts.values())
    lines.append(f"restored into a scratch database on {server.name}: stamp ok, {total} rows")
    lines.append(f"row counts: equal to the manifest ({len(built.counts)} tables)")
    lines.append(f"files: {files}")
    if built.applied:
        lines.append(f"would migrate forward: {', '.join(built.applied)}")
    lines.append("scratch database dropped")
    return lines


def restore_as_new(
    archive: Path,
    new_subdomain: str,
    *,
    name: str | None = None,
    admin_email: str | None = None,
    progress: Progress | None = None,
) -> RestoreResult:
    """A new orchestra (new id, new stamp) from an archive: provisioned, then restored into."""
    from stagesub.tenancy.provisioning import (
        ProvisionRequest,
        create_orchestra,
        remove_orchestra,
    )

    step = Steps(progress)

    step("verify")
    with open_archive(archive) as opened:
        manifest = opened.manifest
        source = Orchestra.objects.filter(pk=opened.orchestra_id).first()
        email = admin_email or (source.contact_email if source else "")
        if not email:
            raise RestoreRefused("--admin-email is needed: the archive's orchestra is unknown here")
        step("provision")
        created = create_orchestra(
            ProvisionRequest(
                subdomain=new_subdomain,
                name=name or f"{manifest.get('name') or manifest['subdomain']} (copy)",
                admin_email=email,
            )
        ).orchestra
        try:
            with operations.exclusive_operation(created, "restore") as current:
                _refuse_other_engine(opened, current.server)
                built = _build(
                    opened,
                    server=current.server,
                    orchestra=current,
                    purpose="as_new",
                    expect_stamp=opened.orchestra_id,
                    restamp=current,
                    step=step,
                )
                step("switch")
                with operations.maintenance(current, "restore", settle=False):
                    retired = _switch(current, built, keep_days=0)
                if retired is not None:
                    # The empty database provisioning made was never used: drop it now.
                    operations.drop_retired(
                        RetiredDatabase.objects.select_related("server", "orchestra").get(
                            pk=retired.pk
                        )
                    )
        except BaseException:
            remove_orchestra(Orchestra.objects.select_related("server").get(pk=created.pk))
            shutil.rmtree(files_base() / created.id.hex, ignore_errors=True)
            raise
    audit.record(
        "fleet.restored_as_new",
        orchestra=created,
        actor_label="stagesub",
        archive=str(archive),
        source=manifest["subdomain"],
        source_id=manifest["orchestra_id"],
    )
    step("done")
    return RestoreResult(
        Orchestra.objects.get(pk=created.pk),
        built.scratch.database_name,
        built.applied,
        built.counts,
        retired,
        list(step),
    )

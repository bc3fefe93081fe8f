"""Backups: one self-describing archive per orchestra, written atomically, optionally encrypted.

An archive is a tar with three members:

* ``database.dump`` (PostgreSQL, ``pg_dump -Fc`` by the client of the server's major version)
  or ``database.sqlite3`` (SQLite, the online backup API);
* ``files.tar``: the orchestra's storage folder (orchestra.storage);
* ``manifest.json`` (last, since it holds the others' sha256): orchestra id and subdomain, the
  stamp found in the dumped database, the schema state (recorded fingerprint and the applied
  migrations), row counts per table of exactly the dumped snapshot, size and sha256 of every
  part, StageSub version, time and format version.

PostgreSQL counts come from the snapshot pg_dump dumps (``pg_export_snapshot`` +
``--snapshot``), SQLite counts from the copy itself, so a restore can compare them exactly.
The dump streams straight into the archive (its tar header is written afterwards), so the
archive costs no second copy of the dump. The archive is written under a temporary name in the
target folder, fsynced, then renamed: a reader never sees a partial archive. With a key
(STAGESUB_BACKUP_KEY) the whole tar is sealed with AES-256-GCM in 1 MiB chunks, each chunk
authenticated with its index and a last-chunk flag, so truncating or reordering is detected.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone

from stagesub.tenancy import audit, operations
from stagesub.tenancy.backends import PostgresBackend, backend_for
from stagesub.tenancy.models import BackupRecord, MigrationState, Orchestra
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.backup")

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES_PART = "files.tar"
PG_PART = "database.dump"
SQLITE_PART = "database.sqlite3"
SEALED_MAGIC = b"STAGESUB-AESGCM1"
CHUNK = 1024 * 1024
# SQLite databases up to this size are copied through memory (peak: twice this).
SQLITE_IN_MEMORY_LIMIT = 128 * 1024 * 1024
_PARTIAL = re.compile(r"^\..+\.partial-(.+)-(\d+)$")


class BackupError(RuntimeError):
    """A backup could not be made (or an archive could not be read); the message says why."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    duration: float
    manifest: dict


def stagesub_version() -> str:
    try:
        return metadata.version("stagesub")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed in practice
        return "0"


def storage_folder(orchestra_id) -> Path:
    """DATA_DIR/files/<id>: the orchestra's storage root (see orchestra.storage)."""
    return files_base() / orchestra_id.hex


def files_base() -> Path:
    return Path(settings.DATA_DIR) / "files"


def backup_dir() -> Path:
    folder = Path(settings.BACKUP_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


# --- the key -------------------------------------------------------------------------------


def backup_key(required: bool) -> bytes | None:
    """The 32-byte key from STAGESUB_BACKUP_KEY; refuses a malformed or weak one."""
    raw = settings.BACKUP_KEY
    if not raw:
        if required:
            raise BackupError(
                "encryption asked for, but STAGESUB_BACKUP_KEY is not set; make one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(32))"`'
            )
        return None
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32 or len(set(key)) < 8:
        raise BackupError(
            "STAGESUB_BACKUP_KEY is weak or malformed: it must be urlsafe base64 of 32 random "
            'bytes (`python -c "import secrets; print(secrets.token_urlsafe(32))"`)'
        )
    return key


def _aad(prefix: bytes, index: int, last: bool) -> bytes:
    return SEALED_MAGIC + prefix + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def seal(source: BinaryIO, target: BinaryIO, key: bytes) -> None:
    """AES-256-GCM, chunk by chunk: magic, 4-byte nonce prefix, then (length, ciphertext)*."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(key)
    prefix = os.urandom(4)
    target.write(SEALED_MAGIC + prefix)
    index = 0
    chunk = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if chunk else b""
        last = not following
        nonce = prefix + index.to_bytes(8, "big")
        sealed = aead.encrypt(nonce, chunk, _aad(prefix, index, last))
        target.write(len(sealed).to_bytes(4, "big") + sealed)
        if last:
            return
        chunk, index = following, index + 1


def unseal(source: BinaryIO, target: BinaryIO, key: bytes) -> None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(key)
    if source.read(len(SEALED_MAGIC)) != SEALED_MAGIC:
        raise BackupError("not an encrypted StageSub archive")
    prefix = source.read(4)
    index = 0
    while True:
        head = source.read(4)
        if len(head) < 4:
            raise BackupError("encrypted archive is truncated (its last chunk is missing)")
        length = int.from_bytes(head, "big")
        sealed = source.read(length)
        if len(sealed) < length:
            raise BackupError(f"encrypted archive is truncated (in chunk {index})")
        nonce = prefix + index.to_bytes(8, "big")
        for last in (False, True):
            try:
                plain = aead.decrypt(nonce, sealed, _aad(prefix, index, last))
                break
            except InvalidTag:
                continue
        else:
            if index == 0:
                raise BackupError(
                    "encrypted archive cannot be opened with this STAGESUB_BACKUP_KEY "
                    "(wrong key, or the archive was tampered with)"
                )
            raise BackupError(f"encrypted archive is tampered with or truncated (chunk {index})")
        target.write(plain)
        if last:
            if source.read(1):
                raise BackupError("encrypted archive has data after its last chunk (tampered)")
            return
        index += 1


# --- writing the tar ---------------------------------------------------------------------


class _Part:
    """A sink for one member's bytes: written to the archive and hashed as they come."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.fh.write(data)
        self.sha.update(data)
        self.size += len(data)
        return len(data)

    def write_image(self, image: memoryview) -> None:
        """Write a whole in-memory image, hashing it on a second core meanwhile (both calls
        release the GIL), so the checksum costs next to nothing."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            hashed = pool.submit(self.sha.update, image)
            for start in range(0, len(image), CHUNK):
                self.fh.write(image[start : start + CHUNK])
            hashed.result()
        self.size += len(image)

    def flush(self) -> None:
        pass


class ArchiveWriter:
    """A tar written member by member; a member's header is written once its size is known."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.parts: dict[str, dict] = {}

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[_Part]:
        header_at = self.fh.tell()
        self.fh.write(b"\0" * tarfile.BLOCKSIZE)
        sink = _Part(self.fh)
        yield sink
        end = self.fh.tell()
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = sink.size, 0o600, int(time.time())
        header = info.tobuf(format=tarfile.GNU_FORMAT)
        if len(header) != tarfile.BLOCKSIZE:
            raise BackupError(f"archive member name too long: {name}")
        self.fh.seek(header_at)
        self.fh.write(header)
        self.fh.seek(end)
        self.fh.write(b"\0" * (-sink.size % tarfile.BLOCKSIZE))
        self.parts[name] = {"size": sink.size, "sha256": sink.sha.hexdigest()}

    def add_bytes(self, name: str, data: bytes) -> None:
        with self.part(name) as sink:
            sink.write(data)

    def finish(self) -> None:
        self.fh.write(b"\0" * (2 * tarfile.BLOCKSIZE))


# --- PostgreSQL --------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def pg_client(binary: str, server_major: int) -> Path:
    """The client binary of the server's major version: pgserver's own, then PATH, then Debian's."""
    candidates: list[Path] = []
    with contextlib.suppress(ImportError):
        import pgserver

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin" / binary)
    on_path = shutil.which(binary)
    if on_path:
        candidates.append(Path(on_path))
    candidates.append(Path(f"/usr/lib/postgresql/{server_major}/bin/{binary}"))
    seen = []
    for candidate in candidates:
        if not os.access(candidate, os.X_OK):
            continue
        try:
            out = subprocess.run(
                [str(candidate), "--version"], capture_output=True, text=True, timeout=20
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        found = re.search(r"\s(\d+)(?:\.\d+)*", out)
        major = int(found.group(1)) if found else -1
        seen.append(f"{candidate} ({major})")
        if major == server_major:
            return candidate
    raise BackupError(
        f"no {binary} for PostgreSQL {server_major} found (tried: {', '.join(seen) or 'none'}); "
        f"install the PostgreSQL {server_major} client (e.g. postgresql-client-{server_major}) "
        "or put its bin folder on PATH"
    )


def pg_command_environment(backend: PostgresBackend, database_name: str) -> tuple[str, dict]:
    """A libpq conninfo for the admin role (no password in it) and the environment to run with."""
    from psycopg.conninfo import make_conninfo

    s = backend.admin_settings
    options = {k: v for k, v in s.get("OPTIONS", {}).items() if isinstance(v, str | int)}
    conninfo = make_conninfo(
        dbname=database_name,
        user=s["USER"] or None,
        host=s["HOST"] or None,
        port=s["PORT"] or None,
        **options,
    )
    env = {**os.environ}
    if s["PASSWORD"]:
        env["PGPASSWORD"] = s["PASSWORD"]
    return conninfo, env


def server_major(backend: PostgresBackend) -> int:
    with backend.connect_admin() as conn:
        return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000


def _pg_state(conn) -> tuple[str | None, list[str], dict[str, int]]:
    """Stamp, applied migrations and row counts, as the connection's snapshot sees them."""
    from psycopg import sql

    row = conn.execute("SELECT orchestra_id FROM orchestra_databasestamp WHERE id = 1").fetchone()
    stamp = str(row[0]).replace("-", "") if row else None
    migrations = [
        f"{a}.{n}" for a, n in conn.execute("SELECT app, name FROM django_migrations ORDER BY 1, 2")
    ]
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
    ]
    counts = {
        t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
        for t in tables
    }
    return stamp, migrations, counts


def _dump_postgresql(orchestra: Orchestra, archive: ArchiveWriter) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    backend = backend_for(orchestra.server)
    assert isinstance(backend, PostgresBackend)
    conninfo, env = pg_command_environment(backend, orchestra.database_name)
    with backend.connect_admin(orchestra.database_name) as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
        pg_dump = pg_client("pg_dump", major)
        conn.autocommit = False
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        row = conn.execute(
            "SELECT orchestra_id FROM orchestra_databasestamp WHERE id = 1"
        ).fetchone()
        _check_stamp(orchestra, str(row[0]).replace("-", "") if row else None)
        with (
            archive.part(PG_PART) as sink,
            ThreadPoolExecutor(max_workers=1) as pool,
            tempfile.TemporaryFile() as errors,
        ):
            process = subprocess.Popen(
                [str(pg_dump), "-Fc", f"--snapshot={snapshot}", "-d", conninfo],
                stdout=subprocess.PIPE,
                stderr=errors,
                env=env,
            )
            # Counted in the dump's own snapshot, while pg_dump runs.
            state = pool.submit(_pg_state, conn)
            assert process.stdout is not None
            while chunk := process.stdout.read(CHUNK):
                sink.write(chunk)
            if process.wait() != 0:
                errors.seek(0)
                raise BackupError(f"pg_dump failed: {errors.read().decode(errors='replace')}")
            stamp, migrations, counts = state.result()
        conn.rollback()
    return {
        "engine": "postgresql",
        "server_major": major,
        "database_part": PG_PART,
        "stamp": stamp,
        "migrations": migrations,
        "row_counts": counts,
    }


# --- SQLite ------------------------------------------------------------------------------


def sqlite_state(db: sqlite3.Connection) -> tuple[str | None, list[str], dict[str, int]]:
    try:
        row = db.execute("SELECT orchestra_id FROM orchestra_databasestamp WHERE id = 1").fetchone()
    except sqlite3.DatabaseError:
        row = None
    stamp = str(row[0]).replace("-", "") if row else None
    migrations = [
        f"{a}.{n}" for a, n in db.execute("SELECT app, name FROM django_migrations ORDER BY 1, 2")
    ]
    tables = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY 1"
        )
    ]
    counts = {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    return stamp, migrations, counts


def _dump_sqlite(orchestra: Orchestra, archive: ArchiveWriter, work: Path) -> dict:
    backend = backend_for(orchestra.server)
    source_path = backend.path(orchestra.database_name)
    if not source_path.exists():
        raise BackupError(f"database file {source_path} does not exist")
    # A database that fits is read into memory (sqlite3_serialize, in one read transaction)
    # and written to the archive once; a larger one goes through a temporary file made with
    # the backup API (written twice, but memory stays bounded).
    size = source_path.stat().st_size + _size_or_zero(Path(f"{source_path}-wal"))
    in_memory = size <= SQLITE_IN_MEMORY_LIMIT
    copy_path = work / SQLITE_PART
    source = sqlite3.connect(
        f"file:{source_path}?mode=ro", uri=True, timeout=30, isolation_level=None
    )
    try:
        if in_memory:
            # One read transaction: the counts and the image are the same snapshot.
            source.execute("BEGIN")
            stamp, migrations, counts = sqlite_state(source)
            _check_stamp(orchestra, stamp)
            image = memoryview(source.serialize())
            source.execute("COMMIT")
            with archive.part(SQLITE_PART) as sink:
                sink.write_image(image)
        else:
            target = sqlite3.connect(copy_path)
            try:
                source.backup(target, pages=-1)
                stamp, migrations, counts = sqlite_state(target)
            finally:
                target.close()
            _check_stamp(orchestra, stamp)
            with archive.part(SQLITE_PART) as sink, open(copy_path, "rb") as copy:
                while chunk := copy.read(CHUNK):
                    sink.write(chunk)
    finally:
        source.close()
    copy_path.unlink(missing_ok=True)
    return {
        "engine": "sqlite",
        "server_major": None,
        "database_part": SQLITE_PART,
        "stamp": stamp,
        "migrations": migrations,
        "row_counts": counts,
    }


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _check_stamp(orchestra: Orchestra, stamp: str | None) -> None:
    if stamp != orchestra.id.hex:
        raise BackupError(
            f"{orchestra.subdomain}: its database carries stamp {stamp or 'none'}, not "
            f"{orchestra.id.hex}; refusing to back up another orchestra's data under its name"
        )


# --- files -------------------------------------------------------------------------------


def _add_files(orchestra: Orchestra, archive: ArchiveWriter) -> int:
    folder = storage_folder(orchestra.id)
    count = 0
    with archive.part(FILES_PART) as sink, tarfile.open(fileobj=sink, mode="w|") as tar:
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
                    count += 1
    return count


# --- the whole backup --------------------------------------------------------------------


def archive_name(orchestra: Orchestra, now: datetime.datetime, sealed: bool) -> str:
    return f"{orchestra.subdomain}-{now:%Y%m%dT%H%M%SZ}-{os.urandom(3).hex()}.tar" + (
        ".aes" if sealed else ""
    )


def _me() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def sweep_partials(folder: Path) -> list[Path]:
    """Remove temporary archives left by a backup process that died (never a live one's)."""
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        found = _PARTIAL.match(path.name)
        if not found or found.group(1) != socket.gethostname():
            continue  # not a temporary archive, or another machine's (it may be alive)
        try:
            os.kill(int(found.group(2)), 0)
        except ProcessLookupError:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
        except PermissionError:
            continue
    return removed


def backup_orchestra(
    orchestra: Orchestra,
    to_dir: Path | None = None,
    *,
    encrypt: bool | None = None,
    kind: str = BackupRecord.Kind.MANUAL,
    claim: bool = True,
    now: datetime.datetime | None = None,
) -> BackupResult:
    """Write one archive of the orchestra into `to_dir` (default STAGESUB_BACKUP_DIR).

    `encrypt`: True requires STAGESUB_BACKUP_KEY, False writes a plain archive, None encrypts
    when a key is set. `claim=False` is for a caller that already holds an exclusive operation
    on the orchestra (decommission). Records the outcome as a BackupRecord either way (`now`:
    its start time, for the nightly job's clock).
    """
    started = now or timezone.now()
    clock = time.monotonic()
    record = BackupRecord(
        orchestra=orchestra, orchestra_label=orchestra.subdomain, kind=kind, started_at=started
    )
    try:
        key = backup_key(required=bool(encrypt)) if encrypt is not False else None
        folder = Path(to_dir) if to_dir is not None else backup_dir()
        folder.mkdir(parents=True, exist_ok=True)
        sweep_partials(folder)
        claimed = (
            operations.exclusive_operation(orchestra, "backup")
            if claim
            else contextlib.nullcontext(orchestra)
        )
        with claimed:
            current = Orchestra.objects.select_related("server").get(pk=orchestra.pk)
            if not current.has_database:
                raise BackupError(f"{current.subdomain} has no database to back up")
            path, manifest = _write_archive(current, folder, key, started)
    except Exception as exc:
        record.outcome = BackupRecord.Outcome.FAILED
        record.error = f"{type(exc).__name__}: {exc}"[:4000]
        _finish(record, clock)
        raise
    record.outcome = BackupRecord.Outcome.OK
    record.path = str(path)
    record.size_bytes = path.stat().st_size
    _finish(record, clock)
    audit.record(
        "fleet.backup",
        orchestra=orchestra,
        actor_label="stagesub",
        path=str(path),
        size=record.size_bytes,
        kind=kind,
    )
    return BackupResult(path, record.size_bytes, record.duration_seconds or 0.0, manifest)


def _finish(record: BackupRecord, clock: float) -> None:
    record.finished_at = timezone.now()
    record.duration_seconds = round(time.monotonic() - clock, 3)
    record.save()


def _write_archive(
    orchestra: Orchestra, folder: Path, key: bytes | None, started: datetime.datetime
) -> tuple[Path, dict]:
    final = folder / archive_name(orchestra, started, key is not None)
    partial = folder / f".{final.name}.partial-{_me()}"
    plain = folder / f".{final.name}.plain.partial-{_me()}" if key else partial
    # Named like the partial archives, so a killed backup's scratch space is swept with them.
    work = folder / f".{final.name}.work.partial-{_me()}"
    state = MigrationState.objects.filter(orchestra=orchestra).first()
    try:
        work.mkdir(mode=0o700)
        with open(plain, "wb") as fh:
            archive = ArchiveWriter(fh)
            if orchestra.server.kind == "postgresql":
                database = _dump_postgresql(orchestra, archive)
            else:
                database = _dump_sqlite(orchestra, archive, work)
            file_count = _add_files(orchestra, archive)
            manifest = {
                "format_version": FORMAT_VERSION,
                "stagesub_version": stagesub_version(),
                "created_at": started.isoformat(),
                "orchestra_id": orchestra.id.hex,
                "subdomain": orchestra.subdomain,
                "name": orchestra.name,
                "schema_fingerprint": state.applied_fingerprint if state else "",
                "file_count": file_count,
                **database,
                "parts": dict(archive.parts),
            }
            archive.add_bytes(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
            archive.finish()
            fh.flush()
            os.fsync(fh.fileno())
        if key is not None:
            with open(plain, "rb") as source, open(partial, "wb") as target:
                seal(source, target, key)
                target.flush()
                os.fsync(target.fileno())
            plain.unlink()
        os.chmod(partial, 0o600)
        os.replace(partial, final)
        _fsync_dir(folder)
    except BaseException:
        for leftover in {plain, partial}:
            leftover.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final, manifest


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def latest_backup(orchestra: Orchestra) -> BackupRecord | None:
    """The newest successful backup whose archive is still on disk (for a remedy, a restore)."""
    records = BackupRecord.objects.filter(
        orchestra=orchestra, outcome=BackupRecord.Outcome.OK, deleted_at__isnull=True
    ).order_by("-started_at", "-pk")
    return next((r for r in records if r.path and Path(r.path).is_file()), None)


# --- nightly backups, retention, alerts --------------------------------------------------


def parse_window(text: str) -> tuple[datetime.time, int] | None:
    """ "01:00-05:00" → (01:00, 4 h in seconds); may cross midnight; empty → None (off)."""
    if not text:
        return None
    found = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", text)
    if not found:
        raise BackupError(f"STAGESUB_BACKUP_WINDOW {text!r} is not like 01:00-05:00")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise BackupError(f"STAGESUB_BACKUP_WINDOW {text!r} is not like 01:00-05:00")
    length = ((h2 * 60 + m2) - (h1 * 60 + m1)) % (24 * 60) * 60
    return datetime.time(h1, m1), length or 24 * 3600


def slot_offset(orchestra_id, length: int) -> int:
    """Seconds after the window opens at which this orchestra is backed up: stable per id."""
    return int(hashlib.sha256(orchestra_id.bytes).hexdigest()[:12], 16) % max(1, length)


def night_start(now: datetime.datetime, start: datetime.time) -> datetime.datetime:
    """When the most recent window opened (local time), as an aware datetime."""
    local = timezone.localtime(now)
    opened = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    if opened > local:
        opened = timezone.localtime(opened - datetime.timedelta(days=1)).replace(
            hour=start.hour, minute=start.minute
        )
    return opened


def nightly_backups(now: datetime.datetime | None = None) -> list[str]:
    """Back up each active orchestra once per night at its slot; retention; alerts."""
    now = now or timezone.now()
    window = parse_window(settings.BACKUP_WINDOW)
    if window is None:
        return []
    start, length = window
    opened = night_start(now, start)
    done = []
    # One busy with another operation (a move, a restore) is tried again on a later pass.
    active = Orchestra.objects.select_related("server").filter(
        status=Orchestra.Status.ACTIVE, maintenance_reason="", operation=""
    )
    for orchestra in active.order_by("subdomain"):
        slot = opened + datetime.timedelta(seconds=slot_offset(orchestra.id, length))
        if not slot <= now < opened + datetime.timedelta(seconds=length):
            continue  # not its turn yet, or the window has closed (missed: the alert says so)
        if BackupRecord.objects.filter(
            orchestra=orchestra, kind=BackupRecord.Kind.NIGHTLY, started_at__gte=opened
        ).exists():
            continue
        try:
            backup_orchestra(orchestra, kind=BackupRecord.Kind.NIGHTLY, now=now)
        except Exception as exc:
            logger.error("nightly backup of %s failed: %s", orchestra.subdomain, exc)
            done.append(f"{orchestra.subdomain}: FAILED")
            continue
        removed = apply_retention(orchestra)
        done.append(f"{orchestra.subdomain}: ok" + (f", {removed} old removed" if removed else ""))
    alert_superadmins(now)
    return done


def apply_retention(orchestra: Orchestra) -> int:
    """Keep the newest nightly archive of each of the last KEEP_DAILY days and KEEP_WEEKLY weeks."""
    kept = BackupRecord.objects.filter(
        orchestra=orchestra,
        kind=BackupRecord.Kind.NIGHTLY,
        outcome=BackupRecord.Outcome.OK,
        deleted_at__isnull=True,
    ).order_by("-started_at", "-pk")
    days: list = []
    weeks: list = []
    keep = set()
    for record in kept:
        local = timezone.localtime(record.started_at)
        day, week = local.date(), local.isocalendar()[:2]
        if day not in days and len(days) < settings.BACKUP_KEEP_DAILY:
            days.append(day)
            keep.add(record.pk)
        if week not in weeks and len(weeks) < settings.BACKUP_KEEP_WEEKLY:
            weeks.append(week)
            keep.add(record.pk)
    removed = 0
    for record in kept:
        if record.pk in keep:
            continue
        Path(record.path).unlink(missing_ok=True)
        BackupRecord.objects.filter(pk=record.pk).update(deleted_at=timezone.now())
        removed += 1
    return removed


def missing_since(now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(hours=settings.BACKUP_MISSING_AFTER_HOURS)


def backup_status(orchestra: Orchestra, now: datetime.datetime | None = None) -> tuple[str, str]:
    """One line for check_database, and the problem it shows ("" when none)."""
    now = now or timezone.now()
    records = BackupRecord.objects.filter(orchestra=orchestra).exclude(
        outcome__in=[BackupRecord.Outcome.MISSING, BackupRecord.Outcome.RUNNING]
    )
    last_ok = records.filter(outcome=BackupRecord.Outcome.OK).order_by("-started_at").first()
    last = records.order_by("-started_at", "-pk").first()
    if last is not None and last.outcome == BackupRecord.Outcome.FAILED:
        return (
            f"FAILED at {last.started_at:%Y-%m-%d %H:%M} UTC: {last.error[:200]}",
            "last backup failed",
        )
    if last_ok is not None and last_ok.started_at >= missing_since(now):
        size = (last_ok.size_bytes or 0) / 1e6
        return f"{last_ok.started_at:%Y-%m-%d %H:%M} UTC, {size:.1f} MB ({last_ok.path})", ""
    if last_ok is None and orchestra.created_at >= missing_since(now):
        return "none yet", ""
    hours = f"{settings.BACKUP_MISSING_AFTER_HOURS:g}"
    return f"MISSING (none successful in {hours} h)", "backup missing"


def alert_superadmins(now: datetime.datetime) -> int:
    """Mail the superadmins once about new failures and newly missing backups."""
    from django.core.mail import send_mail

    from stagesub.tenancy.isolation import superadmin_emails

    failed = list(
        BackupRecord.objects.filter(outcome=BackupRecord.Outcome.FAILED, alerted_at__isnull=True)
        .exclude(kind=BackupRecord.Kind.MANUAL)
        .order_by("started_at")
    )
    missing = []
    cutoff = missing_since(now)
    for orchestra in Orchestra.objects.filter(
        status=Orchestra.Status.ACTIVE, created_at__lt=cutoff
    ):
        last_ok = (
            BackupRecord.objects.filter(orchestra=orchestra, outcome=BackupRecord.Outcome.OK)
            .order_by("-started_at")
            .first()
        )
        if last_ok is not None and last_ok.started_at >= cutoff:
            continue
        told = BackupRecord.objects.filter(
            orchestra=orchestra, outcome=BackupRecord.Outcome.MISSING
        )
        if last_ok is not None:
            told = told.filter(started_at__gt=last_ok.started_at)
        if not told.exists():
            missing.append(orchestra)
    if not failed and not missing:
        return 0
    lines = [
        f"- {r.orchestra_label}: {r.kind} backup FAILED at {r.started_at:%Y-%m-%d %H:%M} UTC: "
        f"{r.error[:300]}"
        for r in failed
    ] + [
        f"- {o.subdomain}: no successful backup in {settings.BACKUP_MISSING_AFTER_HOURS:g} h"
        for o in missing
    ]
    recipients = superadmin_emails()
    if recipients:
        send_mail(
            f"StageSub: {len(lines)} backup problem(s)",
            "StageSub's backups need attention:\n\n"
            + "\n".join(lines)
            + "\n\nSee `stagesub check_database SUBDOMAIN`; back up by hand with "
            "`stagesub backup SUBDOMAIN`.\n",
            settings.DEFAULT_FROM_EMAIL,
            recipients,
            fail_silently=False,
        )
    BackupRecord.objects.filter(pk__in=[r.pk for r in failed]).update(alerted_at=now)
    for orchestra in missing:
        BackupRecord.objects.create(
            orchestra=orchestra,
            orchestra_label=orchestra.subdomain,
            kind=BackupRecord.Kind.NIGHTLY,
            outcome=BackupRecord.Outcome.MISSING,
            started_at=now,
            finished_at=now,
            alerted_at=now,
        )
    return len(lines)


@periodic_job("tenancy.nightly_backups", interval=lambda: 60.0)
def _nightly_backups_job() -> str:
    done = nightly_backups()
    return "; ".join(done) if done else "nothing due"

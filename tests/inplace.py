"""An operator's slip, reproduced for tests: one orchestra's backup restored *in place* into
another orchestra's database, with the client tools a person would use (SQLite's backup API,
`pg_dump | pg_restore --clean`)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path


def sqlite_restore_in_place(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def pg_restore_in_place(admin_url: str, source_db: str, target_db: str, target_role: str) -> None:
    """Dump `source_db` and restore it over `target_db`, owned by the target's own role."""
    import pgserver

    from stagesub.urlconfig import database_settings

    admin = database_settings(admin_url)
    bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    common = ["-h", admin["HOST"], "-U", admin["USER"] or "postgres"]
    if admin["PORT"]:
        common += ["-p", admin["PORT"]]
    dump = subprocess.run(
        [bin_dir / "pg_dump", *common, "-Fc", "-d", source_db], check=True, capture_output=True
    ).stdout
    subprocess.run(
        [
            bin_dir / "pg_restore",
            *common,
            "--clean",
            "--if-exists",
            "--no-owner",
            f"--role={target_role}",
            "-d",
            target_db,
        ],
        input=dump,
        check=True,
        capture_output=True,
    )

"""Everything StageSub writes under its data directory is its user's only: files 0600, folders
0700. Checked on real `stagesub` processes started with the usual 022 umask, on the embedded
(SQLite) setup, whichever backend the rest of the suite runs on."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

STAGESUB = str(Path(sys.executable).with_name("stagesub"))

# Run inside `stagesub shell` while the databases are open (so SQLite's -wal and -shm files
# exist): upload a project file, write, and list every path under the data directory.
LIST_MODES = """
import json, stat
from django.conf import settings
from stagesub.projects import files
from stagesub.projects.models import Project
from stagesub.roster.models import Musician
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.models import Orchestra
with use_orchestra("goteborg"):
    files.upload(Project.objects.first(), name="noter.pdf", content=b"%PDF-1.4 x")
    Musician.objects.filter(pk=Musician.objects.first().pk).update(notes="x")
    Orchestra.objects.filter(subdomain="goteborg").update(contact_name="x")
    root = settings.DATA_DIR
    print(json.dumps({
        str(p.relative_to(root)): [stat.S_IMODE(p.lstat().st_mode), p.is_dir()]
        for p in [root, *root.rglob("*")]
    }))
"""


def _env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STAGESUB_", "DJANGO_"))}
    env.update(
        STAGESUB_DATA_DIR=str(data_dir),
        STAGESUB_ADMIN_PASSWORD="file-modes-demo-password",
        STAGESUB_BASE_DOMAIN="stagesub.test",
    )
    return env


def _run(args, data_dir: Path, **kw) -> subprocess.CompletedProcess:
    # umask 022: what a shell, systemd or a container usually starts us with
    result = subprocess.run(
        args,
        env=_env(data_dir),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=240,
        umask=0o022,
        **kw,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A demo on SQLite with its mail delivered to the mailbox folder."""
    data = tmp_path_factory.mktemp("modes") / "data"
    _run([STAGESUB, "demo"], data)
    _run([STAGESUB, "worker", "--once"], data)
    return data


def test_every_file_is_0600_and_every_folder_0700(data_dir):
    out = _run([STAGESUB, "shell", "-c", LIST_MODES], data_dir).stdout
    listing = json.loads(out.strip().splitlines()[-1])
    names = set(listing)
    # the listing covers what the finding names
    assert {"secret_key", "control.sqlite3", "mailbox"} <= names
    assert any(n.startswith("orchestras/") and n.endswith(".sqlite3-wal") for n in names)
    assert any(n.startswith("orchestras/") and n.endswith(".sqlite3-shm") for n in names)
    assert any(n.startswith("mailbox/") for n in names)
    assert any("/files/" in n for n in names)  # the upload, under the orchestra's root
    wrong = {
        name: oct(mode)
        for name, (mode, is_dir) in listing.items()
        if mode != (0o700 if is_dir else 0o600)
    }
    assert wrong == {}


def test_the_wsgi_module_sets_the_private_umask(tmp_path):
    code = "import os, stagesub.wsgi; print(oct(os.umask(0o022)))"
    result = _run([sys.executable, "-c", code], tmp_path / "data")
    assert result.stdout.strip() == "0o77"
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


def test_a_data_directory_open_to_others_is_reported(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    result = _run([STAGESUB, "migrate", "--verbosity", "0"], data)
    assert f"The data directory {data} is open to other users (mode 755)" in result.stderr
    assert "chmod -R go-rwx" in result.stderr
    # reported, not changed (it may be shared on purpose); the files in it are private
    assert stat.S_IMODE(data.stat().st_mode) == 0o755
    assert stat.S_IMODE((data / "secret_key").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "control.sqlite3").stat().st_mode) == 0o600

"""Private files: everything StageSub writes (SQLite files with their -wal and -shm, uploads,
mailbox, imports, the secret key) is readable by its own user only.

Processes start with a 077 umask (the `stagesub` command and the WSGI module set it before
anything is written), so new files are 0600 and new folders 0700, whoever creates them: our
code, SQLite, Django's file mail backend. The data directory itself is made 0700; one that
already exists and is open to others is reported, not changed (it may be shared on purpose).
"""

from __future__ import annotations

import functools
import os
import stat
import warnings
from pathlib import Path

PRIVATE_UMASK = 0o077


def restrict_new_files() -> None:
    os.umask(PRIVATE_UMASK)


@functools.cache  # settings ask twice; once per process is enough
def private_directory(path: Path) -> None:
    """Create `path` (and missing parents) as 0700; warn if it exists open to others."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask of whoever runs us
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        warnings.warn(
            f"The data directory {path} is open to other users (mode {mode:o}); its files "
            f"may be readable by them. Run: chmod -R go-rwx {path}",
            RuntimeWarning,
            stacklevel=2,
        )

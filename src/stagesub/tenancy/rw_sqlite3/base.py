"""SQLite for orchestra databases: opened read-write, never created by connecting.

Django's SQLite backend creates a missing file on connect. For an orchestra that is the wrong
thing to do: a database file moved away (a failed disk, an operator's mistake) would silently
become an empty database, which then looked like an isolation violation (no stamp). Here the
file is opened with SQLite's `mode=rw` URI, so a missing file is an OperationalError ("unable
to open database file") that the web answers with the 503 page and the monitor reports as
unreachable. Provisioning creates files by copying a template, not by connecting.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        name = str(params["database"])
        if not self.is_in_memory_db() and not name.startswith("file:"):
            params["database"] = f"file:{quote(str(Path(name).resolve()))}?mode=rw"
            params["uri"] = True
        return params

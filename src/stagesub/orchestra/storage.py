"""Each orchestra's own file storage root, under the data directory, named by its id.

Files of one orchestra never share a folder with another's, and go with its backup.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from stagesub.tenancy.context import current_binding


def storage_root() -> Path:
    """The bound orchestra's storage folder (created on first use)."""
    binding = current_binding()
    if binding.orchestra_id is None:
        raise RuntimeError("no orchestra storage while building a template")
    root = Path(settings.DATA_DIR) / "files" / binding.orchestra_id.hex
    root.mkdir(parents=True, exist_ok=True)
    return root

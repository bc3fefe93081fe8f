"""Project files: stored once under the orchestra's storage root, linked to projects and needs.

Bytes live in `<storage root>/files/<key>`, named by a random key (never by the uploaded name).
Reusing a file for another need adds a link, not a copy; removing a link deletes the bytes only
when no other link uses them, and only after the database change has committed.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _

from stagesub.orchestra.ids import next_readable_id
from stagesub.orchestra.storage import storage_root
from stagesub.projects.models import Need, Project, ProjectFile, StoredFile
from stagesub.tenancy.context import current_binding, orchestra_atomic

ALLOWED = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".musicxml": "application/vnd.recordare.musicxml+xml",
    ".mxl": "application/vnd.recordare.musicxml",
}


def files_dir() -> Path:
    folder = storage_root() / "files"
    folder.mkdir(exist_ok=True)
    return folder


def path_of(stored: StoredFile) -> Path:
    return files_dir() / stored.key


def _refuse_beyond_storage() -> None:
    from stagesub.tenancy.context import current_binding
    from stagesub.tenancy.models import Orchestra
    from stagesub.tenancy.plans import refuse_beyond_storage

    try:
        refuse_beyond_storage(Orchestra.objects.get(pk=current_binding().orchestra_id))
    except ValidationError as exc:
        raise ValidationError({"file": exc.messages}) from None


def upload(
    project: Project,
    *,
    name: str,
    content: bytes,
    display_name: str = "",
    file_type: str = "general_info",
    send_timing: str = "on_request",
    need: Need | None = None,
) -> ProjectFile:
    """Check and store an upload; nothing is kept when any check or write fails."""
    extension = Path(name).suffix.lower()
    if extension not in ALLOWED:
        raise ValidationError(
            {
                "file": _(
                    "Files of this type cannot be uploaded. Allowed: PDF, images, Word, text, MusicXML."
                )
            }
        )
    limit = settings.MAX_UPLOAD_BYTES
    if len(content) > limit:
        raise ValidationError(
            {"file": _("The file is larger than %(mb)s MB.") % {"mb": limit // (1024 * 1024)}}
        )
    if not content:
        raise ValidationError({"file": _("The file is empty.")})
    if (
        file_type not in ProjectFile.FileType.values
        or send_timing not in ProjectFile.SendTiming.values
    ):
        raise ValidationError(_("Choose the file's type and when it is sent."))
    if need is not None and need.project_id != project.pk:
        raise ValidationError(_("That need belongs to another project."))
    key = secrets.token_hex(16)
    target = files_dir() / key
    partial = target.with_suffix(".partial")
    partial.write_bytes(content)
    os.replace(partial, target)
    try:
        with orchestra_atomic():
            # Taking the id locks the counter: uploads are serialised, so the storage check
            # below (which counts this file, already in place) cannot be raced past.
            file_id = next_readable_id("FILE")
            _refuse_beyond_storage()
            stored = StoredFile.objects.create(
                key=key,
                original_name=Path(name).name[:255],
                content_type=ALLOWED[extension],
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
            )
            return ProjectFile.objects.create(
                file_id=file_id,
                project=project,
                need=need,
                stored=stored,
                display_name=(display_name or Path(name).stem).strip()[:200],
                file_type=file_type,
                send_timing=send_timing,
            )
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def reuse(project_file: ProjectFile, *, need: Need, send_timing: str = "on_accept") -> ProjectFile:
    """Link the same bytes to another need of the project (no copy)."""
    if need.project_id != project_file.project_id:
        raise ValidationError(_("Files can only be reused within their project."))
    if ProjectFile.objects.filter(stored=project_file.stored, need=need).exists():
        raise ValidationError(_("That need already has this file."))
    return ProjectFile.objects.create(
        file_id=next_readable_id("FILE"),
        project=project_file.project,
        need=need,
        stored=project_file.stored,
        display_name=project_file.display_name,
        file_type=ProjectFile.FileType.SHEET_MUSIC,
        send_timing=send_timing,
    )


def remove(project_file: ProjectFile) -> None:
    with orchestra_atomic():
        stored = project_file.stored
        project_file.delete()
        _forget_if_unused(stored)


def _forget_if_unused(stored: StoredFile) -> None:
    if stored.links.exists():
        return
    path = path_of(stored)
    stored.delete()
    transaction.on_commit(lambda: path.unlink(missing_ok=True), using=current_binding().alias)


def remove_all(project: Project) -> None:
    """Delete the project's links and any bytes no other project uses (project deletion)."""
    stored = list(StoredFile.objects.filter(links__project=project).distinct())
    project.files.all().delete()
    for item in stored:
        _forget_if_unused(item)


def sent_with(need: Need, timing: str):
    """The project's files that go out with `need`'s messages at `timing` (the whole project's
    and the need's own): attached to the e-mail and listed on the musician's page."""
    return ProjectFile.objects.filter(project_id=need.project_id, send_timing=timing).filter(
        Q(need__isnull=True) | Q(need=need)
    )


def download(stored: StoredFile) -> FileResponse:
    """The file as a download; 404 if its bytes are gone."""
    path = path_of(stored)
    if not path.exists():
        raise Http404
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=stored.original_name,
        content_type=stored.content_type,
    )

"""A musician's data rights: everything stored about them (export) and erasure.

Export walks every orchestra model with a relation to the musician (so a table another app adds
later is included without changes here) plus the messages sent to their address.

Erasure keeps the musician's row, offers, list places and messages, so counts and statistics
stay true, but removes what names them: the row's personal fields are replaced by a neutral
label, their messages lose subject, body and address, personal-page data goes, and then every
text column of every orchestra table, the orchestra's stored files and the mailbox folder are
searched for their name, e-mail and phone, which are replaced (or the file removed: uploads
naming them, pending roster imports). It is one
transaction on the orchestra's database; the files are cleaned after it commits.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from stagesub.messaging.models import Message
from stagesub.orchestra.storage import storage_root
from stagesub.portal.models import ContactChange, Erasure, MusicianFeed, SignInLink
from stagesub.projects import files
from stagesub.projects.models import ProjectFile, StoredFile
from stagesub.roster.models import Musician, Unavailability
from stagesub.tenancy import audit
from stagesub.tenancy.context import current_binding, orchestra_atomic
from stagesub.tenancy.sides import OrchestraAppConfig

ERASED = "[raderad]"
# Personal-page data that has no use once the person is gone (deleted, not anonymised).
_DELETED_WITH_THE_PERSON = (Unavailability, SignInLink, MusicianFeed, ContactChange)


def _orchestra_models() -> Iterator[type[models.Model]]:
    for config in apps.get_app_configs():
        if isinstance(config, OrchestraAppConfig):
            yield from config.get_models()


def _row(obj: models.Model) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def export(musician: Musician) -> dict:
    """Everything stored about the musician, as JSON-ready data."""
    related: dict[str, list[dict]] = {}
    for model in _orchestra_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Musician:
                rows = model.objects.filter(**{field.name: musician}).order_by("pk")
                related.setdefault(model._meta.label, []).extend(_row(r) for r in rows)
    addressed = Message.objects.filter(to_email__iexact=musician.email).exclude(musician=musician)
    related.setdefault(Message._meta.label, []).extend(_row(m) for m in addressed)
    data = {
        "musician": _row(musician),
        "qualifications": [str(p) for p in musician.qualifications.all()],
        "related": {label: rows for label, rows in related.items() if rows},
        "exported_at": timezone.now(),
    }
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def export_json(musician: Musician) -> str:
    return json.dumps(export(musician), ensure_ascii=False, indent=2)


def terms_of(musician: Musician) -> list[str]:
    """What identifies the musician in free text: full name, e-mail, phone."""
    terms = [musician.full_name, musician.email, musician.phone]
    if musician.phone.startswith("+46"):
        terms.append("0" + musician.phone[3:])  # as Swedes write it
    return [t for t in terms if t and len(t.strip()) >= 3]


def _pattern(terms: list[str]) -> re.Pattern:
    return re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.I)


def _text_fields(model) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField)
        and not f.choices
        and not f.primary_key
    ]


def rows_naming(terms: list[str]) -> Iterator[tuple[models.Model, list[models.Field]]]:
    """Every row of every orchestra table with a text column that contains one of the terms."""
    for model in _orchestra_models():
        fields = _text_fields(model)
        if not fields or not terms:
            continue
        casts = {f"_t_{f.attname}": Cast(f.attname, TextField()) for f in fields}
        match = Q()
        for name in casts:
            for term in terms:
                match |= Q(**{f"{name}__icontains": term})
        pattern = _pattern(terms)
        for obj in model.objects.annotate(**casts).filter(match):
            hit = [f for f in fields if pattern.search(str(getattr(obj, f.attname) or ""))]
            if hit:
                yield obj, hit


def _scrub(value, pattern: re.Pattern):
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    return json.loads(pattern.sub(ERASED, json.dumps(value, ensure_ascii=False)))


def erased_email(musician: Musician) -> str:
    return f"raderad-{musician.musician_id.lower()}@invalid"


def erase(musician: Musician, *, actor=None, actor_label: str = "", request=None) -> dict:
    """Remove the musician's personal data everywhere; irreversible. Counts of what was done."""
    terms = terms_of(musician)
    pattern = _pattern(terms)
    done: dict[str, int] = {}
    with orchestra_atomic():
        musician = Musician.objects.select_for_update().get(pk=musician.pk)
        messages = Message.objects.filter(Q(musician=musician) | Q(to_email__iexact=musician.email))
        done["messages"] = messages.update(subject="", body="", to_email=erased_email(musician))
        for model in _DELETED_WITH_THE_PERSON:
            done[model._meta.label], _ = model.objects.filter(musician=musician).delete()
        musician.first_name = ERASED
        musician.last_name = musician.musician_id
        musician.email = erased_email(musician)
        musician.phone = ""
        musician.notes = ""
        musician.local_residence = False
        musician.status = Musician.Status.ARCHIVED
        musician.archived_at = musician.archived_at or timezone.now()
        musician.save()
        Erasure.objects.create(
            musician=musician,
            at=timezone.now(),
            by=actor.get_username() if actor is not None else actor_label,
        )
        stored = _stored_files_naming(terms)
        done["files"] = len(stored)
        ProjectFile.objects.filter(stored__in=stored).delete()
        keys = [s.key for s in stored]
        StoredFile.objects.filter(pk__in=[s.pk for s in stored]).delete()
        done["rows"] = 0
        for obj, fields in list(rows_naming(terms)):
            for field in fields:
                setattr(obj, field.attname, _scrub(getattr(obj, field.attname), pattern))
            type(obj).objects.filter(pk=obj.pk).update(
                **{f.attname: getattr(obj, f.attname) for f in fields}
            )
            done["rows"] += 1
    for key in keys:
        (files.files_dir() / key).unlink(missing_ok=True)
    done["other_files"] = _remove_other_files_naming(terms)
    done["mailbox_files"] = _clean_mailbox(pattern)
    audit.record(
        "musician.erased",
        actor=actor,
        actor_label=actor_label,
        orchestra=_bound_orchestra(),
        request=request,
        musician_id=musician.musician_id,
        **{k.replace(".", "_"): v for k, v in done.items()},
    )
    return done


def _bound_orchestra():
    from stagesub.tenancy.models import Orchestra

    return Orchestra.objects.filter(pk=current_binding().orchestra_id).first()


def _stored_files_naming(terms: list[str]) -> list[StoredFile]:
    """Uploaded files whose name or bytes name the musician (compared case-insensitively)."""
    needles = [t.lower().encode() for t in terms]
    out = []
    for stored in StoredFile.objects.all():
        path = files.path_of(stored)
        content = path.read_bytes().lower() if path.exists() else b""
        name = stored.original_name.lower().encode()
        if any(n in content or n in name for n in needles):
            out.append(stored)
    return out


def _remove_other_files_naming(terms: list[str]) -> int:
    """Other files in the orchestra's storage (pending roster imports) that name the musician:
    they are working copies, so they go."""
    needles = [t.lower().encode() for t in terms]
    uploads = files.files_dir()
    removed = 0
    for path in storage_root().rglob("*"):
        if path.is_file() and uploads not in path.parents:
            content = path.read_bytes().lower()
            if any(n in content for n in needles):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


_MESSAGE_ID = re.compile(r"^Message-ID: <([0-9a-f-]{36})@stagesub>$", re.MULTILINE | re.IGNORECASE)


def _clean_mailbox(pattern: re.Pattern) -> int:
    """The embedded mailbox folder (file e-mail backend): rewrite files naming the musician.

    The folder is the whole platform's: only mail this orchestra sent (a Message-ID of its own
    outbox) is touched, never another orchestra's mail about someone of the same name.
    """
    folder = getattr(settings, "EMAIL_FILE_PATH", None)
    if not folder or not Path(folder).is_dir():
        return 0
    ours = {str(uid) for uid in Message.objects.values_list("uid", flat=True)}
    cleaned = 0
    for path in Path(folder).iterdir():
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        sent_by_us = any(m.lower() in ours for m in _MESSAGE_ID.findall(text))
        if sent_by_us and pattern.search(text):
            path.write_text(pattern.sub(ERASED, text), encoding="utf-8", errors="surrogateescape")
            cleaned += 1
    return cleaned


def erase_due(now: datetime.datetime, *, months: int) -> int:
    """Erase musicians archived more than `months` months ago (retention); how many."""
    cutoff = now - datetime.timedelta(days=30 * months)
    due = Musician.objects.filter(
        status=Musician.Status.ARCHIVED, archived_at__lt=cutoff, erasure__isnull=True
    )
    count = 0
    for musician in due:
        erase(musician, actor_label="retention")
        count += 1
    return count


def purge_bodies(now: datetime.datetime, *, days: int) -> int:
    """Empty the bodies of messages older than `days` days that are no longer to be sent."""
    return (
        Message.objects.filter(created_at__lt=now - datetime.timedelta(days=days))
        .exclude(status__in=[Message.Status.QUEUED, Message.Status.SENDING])
        .exclude(body="")
        .update(body="")
    )

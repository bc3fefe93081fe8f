"""Writing messages to the outbox, in the caller's transaction."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from stagesub.messaging.models import Message
from stagesub.messaging.rendering import Templates, render
from stagesub.tenancy.due import note_due

# Called after a rendered message is queued, in the same transaction, with the message, the
# offer (or None) and the template values: another channel (stagesub.sms) adds its copy.
Copier = Callable[[Message, object, dict[str, str]], None]
_copiers: list[Copier] = []


def copy_queued(copier: Copier) -> Copier:
    _copiers.append(copier)
    return copier


def _store(*, now: datetime.datetime, schedule: bool, **fields) -> Message:
    message = Message.objects.create(next_attempt_at=now, created_at=now, **fields)
    if schedule:
        note_due(now)
    return message


def queue(
    *,
    kind: str,
    musician,
    values: dict[str, str],
    now: datetime.datetime,
    offer=None,
    attachment_ids: list[int] | None = None,
    templates: Templates | None = None,
    schedule: bool = True,
) -> Message:
    """Render and queue one e-mail; it is delivered once the surrounding transaction commits.

    `schedule=False` leaves telling the scheduler to the caller (one note for many messages).
    """
    language = musician.preferred_language
    subject, body = render(kind, language, values, templates)
    message = _store(
        now=now,
        schedule=schedule,
        kind=kind,
        offer=offer,
        musician=musician,
        to_email=musician.email,
        language=language,
        subject=subject,
        body=body,
        attachment_ids=list(attachment_ids or []),
    )
    for copier in _copiers:
        copier(message, offer, values)
    return message


def queue_written(
    *,
    kind: str,
    musician,
    subject: str,
    body: str,
    now: datetime.datetime,
    group_email=None,
    attachment_ids: list[int] | None = None,
) -> Message:
    """Queue an e-mail whose text the caller wrote (a group e-mail); the caller tells the
    scheduler once for all of them (`tenancy.due.note_due`)."""
    return _store(
        now=now,
        schedule=False,
        kind=kind,
        musician=musician,
        group_email=group_email,
        to_email=musician.email,
        language=musician.preferred_language,
        subject=" ".join(subject.split()),
        body=body,
        attachment_ids=list(attachment_ids or []),
    )


def requeue(message: Message, *, now: datetime.datetime) -> Message:
    """A copy of a message to send again (staff "resend"), to the musician's current address;
    the original stays as it was."""
    return _store(
        now=now,
        schedule=True,
        kind=message.kind,
        offer=message.offer,
        musician=message.musician,
        group_email=message.group_email,
        to_email=message.musician.email if message.musician else message.to_email,
        language=message.language,
        subject=message.subject,
        body=message.body,
        attachment_ids=message.attachment_ids,
    )

"""Delivering the bound orchestra's outbox: one message per transaction, retried with backoff.

Each message is claimed under a row lock (SKIP LOCKED on PostgreSQL, so two workers never hold
the same message; SQLite serialises writers), handed to the SMTP server, and marked sent in the
same transaction. A refused or failed hand-over only raises `attempts` and moves
`next_attempt_at` later; the message stays queued until a server accepts it.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connections
from django.db.models import Min
from django.utils import timezone

from stagesub.messaging.models import Message
from stagesub.projects.files import path_of
from stagesub.projects.models import ProjectFile
from stagesub.tenancy.context import current_binding, orchestra_atomic

logger = logging.getLogger("stagesub.messaging")

BACKOFF_START = 30  # seconds after the first failure
BACKOFF_CAP = 3600  # never wait more than an hour between attempts


def backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=min(BACKOFF_CAP, BACKOFF_START * 2 ** max(0, attempts - 1)))


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0


def _sender(orchestra_name: str) -> str:
    address = settings.DEFAULT_FROM_EMAIL
    # "Göteborgs Symfoniker <no-reply@…>": the orchestra's name, the platform's address.
    if "<" in address:
        address = address.split("<", 1)[1].rstrip(">")
    name = orchestra_name.replace('"', "'")
    return f'"{name}" <{address}>'


def _email(message: Message, sender: str, connection) -> EmailMessage:
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=sender,
        to=[message.to_email],
        connection=connection,
        headers={"Message-ID": f"<{message.uid}@stagesub>"},
    )
    for project_file in ProjectFile.objects.filter(pk__in=message.attachment_ids).select_related(
        "stored"
    ):
        email.attach(
            project_file.stored.original_name,
            path_of(project_file.stored).read_bytes(),
            project_file.stored.content_type,
        )
    return email


def _claim(pk: int, now: datetime.datetime) -> Message | None:
    alias = current_binding().alias
    rows = Message.objects.filter(pk=pk, status=Message.Status.QUEUED, next_attempt_at__lte=now)
    if connections[alias].features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    return rows.first()


def deliver_due(
    *, orchestra_name: str, now: datetime.datetime | None = None, limit: int = 500
) -> DeliveryReport:
    """Send the queued messages whose time has come (at most `limit`)."""
    now = now or timezone.now()
    report = DeliveryReport()
    due = list(
        Message.objects.filter(status=Message.Status.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return report
    sender = _sender(orchestra_name)
    # One SMTP session for the whole batch (after a failure, a fresh one for the rest).
    connection = get_connection(fail_silently=False)
    _open(connection)
    try:
        for pk in due:
            with orchestra_atomic():
                message = _claim(pk, now)
                if message is None:
                    continue  # another worker has it, or it is already sent
                try:
                    _email(message, sender, connection).send()
                except Exception as exc:  # the mail server's problem: retry later
                    message.attempts += 1
                    message.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    message.next_attempt_at = now + backoff(message.attempts)
                    message.save(update_fields=["attempts", "last_error", "next_attempt_at"])
                    report.failed += 1
                    logger.warning("delivery of message %s failed: %s", message.pk, exc)
                    _reset(connection)
                    _open(connection)
                    continue
                message.status, message.sent_at = Message.Status.SENT, now
                message.attempts += 1
                message.save(update_fields=["status", "sent_at", "attempts"])
                report.sent += 1
    finally:
        _reset(connection)
    return report


def _open(connection) -> None:
    try:
        connection.open()
    except Exception:  # the send that follows reports the failure per message
        logger.debug("opening the mail connection failed", exc_info=True)


def _reset(connection) -> None:
    try:
        connection.close()
    except Exception:  # closing a broken connection must not hide the real error
        logger.debug("closing the mail connection failed", exc_info=True)


def next_due() -> datetime.datetime | None:
    return Message.objects.filter(status=Message.Status.QUEUED).aggregate(t=Min("next_attempt_at"))[
        "t"
    ]

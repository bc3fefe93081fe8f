"""Delivering the bound orchestra's outbox: each attempt recorded before the SMTP call.

One message at a time:

1. claim it (a row lock: SKIP LOCKED on PostgreSQL, so two workers never take the same message;
   SQLite serialises writers), ask the registered checks whether it should still go out (an
   offer's request that is no longer open is cancelled instead), and commit it as `sending`
   with the attempt time;
2. hand it to the SMTP server, outside any transaction (no lock is held during network I/O);
3. commit the outcome: `sent`; `queued` again with a later `next_attempt_at`; or `failed` when
   the server refused this message for good (a 5xx answer about it).

A worker killed between 1 and 3 leaves the message `sending`; after `MAIL_SENDING_STALE`
seconds it is queued again. It may have reached the server, so it may arrive twice: at most
that one message per killed worker (the Message-ID header is stable, so the copy is
recognisable).

Failures come in two sorts. A refusal of one message (its recipient, its content) fails that
message only and the batch goes on. A failure of the server itself (refused or timed-out
connection, dropped session, 421) stops the batch at once: the rest of it is deferred without
being tried, and other orchestras delivering in this process defer too until the retry time
(the outage is per mail server, and mail settings are the platform's). Outage retries back off
from 15 s to at most `MAIL_OUTAGE_RETRY_MAX`, so the queue drains soon after the server is back.
"""

from __future__ import annotations

import datetime
import logging
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connections
from django.db.models import Min
from django.utils import timezone

from stagesub.messaging.models import Message, SenderSettings
from stagesub.projects.files import path_of
from stagesub.projects.models import ProjectFile
from stagesub.tenancy.context import current_binding, orchestra_atomic

logger = logging.getLogger("stagesub.messaging")

BACKOFF_START = 30  # seconds after a message's first refusal
BACKOFF_CAP = 3600  # never wait more than an hour between attempts at a refused message
OUTAGE_BACKOFF_START = 15  # seconds after the mail server first failed

# A check run just before a message is sent, inside the claiming transaction: it returns why
# the message must not go out any more ("" to send it) and may update the message's text.
SendCheck = Callable[[Message, datetime.datetime], str]
_checks: list[SendCheck] = []


def check_before_sending(check: SendCheck) -> SendCheck:
    _checks.append(check)
    return check


def backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=min(BACKOFF_CAP, BACKOFF_START * 2 ** max(0, attempts - 1)))


def outage_backoff(attempts: int) -> datetime.timedelta:
    seconds = OUTAGE_BACKOFF_START * 2 ** max(0, attempts - 1)
    return datetime.timedelta(seconds=min(settings.MAIL_OUTAGE_RETRY_MAX, seconds))


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0  # attempts that failed (the message is retried later, or refused for good)
    deferred: int = 0  # not tried: the mail server was unreachable
    skipped: int = 0  # not sent on purpose: the offer it was about is no longer open
    recovered: int = 0  # left `sending` by a killed worker, queued again
    unfinished: bool = False  # stopped at the deadline; the rest is still due

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        """Two channels' passes as one (e-mail and SMS share the outbox)."""
        return DeliveryReport(
            self.sent + other.sent,
            self.failed + other.failed,
            self.deferred + other.deferred,
            self.skipped + other.skipped,
            self.recovered + other.recovered,
            self.unfinished or other.unfinished,
        )


class _Outages:
    """Per mail server (backend, host, port): when this process may try it again.

    Shared by every orchestra a worker delivers for, so one unreachable server costs one
    timeout per retry interval, not one per orchestra.
    """

    def __init__(self) -> None:
        self._until: dict[tuple, datetime.datetime] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _server() -> tuple:
        return (settings.EMAIL_BACKEND, getattr(settings, "EMAIL_HOST", ""), settings.EMAIL_PORT)

    def retry_at(self, now: datetime.datetime) -> datetime.datetime | None:
        with self._lock:
            until = self._until.get(self._server())
        return until if until is not None and until > now else None

    def down(self, until: datetime.datetime) -> None:
        with self._lock:
            self._until[self._server()] = until

    def up(self) -> None:
        with self._lock:
            self._until.pop(self._server(), None)


outages = _Outages()


def _sender(name: str) -> str:
    address = settings.DEFAULT_FROM_EMAIL
    # "Göteborgs Symfoniker <no-reply@…>": the orchestra's (sender) name, the platform's address.
    if "<" in address:
        address = address.split("<", 1)[1].rstrip(">")
    # One line whatever was stored (the settings form refuses line breaks already).
    name = " ".join(name.replace('"', "'").split())
    return f'"{name}" <{address}>'


@dataclass(frozen=True)
class Origin:
    sender: str
    reply_to: list[str]


def origin_of(orchestra_name: str) -> Origin:
    """The bound orchestra's sender settings (From, Reply-To), read once per batch."""
    current = SenderSettings.current()
    return Origin(
        sender=_sender(current.sender_name or orchestra_name),
        reply_to=[current.reply_to] if current.reply_to else [],
    )


def _email(message: Message, origin: Origin, connection) -> EmailMessage:
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=origin.sender,
        to=[message.to_email],
        reply_to=origin.reply_to,
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
    email.message()  # build it now: a broken message is this message's fault, not the server's
    return email


def _refusal_code(exc: Exception) -> int | None:
    """The SMTP code when the server refused this one message; None when the session failed."""
    code = None
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code = max((c for c, _text in exc.recipients.values()), default=None)
    elif isinstance(exc, smtplib.SMTPDataError):
        code = exc.smtp_code
    # 421: "service not available, closing the channel" is about the server, not the message.
    return None if code is None or code == 421 else code


def _claim(pk: int, at: datetime.datetime) -> Message | None:
    alias = current_binding().alias
    rows = Message.objects.filter(pk=pk, status=Message.Status.QUEUED, next_attempt_at__lte=at)
    if connections[alias].features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    return rows.first()


def start_attempt(pk: int, at: datetime.datetime) -> Message | None:
    """Claim the message and commit the attempt (or its cancellation) before any SMTP call."""
    with orchestra_atomic():
        message = _claim(pk, at)
        if message is None:
            return None  # another worker has it, or it is no longer due
        reason = next((r for r in (check(message, at) for check in _checks) if r), "")
        if reason:
            message.status, message.last_error = Message.Status.CANCELLED, reason[:500]
        else:
            message.status, message.last_attempt_at = Message.Status.SENDING, at
            message.attempts += 1
        message.save(
            update_fields=[
                "status",
                "last_error",
                "last_attempt_at",
                "attempts",
                "subject",
                "body",
            ]
        )
    return message


def settle(message: Message, **fields) -> None:
    Message.objects.filter(pk=message.pk).update(**fields)  # one statement: atomic on its own


def _recover_interrupted(now: datetime.datetime) -> int:
    """Queue again what a killed worker left `sending` (it may have been delivered once)."""
    stale = now - datetime.timedelta(seconds=settings.MAIL_SENDING_STALE)
    count = Message.objects.filter(status=Message.Status.SENDING, last_attempt_at__lt=stale).update(
        status=Message.Status.QUEUED,
        next_attempt_at=now,
        last_error="Interrupted while being sent (it may have arrived once already).",
    )
    if count:
        logger.warning(
            "orchestra %s: %d message(s) interrupted while being sent are queued again",
            current_binding().subdomain,
            count,
        )
    return count


def defer(pks: list[int], until: datetime.datetime) -> int:
    if not pks:
        return 0
    return Message.objects.filter(pk__in=pks, status=Message.Status.QUEUED).update(
        next_attempt_at=until
    )


def deliver_due(
    *,
    orchestra_name: str,
    now: datetime.datetime | None = None,
    limit: int = 500,
    deadline: float | None = None,
) -> DeliveryReport:
    """Send the queued messages whose time has come (at most `limit`, until the monotonic
    `deadline`; what is left stays due)."""
    now = now or timezone.now()
    started = time.monotonic()

    def clock() -> datetime.datetime:
        # The pass's time, moving on as the batch takes time (attempt times must not lag
        # behind, or another worker could take a message in flight for an interrupted one).
        return now + datetime.timedelta(seconds=time.monotonic() - started)

    report = DeliveryReport()
    subdomain = current_binding().subdomain
    report.recovered = _recover_interrupted(now)
    due = list(
        Message.objects.filter(
            status=Message.Status.QUEUED, next_attempt_at__lte=now, channel=Message.Channel.EMAIL
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return report
    retry_at = outages.retry_at(now)
    if retry_at is not None:
        report.deferred = defer(due, retry_at)  # the server failed moments ago: not again yet
        return report
    origin = origin_of(orchestra_name)
    # One SMTP session for the whole batch, opened when the first message is ready.
    connection = get_connection(fail_silently=False)
    try:
        for index, pk in enumerate(due):
            if deadline is not None and time.monotonic() >= deadline:
                report.unfinished = True
                break
            message = start_attempt(pk, clock())
            if message is None:
                continue
            if message.status == Message.Status.CANCELLED:
                report.skipped += 1
                logger.info(
                    "orchestra %s: %s %s not sent: %s",
                    subdomain,
                    message.kind,
                    message.pk,
                    message.last_error,
                )
                continue
            try:
                email = _email(message, origin, connection)
            except Exception as exc:  # a missing attachment, say: retry this one later
                _message_failed(message, exc, None, clock(), subdomain)
                report.failed += 1
                continue
            try:
                connection.open()
                email.send()
            except Exception as exc:
                code = _refusal_code(exc)
                report.failed += 1
                if code is not None:
                    _message_failed(message, exc, code, clock(), subdomain)
                    continue
                # The server itself failed: stop here and defer the rest of the batch.
                retry = clock() + outage_backoff(message.attempts)
                settle(
                    message,
                    status=Message.Status.QUEUED,
                    last_error=_describe(exc),
                    next_attempt_at=retry,
                )
                outages.down(retry)
                report.deferred = defer(due[index + 1 :], retry)
                logger.error(
                    "orchestra %s: mail server unreachable (%s); batch stopped, %d more deferred until %s",
                    subdomain,
                    _describe(exc),
                    report.deferred,
                    retry.isoformat(timespec="seconds"),
                )
                _close(connection)
                break
            settle(message, status=Message.Status.SENT, sent_at=clock())
            outages.up()
            report.sent += 1
    finally:
        _close(connection)
    return report


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _message_failed(
    message: Message, exc: Exception, code: int | None, at: datetime.datetime, subdomain: str
) -> None:
    if code is not None and code >= 500:
        settle(message, status=Message.Status.FAILED, last_error=_describe(exc))
        outcome = "refused for good"
    else:
        settle(
            message,
            status=Message.Status.QUEUED,
            last_error=_describe(exc),
            next_attempt_at=at + backoff(message.attempts),
        )
        outcome = "to be retried"
    logger.warning(
        "orchestra %s: %s %s to %s %s: %s",
        subdomain,
        message.kind,
        message.pk,
        message.to_email,
        outcome,
        _describe(exc),
    )


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # closing a broken connection must not hide the real error
        logger.debug("closing the mail connection failed", exc_info=True)


def next_due() -> datetime.datetime | None:
    """When the bound orchestra's outbox next needs the worker: a queued message's attempt, or
    the moment a message left `sending` counts as interrupted."""
    queued = Message.objects.filter(status=Message.Status.QUEUED).aggregate(
        t=Min("next_attempt_at")
    )["t"]
    sending = Message.objects.filter(status=Message.Status.SENDING).aggregate(
        t=Min("last_attempt_at")
    )["t"]
    if sending is not None:
        sending += datetime.timedelta(seconds=settings.MAIL_SENDING_STALE)
    times = [t for t in (queued, sending) if t is not None]
    return min(times) if times else None

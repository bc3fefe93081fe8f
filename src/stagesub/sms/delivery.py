"""Delivering the bound orchestra's queued SMS through its provider account.

The e-mail outbox's own steps (messaging.delivery): the claim and the checks before sending
(an SMS for a request no longer open is cancelled), the attempt committed before the HTTP
call, then the outcome. A refusal of one message (400: its number) fails that message; a
429, a 5xx, bad credentials or an unreachable provider stop the pass and defer the rest until
the provider's Retry-After, or the e-mail backoff.
"""

from __future__ import annotations

import datetime
import logging
import time

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from stagesub.crypto import SecretUnreadable
from stagesub.messaging.delivery import (
    DeliveryReport,
    backoff,
    defer,
    settle,
    start_attempt,
)
from stagesub.messaging.models import Message
from stagesub.sms.models import SmsSettings
from stagesub.sms.provider import Elks, SmsError
from stagesub.tenancy.context import current_binding

logger = logging.getLogger("stagesub.sms")


def provider_for(sms: SmsSettings) -> Elks:
    return Elks(settings.SMS_API_URL, sms.api_username, sms.api_password())


def deliver_due(
    *, now: datetime.datetime | None = None, limit: int = 500, deadline: float | None = None
) -> DeliveryReport:
    now = now or timezone.now()
    started = time.monotonic()
    report = DeliveryReport()
    due = list(
        Message.objects.filter(
            channel=Message.Channel.SMS, status=Message.Status.QUEUED, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return report
    sms = SmsSettings.current()
    if sms is None or not sms.enabled:
        report.skipped = Message.objects.filter(pk__in=due, status=Message.Status.QUEUED).update(
            status=Message.Status.CANCELLED, last_error=_("Not sent: SMS is switched off.")
        )
        return report
    try:
        provider = provider_for(sms)
    except (SecretUnreadable, ValueError) as exc:
        logger.error("orchestra %s: SMS account unusable: %s", current_binding().subdomain, exc)
        report.deferred = defer(due, now + backoff(1))
        return report
    for index, pk in enumerate(due):
        if deadline is not None and time.monotonic() >= deadline:
            report.unfinished = True
            break
        at = now + datetime.timedelta(seconds=time.monotonic() - started)
        message = start_attempt(pk, at)
        if message is None:
            continue
        if message.status == Message.Status.CANCELLED:
            report.skipped += 1
            continue
        try:
            provider.send(sender=sms.sender, to=message.to_phone, text=message.body)
        except SmsError as exc:
            report.failed += 1
            if exc.permanent:
                settle(message, status=Message.Status.FAILED, last_error=str(exc)[:500])
                continue
            wait = backoff(message.attempts)
            if exc.retry_after is not None:
                wait = datetime.timedelta(seconds=exc.retry_after)
            retry = at + wait
            settle(
                message,
                status=Message.Status.QUEUED,
                last_error=str(exc)[:500],
                next_attempt_at=retry,
            )
            # The provider itself is the trouble: the rest waits too, untried.
            report.deferred = defer(due[index + 1 :], retry)
            logger.warning(
                "orchestra %s: SMS provider: %s; %d more deferred",
                current_binding().subdomain,
                exc,
                report.deferred,
            )
            break
        settle(message, status=Message.Status.SENT, sent_at=timezone.now())
        report.sent += 1
    return report

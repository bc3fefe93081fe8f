"""Reminders, timeouts and outbox delivery, for every orchestra that has something due.

The control database keeps a next-due time per orchestra (tenancy.due), so a pass opens only
the databases with work waiting: a pass over a thousand quiet orchestras is one indexed query.

No orchestra may hold up the others:

- orchestras are taken oldest due time first, so one that was cut short or left for the next
  pass comes before those that were served;
- each gets `SCHEDULER_ORCHESTRA_BUDGET` seconds, checked between units of work (one timeout,
  one reminder, one message); what is left stays due for the next pass;
- every blocking call is bounded by its own timeout (database connect and statement timeouts,
  `EMAIL_TIMEOUT`), so an orchestra overruns its budget by at most one such timeout; a mail
  server that fails stops delivery for the rest of the batch at once (messaging.delivery);
- an orchestra that raises (its database is down, say) is logged, looked at again a minute
  later, and the pass goes on;
- the pass itself starts no further orchestra after `SCHEDULER_PASS_BUDGET` seconds (it always
  starts one), so the worker gets back to its task queue; the rest are first in the next pass.
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass, field, fields

from django.conf import settings
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone

from stagesub.messaging import delivery
from stagesub.messaging.models import Kind, Message
from stagesub.offers import engine, services
from stagesub.offers.models import Offer
from stagesub.sms import delivery as sms_delivery
from stagesub.tenancy.binding import use_orchestra
from stagesub.tenancy.due import due_orchestras, set_next_due
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.scheduler")

RETRY_BROKEN_AFTER = datetime.timedelta(minutes=1)

delivery.check_before_sending(services.prepare_delivery)


@dataclass
class OrchestraPass:
    timeouts: int = 0
    reminders: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    recovered: int = 0
    unfinished: bool = False  # the budget ran out; the rest waits for the next pass

    def describe(self) -> str:
        parts = [f"{self.sent} sent, {self.failed} failed, {self.deferred} deferred"]
        parts.append(f"{self.skipped} skipped")
        if self.recovered:
            parts.append(f"{self.recovered} interrupted and queued again")
        parts.append(f"{self.timeouts} timeouts, {self.reminders} reminders")
        if self.unfinished:
            parts.append("unfinished (budget)")
        return ", ".join(parts)

    @property
    def mail_trouble(self) -> bool:
        return bool(self.failed or self.deferred or self.recovered)


@dataclass
class PassReport:
    orchestras: dict[str, OrchestraPass] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    postponed: list[str] = field(default_factory=list)  # not started: the pass budget ran out
    seconds: float = 0.0

    def total(self, name: str) -> int:
        return sum(getattr(p, name) for p in self.orchestras.values())

    def summary(self) -> str:
        head = (
            f"{len(self.orchestras)} orchestras due: {self.total('sent')} sent, "
            f"{self.total('failed')} failed, {self.total('deferred')} deferred, "
            f"{self.total('skipped')} skipped"
        )
        parts = [head]
        parts += [
            f"{subdomain}: {result.describe()}"
            for subdomain, result in sorted(self.orchestras.items())
            if any(getattr(result, f.name) for f in fields(result))
        ]
        if self.broken:
            parts.append("broken: " + ", ".join(sorted(self.broken)))
        if self.postponed:
            parts.append(f"postponed to the next pass: {len(self.postponed)}")
        return "; ".join(parts)


def _awaiting_delivery():
    """The offer's request is still in the outbox: none delivered, one queued or being sent."""
    requests = Message.objects.filter(offer=OuterRef("pk"), kind=Kind.REQUEST)
    return Exists(
        requests.filter(status__in=[Message.Status.QUEUED, Message.Status.SENDING])
    ) & ~Exists(requests.filter(status=Message.Status.SENT))


def running_offers():
    """Pending offers whose response window is running. The window starts when the request is
    delivered (services.prepare_delivery moves the deadline then), so an offer whose request
    waits in the outbox (a mail outage) neither times out nor gets a reminder yet."""
    return Offer.objects.filter(status=engine.PENDING).exclude(_awaiting_delivery())


def run_orchestra(
    orchestra_name: str, now: datetime.datetime, deadline: float | None = None
) -> OrchestraPass:
    """One pass over the bound orchestra: timeouts first (an expired offer gets no reminder),
    then reminders, then the outbox (which now holds what the first two queued). Stops at the
    monotonic `deadline`; what is left stays due."""
    result = OrchestraPass()

    def out_of_time() -> bool:
        result.unfinished = deadline is not None and time.monotonic() >= deadline
        return result.unfinished

    running = running_offers()
    for offer in running.filter(expires_at__lte=now).order_by("expires_at", "pk"):
        if out_of_time():
            return result
        if services.time_out(offer, now=now).decision.status_changes:
            result.timeouts += 1
    reminders = running.filter(
        reminder_due_at__lte=now, reminder_sent_at__isnull=True, expires_at__gt=now
    ).order_by("reminder_due_at", "pk")
    for pk in reminders.values_list("pk", flat=True):
        if out_of_time():
            return result
        result.reminders += services.remind(pk, now=now)
    report = delivery.deliver_due(orchestra_name=orchestra_name, now=now, deadline=deadline)
    report = report + sms_delivery.deliver_due(now=now, deadline=deadline)
    result.sent, result.failed, result.deferred = report.sent, report.failed, report.deferred
    result.skipped, result.recovered = report.skipped, report.recovered
    result.unfinished = report.unfinished
    return result


def next_due() -> datetime.datetime | None:
    """The earliest time the bound orchestra has work: a reminder, a timeout or a message."""
    running = running_offers()
    times = [
        running.filter(reminder_sent_at__isnull=True).aggregate(t=Min("reminder_due_at"))["t"],
        running.aggregate(t=Min("expires_at"))["t"],
        delivery.next_due(),
    ]
    times = [t for t in times if t is not None]
    return min(times) if times else None


def run_due(now: datetime.datetime | None = None) -> PassReport:
    now = now or timezone.now()
    started = time.monotonic()
    pass_deadline = started + settings.SCHEDULER_PASS_BUDGET
    report = PassReport()
    for orchestra in due_orchestras(now):  # oldest due first
        if (report.orchestras or report.broken) and time.monotonic() >= pass_deadline:
            report.postponed.append(orchestra.subdomain)
            continue  # its due time is untouched, so it is first in the next pass
        seen = orchestra.next_due_at
        deadline = time.monotonic() + settings.SCHEDULER_ORCHESTRA_BUDGET
        try:
            with use_orchestra(orchestra):
                result = run_orchestra(orchestra.name, now, deadline)
                report.orchestras[orchestra.subdomain] = result
                upcoming = now if result.unfinished else next_due()
        except Exception as exc:
            logger.exception("scheduler pass failed for orchestra %s", orchestra.subdomain)
            report.broken[orchestra.subdomain] = f"{type(exc).__name__}: {exc}"
            upcoming = now + RETRY_BROKEN_AFTER
        else:
            if result.mail_trouble:
                logger.warning("orchestra %s: %s", orchestra.subdomain, result.describe())
        set_next_due(orchestra.pk, upcoming, seen=seen)
    report.seconds = time.monotonic() - started
    if report.postponed:
        logger.warning(
            "scheduler pass budget spent after %.1f s; %d orchestras postponed",
            report.seconds,
            len(report.postponed),
        )
    return report


@periodic_job("offers.scheduler", interval=lambda: settings.SCHEDULER_INTERVAL)
def _scheduler_job() -> str:
    return run_due().summary()

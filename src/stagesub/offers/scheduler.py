"""Reminders, timeouts and outbox delivery, for every orchestra that has something due.

The control database keeps a next-due time per orchestra (tenancy.due), so a pass opens only
the databases with work waiting: a pass over a thousand quiet orchestras is one indexed query.
Each orchestra runs in its own binding; one that fails (its database is down, say) is logged,
looked at again a minute later, and never stops the others.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from stagesub.messaging import delivery
from stagesub.offers import engine, services
from stagesub.offers.models import Offer
from stagesub.tenancy.binding import use_orchestra
from stagesub.tenancy.due import due_orchestras, set_next_due
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.scheduler")

RETRY_BROKEN_AFTER = datetime.timedelta(minutes=1)


@dataclass
class OrchestraPass:
    timeouts: int = 0
    reminders: int = 0
    sent: int = 0
    failed: int = 0


@dataclass
class PassReport:
    orchestras: dict[str, OrchestraPass] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        done = sum(p.sent for p in self.orchestras.values())
        parts = [f"{len(self.orchestras)} orchestras due, {done} messages sent"]
        if self.broken:
            parts.append("failed: " + ", ".join(sorted(self.broken)))
        return "; ".join(parts)


def run_orchestra(orchestra_name: str, now: datetime.datetime) -> OrchestraPass:
    """One pass over the bound orchestra: timeouts first (an expired offer gets no reminder),
    then reminders, then the outbox (which now holds what the first two queued)."""
    result = OrchestraPass()
    pending = Offer.objects.filter(status=engine.PENDING)
    for offer in pending.filter(expires_at__lte=now).order_by("expires_at", "pk"):
        if services.time_out(offer, now=now).decision.status_changes:
            result.timeouts += 1
    reminders = pending.filter(
        reminder_due_at__lte=now, reminder_sent_at__isnull=True, expires_at__gt=now
    ).order_by("reminder_due_at", "pk")
    for pk in reminders.values_list("pk", flat=True):
        result.reminders += services.remind(pk, now=now)
    report = delivery.deliver_due(orchestra_name=orchestra_name, now=now)
    result.sent, result.failed = report.sent, report.failed
    return result


def next_due() -> datetime.datetime | None:
    """The earliest time the bound orchestra has work: a reminder, a timeout or a message."""
    pending = Offer.objects.filter(status=engine.PENDING)
    times = [
        pending.filter(reminder_sent_at__isnull=True).aggregate(t=Min("reminder_due_at"))["t"],
        pending.aggregate(t=Min("expires_at"))["t"],
        delivery.next_due(),
    ]
    times = [t for t in times if t is not None]
    return min(times) if times else None


def run_due(now: datetime.datetime | None = None) -> PassReport:
    now = now or timezone.now()
    report = PassReport()
    for orchestra in due_orchestras(now):
        seen = orchestra.next_due_at
        try:
            with use_orchestra(orchestra):
                report.orchestras[orchestra.subdomain] = run_orchestra(orchestra.name, now)
                upcoming = next_due()
        except Exception as exc:
            logger.exception("scheduler pass failed for %s", orchestra.subdomain)
            report.broken[orchestra.subdomain] = f"{type(exc).__name__}: {exc}"
            upcoming = now + RETRY_BROKEN_AFTER
        set_next_due(orchestra.pk, upcoming, seen=seen)
    return report


@periodic_job("offers.scheduler", interval=lambda: settings.SCHEDULER_INTERVAL)
def _scheduler_job() -> str:
    return run_due().summary()

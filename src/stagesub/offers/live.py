"""What the project page shows of the offers, refreshed by htmx polling, and an offer's log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from stagesub.messaging.models import Message
from stagesub.offers import engine
from stagesub.offers.models import Offer, OfferEvent
from stagesub.projects.models import Need, Project
from stagesub.projects.services import requests_refused, staffing

TOAST_KINDS = {
    OfferEvent.Kind.ACCEPTED: "success",
    OfferEvent.Kind.DECLINED: "error",
    OfferEvent.Kind.TIMED_OUT: "warning",
}


@dataclass
class NeedRow:
    need: Need
    offers: list[Offer]

    def count(self, status: str) -> int:
        return sum(1 for o in self.offers if o.status == status)

    @property
    def accepted(self) -> int:
        return self.count(engine.ACCEPTED)

    @property
    def pending(self) -> int:
        return self.count(engine.PENDING)


@dataclass
class Toast:
    level: str
    text: str


@dataclass
class Panel:
    project: Project
    rows: list[NeedRow]
    last_event: int
    toasts: list[Toast] = field(default_factory=list)
    closed: str = ""  # why no request can be sent (archived, week over), or ""

    # The project's staffing as projects.services.staffing counts it: the one source of the
    # numbers the project page shows (only here, where they refresh).
    staffing: dict = field(default_factory=dict)


def panel(project: Project, *, since: int | None = None) -> Panel:
    needs = list(
        project.needs.exclude(status=Need.Status.ARCHIVED).select_related(
            "position__instrument", "ranking_list", "project_list"
        )
    )
    offers: dict[int, list[Offer]] = {}
    for offer in Offer.objects.filter(project=project).select_related("musician"):
        offers.setdefault(offer.need_id, []).append(offer)
    events = OfferEvent.objects.filter(offer__project=project)
    last = events.aggregate(m=Max("pk"))["m"] or 0
    result = Panel(
        project,
        [NeedRow(n, offers.get(n.pk, [])) for n in needs],
        last,
        closed=requests_refused(project, timezone.localdate()),
        staffing=staffing(project),
    )
    if since is not None and since < last:
        # Answers and timeouts since the page last looked: a toast each (external events;
        # the staff's own actions are confirmed by the page they made them on).
        for event in (
            events.filter(pk__gt=since, kind__in=list(TOAST_KINDS), by="")
            .select_related("offer__musician", "offer__need__position__instrument")
            .order_by("pk")[:10]
        ):
            offer = event.offer
            names = {"name": offer.musician.full_name, "position": str(offer.need.position)}
            text = {
                OfferEvent.Kind.ACCEPTED: _("%(name)s accepted the request for %(position)s"),
                OfferEvent.Kind.DECLINED: _("%(name)s declined the request for %(position)s"),
                OfferEvent.Kind.TIMED_OUT: _("%(name)s did not answer in time (%(position)s)"),
            }[event.kind] % names
            result.toasts.append(Toast(TOAST_KINDS[event.kind], text))
    return result


@dataclass
class LogLine:
    at: datetime
    text: str
    by: str = ""
    message: Message | None = None


def log_of(offer: Offer) -> list[LogLine]:
    """Every event and every message of the offer, oldest first."""
    lines = [LogLine(e.at, e.get_kind_display(), e.by) for e in offer.events.all()]
    for message in offer.messages.all():
        if message.status == Message.Status.SENT:
            text = _("E-mail delivered to the mail server: %(subject)s")
        elif message.attempts:
            text = _("E-mail not yet delivered (%(attempts)s attempts): %(subject)s")
        else:
            text = _("E-mail queued: %(subject)s")
        when = message.sent_at or message.created_at
        lines.append(
            LogLine(
                when,
                text % {"subject": message.subject, "attempts": message.attempts},
                message=message,
            )
        )
    return sorted(lines, key=lambda line: line.at)

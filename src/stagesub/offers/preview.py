"""The dry run: who would be asked if staff pressed send now, and why everyone else is not.

It runs the same selection and the same engine as sending, over the needs in processing order,
carrying forward who an earlier need would ask (so the project preview shows what a project-wide
send will do), and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import formats
from django.utils.translation import gettext as _

from stagesub.offers import engine, selection, services
from stagesub.offers.models import Offer
from stagesub.orchestra.models import OrchestraSettings
from stagesub.projects.models import Need, Project
from stagesub.projects.weeks import period_label
from stagesub.roster.models import Musician

QUEUE_SHOWN = 5


@dataclass
class Line:
    musician: Musician
    rank: int
    reason: str
    explanation: str


@dataclass
class NeedPreview:
    need: Need
    accepted: int
    pending: int
    to_ask: list[Musician] = field(default_factory=list)
    queue: list[Musician] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    skipped: str = ""  # why nothing is sent for this need (paused, filled)

    @property
    def remaining(self) -> int:
        return max(0, self.need.quantity - self.accepted)

    @property
    def strategy_text(self) -> str:
        need = self.need
        if need.strategy == Need.Strategy.SEQUENTIAL:
            return _("One musician at a time, in rank order, until every seat is filled.")
        if need.strategy == Need.Strategy.PARALLEL:
            return _(
                "%(n)s musicians are asked at once; each no is replaced by the next on the list."
            ) % {"n": self.remaining}
        return _(
            "Up to %(n)s musicians are asked at once; the first to answer yes get the seats."
        ) % {"n": need.max_recipients or _("all")}


def _busy_text(booking: selection.Booking | None) -> str:
    if booking is None:
        return ""
    return _("Already booked in %(project)s, %(period)s (%(status)s)") % {
        "project": booking.label,
        "period": period_label(booking.start, booking.end),
        "status": Offer.Status(booking.status).label,
    }


def _away_text(verdict: selection.Verdict) -> str:
    if verdict.away is None:
        return ""
    first, last = (formats.date_format(day, "SHORT_DATE_FORMAT") for day in verdict.away)
    return _("Unavailable %(first)s–%(last)s (said so on their page)") % {
        "first": first,
        "last": last,
    }


def _explain(verdict: selection.Verdict, needs: dict[int, Need]) -> str:
    other = needs.get(verdict.other_need)
    other_label = f"{other.need_id} {other.position}" if other else ""
    return {
        selection.INACTIVE: _("Inactive or archived"),
        selection.NOT_QUALIFIED: _("No longer qualified for the position"),
        selection.NOT_LOCAL: _("Not a local resident"),
        selection.UNAVAILABLE: _away_text(verdict),
        selection.HAS_OFFER: _("Already has a request in this project (%(status)s, %(need)s)")
        % {
            "status": Offer.Status(verdict.offer_status).label if verdict.offer_status else "",
            "need": other_label,
        },
        selection.BUSY_ELSEWHERE: _busy_text(verdict.booking),
        selection.KEPT_FOR_OTHER_NEED: _("Kept for %(need)s, where they are ranked higher")
        % {"need": other_label},
        selection.CHOSEN_FOR_OTHER_NEED: _("Will be asked for %(need)s") % {"need": other_label},
        selection.CANDIDATE: _("Can be asked"),
    }[verdict.reason]


def preview(project: Project, *, only: Need | None = None) -> list[NeedPreview]:
    rule = OrchestraSettings.current().conflict_rule
    facts = services.project_facts(project, rule=rule)
    needs = {n.pk: n for n in services.project_needs(project)}
    views = {v.need_id: v for v in facts.needs}
    statuses = {}
    for need_pk, musician, status in Offer.objects.filter(project=project).values_list(
        "need_id", "musician_id", "status"
    ):
        statuses.setdefault(need_pk, []).append((musician, status))
    musicians = Musician.objects.in_bulk({m.musician_id for v in facts.needs for m in v.members})
    chosen: dict[int, int] = {}
    out = []
    for need_pk, need in needs.items():
        if only is not None and need_pk != only.pk:
            continue  # a single need's send does not send the others first
        offers = statuses.get(need_pk, [])
        accepted = sum(1 for _m, s in offers if s == engine.ACCEPTED)
        pending = sum(1 for _m, s in offers if s == engine.PENDING)
        result = NeedPreview(need, accepted, pending)
        verdicts = selection.verdicts(views[need_pk], facts, chosen_elsewhere=chosen)
        result.lines = [
            Line(musicians[v.member.musician_id], v.member.rank, v.reason, _explain(v, needs))
            for v in verdicts
        ]
        candidates = tuple(
            v.member.musician_id for v in verdicts if v.reason == selection.CANDIDATE
        )
        if need.status == Need.Status.PAUSED:
            result.skipped = _("Paused: nothing is sent.")
        elif need.status == Need.Status.COMPLETED or accepted >= need.quantity:
            result.skipped = _("Filled.")
        else:
            state = engine.NeedState(
                quantity=need.quantity,
                strategy=need.strategy,
                offers=tuple(engine.Offer(i, m, s) for i, (m, s) in enumerate(offers)),
                candidates=candidates,
                max_recipients=need.max_recipients,
            )
            ask = engine.decide(state, engine.Send()).ask
            for musician in ask:
                chosen[musician] = need_pk
            result.to_ask = [musicians[m] for m in ask]
            result.queue = [musicians[m] for m in candidates if m not in ask][:QUEUE_SHOWN]
        out.append(result)
    return out


@dataclass
class QuantityPreview:
    """What changing a need's seats would do: who is withdrawn, told the seats are filled,
    or asked, and the digest a confirmation must carry (services.fingerprint)."""

    need: Need
    quantity: int
    refused: str
    withdrawn: list[Musician] = field(default_factory=list)
    filled: list[Musician] = field(default_factory=list)
    asked: list[Musician] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def sends_nothing(self) -> bool:
        return not (self.withdrawn or self.filled or self.asked)


def quantity_preview(need: Need, quantity: int) -> QuantityPreview:
    decision = services.quantity_decision(need, quantity)
    offers = Offer.objects.select_related("musician").in_bulk(
        [n.offer_id for n in decision.notices]
    )
    result = QuantityPreview(
        need, quantity, decision.refused, fingerprint=services.fingerprint(decision)
    )
    for notice in decision.notices:
        target = result.filled if notice.kind == "position_filled" else result.withdrawn
        target.append(offers[notice.offer_id].musician)
    asked = Musician.objects.in_bulk(decision.ask)
    result.asked = [asked[m] for m in decision.ask]
    return result

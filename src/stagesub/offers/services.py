"""Carrying out the engine's decisions on the database, one need at a time, under a row lock.

Every action (send, answer, timeout, withdraw, quantity change) is one transaction on the
bound orchestra's database that first locks the need row (SELECT ... FOR UPDATE on PostgreSQL;
SQLite transactions are IMMEDIATE, so they serialise on the write lock), then reads the need's
state, asks the pure engine what to do, and writes the result. Two musicians answering yes to
the last seat at once are therefore handled one after the other: exactly one gets it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from stagesub.offers import engine
from stagesub.offers.models import Offer
from stagesub.orchestra.ids import next_readable_id
from stagesub.projects.models import Need
from stagesub.projects.services import available_musicians
from stagesub.tenancy.context import orchestra_atomic


@dataclass
class Outcome:
    decision: engine.Decision
    created: list[Offer]


def _state(need: Need) -> engine.NeedState:
    offers = tuple(engine.Offer(o.pk, o.musician_id, o.status) for o in need.offers.order_by("pk"))
    candidates = tuple(
        m.pk
        for m in available_musicians(
            need.project, need.chosen_list, local_only=need.require_local_residence
        )
    )
    return engine.NeedState(
        quantity=need.quantity,
        strategy=need.strategy,
        offers=offers,
        candidates=candidates,
        max_recipients=need.max_recipients,
        paused=need.status == Need.Status.PAUSED,
    )


def _locked_need(need_pk: int) -> Need:
    # Lock the need row only (its optional lists are joined, and may be NULL).
    return (
        Need.objects.select_for_update(of=("self",))
        .select_related("project", "ranking_list", "project_list")
        .get(pk=need_pk)
    )


def _carry_out(need: Need, decision: engine.Decision, now: datetime.datetime) -> list[Offer]:
    for offer_pk, status in decision.status_changes:
        Offer.objects.filter(pk=offer_pk).update(
            status=status, answered_at=now if status != engine.WITHDRAWN else None
        )
    if decision.quantity is not None:
        need.quantity = decision.quantity
    if decision.need_filled is True:
        need.status = Need.Status.COMPLETED
    elif decision.need_filled is False and need.status == Need.Status.COMPLETED:
        need.status = Need.Status.ACTIVE
    need.save(update_fields=["quantity", "status"])
    expires = now + datetime.timedelta(hours=need.response_time_hours)
    return [
        Offer.objects.create(
            offer_id=next_readable_id("REQ"),
            need=need,
            project=need.project,
            musician_id=musician_pk,
            sent_at=now,
            expires_at=expires,
        )
        for musician_pk in decision.ask
    ]


def _act(need_pk: int, event_for, now: datetime.datetime | None = None) -> Outcome:
    now = now or timezone.now()
    with orchestra_atomic():
        need = _locked_need(need_pk)
        state = _state(need)
        event = event_for(need)
        decision = engine.decide(state, event)
        created = _carry_out(need, decision, now)
    return Outcome(decision, created)


def send(need: Need, *, now: datetime.datetime | None = None) -> Outcome:
    return _act(need.pk, lambda _need: engine.Send(), now)


def answer(offer: Offer, *, accepted: bool, now: datetime.datetime | None = None) -> Outcome:
    return _act(offer.need_id, lambda _need: engine.Answered(offer.pk, accepted), now)


def time_out(offer: Offer, *, now: datetime.datetime | None = None) -> Outcome:
    return _act(offer.need_id, lambda _need: engine.TimedOut(offer.pk), now)


def withdraw(offer: Offer, *, now: datetime.datetime | None = None) -> Outcome:
    return _act(offer.need_id, lambda _need: engine.Withdrawn(offer.pk), now)


def change_quantity(need: Need, quantity: int, *, now: datetime.datetime | None = None) -> Outcome:
    return _act(need.pk, lambda _need: engine.QuantityChanged(quantity), now)

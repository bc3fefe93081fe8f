"""Pure decision core of the offer engine: a need's state plus an event in, actions out.

No database, no clock, no I/O: the caller loads the state under a row lock, calls `decide`,
and carries out the Decision in the same transaction (offers, outbox messages, need status).

Strategies (DESIGN.md section 3):
* sequential: one open offer at a time, in rank order, until every seat is filled;
* parallel: keep accepted + pending = quantity while candidates last; a no is replaced at once;
* first come: one batch to the top `max_recipients` (or everyone); the first yeses win; when the
  seats are filled the rest are withdrawn and told; no refill while a batch is outstanding.

A paused need sends nothing new and replaces nobody; answers to offers already out still count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

PENDING, ACCEPTED, DECLINED, TIMED_OUT, WITHDRAWN = (
    "pending",
    "accepted",
    "declined",
    "timed_out",
    "withdrawn",
)
# Offers that keep a musician from being asked again in the same project.
BLOCKING = frozenset({PENDING, ACCEPTED, DECLINED, TIMED_OUT})
SEQUENTIAL, PARALLEL, FIRST_COME = "sequential", "parallel", "first_come"


@dataclass(frozen=True)
class Offer:
    offer_id: int
    musician_id: int
    status: str


@dataclass(frozen=True)
class NeedState:
    quantity: int
    strategy: str
    offers: tuple[Offer, ...] = ()
    # Eligible musicians in rank order, already filtered project-wide by the caller (active,
    # qualified, local if required, no blocking offer anywhere in the project).
    candidates: tuple[int, ...] = ()
    max_recipients: int | None = None
    paused: bool = False

    def count(self, status: str) -> int:
        return sum(1 for o in self.offers if o.status == status)

    @property
    def accepted(self) -> int:
        return self.count(ACCEPTED)

    @property
    def pending(self) -> int:
        return self.count(PENDING)


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Start or continue asking (the staff's "send", or a resumed need)."""


@dataclass(frozen=True)
class Answered:
    offer_id: int
    accepted: bool


@dataclass(frozen=True)
class TimedOut:
    offer_id: int


@dataclass(frozen=True)
class Withdrawn:
    """Staff withdrew a pending offer (the musician is told)."""

    offer_id: int


@dataclass(frozen=True)
class QuantityChanged:
    quantity: int


Event = Send | Answered | TimedOut | Withdrawn | QuantityChanged


# --- decisions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    kind: str  # "confirmation" | "position_filled" | "withdrawn"
    offer_id: int


@dataclass(frozen=True)
class Decision:
    status_changes: tuple[tuple[int, str], ...] = ()  # (offer_id, new status)
    ask: tuple[int, ...] = ()  # musician ids to send new offers to, in rank order
    notices: tuple[Notice, ...] = ()
    need_filled: bool | None = None  # True: filled now; False: open again; None: unchanged
    refused: str = ""  # why the event changed nothing ("not_pending", "filled", "below_accepted")
    quantity: int | None = None


def decide(state: NeedState, event: Event) -> Decision:
    if isinstance(event, Send):
        return Decision(ask=_to_ask(state))
    if isinstance(event, QuantityChanged):
        return _quantity_changed(state, event.quantity)
    offer = next((o for o in state.offers if o.offer_id == event.offer_id), None)
    if offer is None or offer.status != PENDING:
        # A second click, an expired or withdrawn offer: nothing changes. A late yes on a need
        # that is already filled is told so (not an error) by the caller.
        filled = state.accepted >= state.quantity
        return Decision(refused="filled" if filled else "not_pending")
    if isinstance(event, Answered) and event.accepted:
        return _accepted(state, offer)
    if isinstance(event, (Answered, TimedOut)):
        new = DECLINED if isinstance(event, Answered) else TIMED_OUT
        after = _with_status(state, offer.offer_id, new)
        return Decision(status_changes=((offer.offer_id, new),), ask=_to_ask(after))
    assert isinstance(event, Withdrawn)
    after = _with_status(state, offer.offer_id, WITHDRAWN)
    # The musician just withdrawn is not asked again by the refill this same decision makes.
    after = replace(after, candidates=tuple(c for c in after.candidates if c != offer.musician_id))
    return Decision(
        status_changes=((offer.offer_id, WITHDRAWN),),
        notices=(Notice("withdrawn", offer.offer_id),),
        ask=_to_ask(after),
    )


def _accepted(state: NeedState, offer: Offer) -> Decision:
    if state.accepted >= state.quantity:
        # Seats already taken (e.g. quantity lowered meanwhile): the yes cannot be honoured.
        return Decision(
            status_changes=((offer.offer_id, WITHDRAWN),),
            notices=(Notice("position_filled", offer.offer_id),),
            refused="filled",
        )
    after = _with_status(state, offer.offer_id, ACCEPTED)
    changes = [(offer.offer_id, ACCEPTED)]
    notices = [Notice("confirmation", offer.offer_id)]
    if after.accepted >= after.quantity:
        for other in after.offers:
            if other.status == PENDING:
                changes.append((other.offer_id, WITHDRAWN))
                notices.append(Notice("position_filled", other.offer_id))
        return Decision(status_changes=tuple(changes), notices=tuple(notices), need_filled=True)
    return Decision(status_changes=tuple(changes), notices=tuple(notices), ask=_to_ask(after))


def _quantity_changed(state: NeedState, quantity: int) -> Decision:
    if quantity < max(1, state.accepted):
        return Decision(refused="below_accepted")
    after = replace(state, quantity=quantity)
    if after.accepted >= quantity:
        changes = tuple((o.offer_id, WITHDRAWN) for o in after.offers if o.status == PENDING)
        notices = tuple(Notice("position_filled", oid) for oid, _ in changes)
        return Decision(
            status_changes=changes, notices=notices, need_filled=True, quantity=quantity
        )
    surplus = ()
    if after.strategy == PARALLEL and after.accepted + after.pending > quantity:
        # Fewer seats than offers out: withdraw the lowest-ranked pending offers.
        pending = [o for o in after.offers if o.status == PENDING]
        surplus = tuple(o.offer_id for o in pending[quantity - after.accepted :])
        after = replace(
            after,
            offers=tuple(
                replace(o, status=WITHDRAWN) if o.offer_id in surplus else o for o in after.offers
            ),
        )
    return Decision(
        status_changes=tuple((oid, WITHDRAWN) for oid in surplus),
        notices=tuple(Notice("withdrawn", oid) for oid in surplus),
        ask=_to_ask(after),
        need_filled=False if state.accepted >= state.quantity else None,
        quantity=quantity,
    )


def _with_status(state: NeedState, offer_id: int, status: str) -> NeedState:
    return replace(
        state,
        offers=tuple(
            replace(o, status=status) if o.offer_id == offer_id else o for o in state.offers
        ),
    )


def _to_ask(state: NeedState) -> tuple[int, ...]:
    """Who to ask now, by strategy; nobody while paused or filled."""
    remaining = state.quantity - state.accepted
    if state.paused or remaining <= 0:
        return ()
    asked = {o.musician_id for o in state.offers if o.status in BLOCKING}
    available = [c for c in dict.fromkeys(state.candidates) if c not in asked]
    if state.strategy == SEQUENTIAL:
        count = 1 if state.pending == 0 else 0
    elif state.strategy == PARALLEL:
        count = remaining - state.pending
    elif state.strategy == FIRST_COME:
        count = 0 if state.pending else (state.max_recipients or len(available))
    else:
        raise ValueError(f"unknown strategy {state.strategy!r}")
    return tuple(available[: max(0, count)])


def would_ask(state: NeedState, event: Event) -> bool:
    """Whether deciding `event` could ask anyone, whoever the candidates turn out to be.

    Lets the caller skip reading candidates (the costliest part of the state) for the many
    events that ask nobody: a yes, a no on a first-come batch, a late answer. Decides against
    stand-in candidates (negative ids, never a musician) enough to fill any request.
    """
    stand_ins = tuple(range(-1, -(state.quantity + (state.max_recipients or 0) + 2), -1))
    return bool(decide(replace(state, candidates=stand_ins), event).ask)


def apply(state: NeedState, decision: Decision, next_offer_id: int) -> NeedState:
    """The state after carrying out `decision` (what the database layer does, in memory).

    New offers get ids next_offer_id, next_offer_id + 1, ...; asked musicians leave the
    candidate list (they now hold a blocking offer in the project).
    """
    changes = dict(decision.status_changes)
    offers = [replace(o, status=changes.get(o.offer_id, o.status)) for o in state.offers]
    offers += [Offer(next_offer_id + i, m, PENDING) for i, m in enumerate(decision.ask)]
    candidates = tuple(c for c in state.candidates if c not in set(decision.ask))
    quantity = decision.quantity if decision.quantity is not None else state.quantity
    return replace(state, offers=tuple(offers), candidates=candidates, quantity=quantity)


__all__ = [
    "ACCEPTED",
    "DECLINED",
    "FIRST_COME",
    "PARALLEL",
    "PENDING",
    "SEQUENTIAL",
    "TIMED_OUT",
    "WITHDRAWN",
    "Answered",
    "Decision",
    "NeedState",
    "Notice",
    "Offer",
    "QuantityChanged",
    "Send",
    "TimedOut",
    "Withdrawn",
    "apply",
    "decide",
    "would_ask",
]

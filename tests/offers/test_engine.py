"""The offer engine's decision core: examples, then invariants over random event sequences."""

from collections import Counter
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from stagesub.offers.engine import (
    ACCEPTED,
    BLOCKING,
    FIRST_COME,
    PARALLEL,
    PENDING,
    SEQUENTIAL,
    WITHDRAWN,
    Answered,
    NeedState,
    Notice,
    Offer,
    QuantityChanged,
    Send,
    TimedOut,
    Withdrawn,
    apply,
    decide,
    would_ask,
)


def run(state, event, next_id=100):
    decision = decide(state, event)
    return apply(state, decision, next_id), decision


def test_sequential_asks_one_at_a_time_for_several_seats():
    state = NeedState(quantity=2, strategy=SEQUENTIAL, candidates=(1, 2, 3, 4))
    state, d = run(state, Send(), 1)
    assert d.ask == (1,)
    state, d = run(state, Answered(1, accepted=False), 2)
    assert d.ask == (2,)
    state, d = run(state, Answered(2, accepted=True), 3)
    assert d.ask == (3,) and d.notices == (Notice("confirmation", 2),)
    state, d = run(state, TimedOut(3), 4)
    assert d.ask == (4,)
    state, d = run(state, Answered(4, accepted=True), 5)
    assert d.need_filled is True and state.accepted == 2


def test_parallel_replaces_a_no_but_not_a_yes():
    state, d = run(NeedState(quantity=2, strategy=PARALLEL, candidates=(1, 2, 3, 4)), Send(), 1)
    assert d.ask == (1, 2)
    state, d = run(state, Answered(1, accepted=True), 3)
    assert d.ask == ()
    state, d = run(state, Answered(2, accepted=False), 3)
    assert d.ask == (3,)


def test_first_come_batch_then_filled_withdraws_the_rest():
    state, d = run(
        NeedState(quantity=1, strategy=FIRST_COME, max_recipients=3, candidates=(1, 2, 3, 4)),
        Send(),
        1,
    )
    assert d.ask == (1, 2, 3)
    state, d = run(state, Answered(1, accepted=False), 4)
    assert d.ask == ()  # no refill while the batch is out
    state, d = run(state, Answered(2, accepted=True), 4)
    assert (
        d.need_filled
        and (3, WITHDRAWN) in d.status_changes
        and Notice("position_filled", 3) in d.notices
    )
    # a late yes is told the seat is filled, nothing else changes
    late = decide(state, Answered(3, accepted=True))
    assert late.refused == "filled" and late.status_changes == ()


def test_second_answer_and_unknown_offer_change_nothing():
    state, _ = run(NeedState(quantity=1, strategy=SEQUENTIAL, candidates=(1, 2)), Send(), 1)
    state, _ = run(state, Answered(1, accepted=False), 2)
    assert decide(state, Answered(1, accepted=True)).refused == "not_pending"
    assert decide(state, Answered(99, accepted=True)).refused == "not_pending"


def test_paused_need_replaces_nobody_but_answers_count():
    state, _ = run(NeedState(quantity=2, strategy=PARALLEL, candidates=(1, 2, 3)), Send(), 1)
    paused = NeedState(**{**state.__dict__, "paused": True})
    after, d = run(paused, Answered(1, accepted=False), 4)
    assert d.ask == () and after.count("declined") == 1
    assert decide(paused, Send()).ask == ()


def test_quantity_raised_on_filled_need_reopens_and_asks():
    state, _ = run(NeedState(quantity=1, strategy=SEQUENTIAL, candidates=(1, 2)), Send(), 1)
    state, d = run(state, Answered(1, accepted=True), 2)
    assert d.need_filled
    state, d = run(state, QuantityChanged(2), 2)
    assert d.need_filled is False and d.ask == (2,)
    assert decide(state, QuantityChanged(0)).refused == "below_accepted"


def test_musicians_with_an_offer_are_skipped_even_if_listed():
    state = NeedState(
        quantity=1, strategy=SEQUENTIAL, candidates=(1, 2), offers=(Offer(1, 1, "declined"),)
    )
    assert decide(state, Send()).ask == (2,)


def test_withdrawn_musician_is_not_reasked_at_once():
    state, _ = run(NeedState(quantity=1, strategy=SEQUENTIAL, candidates=(1, 2)), Send(), 1)
    state = NeedState(
        **{**state.__dict__, "candidates": (1, 2)}
    )  # the caller lists withdrawn ones again
    _, d = run(state, Withdrawn(1), 2)
    assert d.ask == (2,) and Notice("withdrawn", 1) in d.notices


# --- invariants over random sequences -------------------------------------------------------


@st.composite
def scenarios(draw):
    strategy = draw(st.sampled_from([SEQUENTIAL, PARALLEL, FIRST_COME]))
    quantity = draw(st.integers(min_value=2 if strategy == PARALLEL else 1, max_value=5))
    max_recipients = (
        draw(st.one_of(st.none(), st.integers(min_value=quantity, max_value=8)))
        if strategy == FIRST_COME
        else None
    )
    candidates = tuple(range(1, draw(st.integers(min_value=0, max_value=12)) + 1))
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["yes", "no", "timeout", "withdraw", "quantity", "pause", "send"]),
                st.integers(min_value=0, max_value=20),
            ),
            max_size=40,
        )
    )
    return NeedState(
        quantity=quantity, strategy=strategy, candidates=candidates, max_recipients=max_recipients
    ), steps


def check(state, before, decision):
    assert state.accepted <= state.quantity
    live = Counter(o.musician_id for o in state.offers if o.status in BLOCKING)
    assert all(n == 1 for n in live.values()), "a musician holds two offers in the project"
    asked_before = {o.musician_id for o in before.offers if o.status in BLOCKING}
    assert not set(decision.ask) & asked_before, "asked someone who already has an offer"
    if before.paused:
        assert decision.ask == (), "a paused need sent something"
    if state.strategy == SEQUENTIAL:
        assert state.pending <= 1
    if state.strategy == FIRST_COME and decision.ask:
        changed = {offer_id for offer_id, _ in decision.status_changes}
        still_out = [o for o in before.offers if o.status == PENDING and o.offer_id not in changed]
        assert not still_out, "first come sent a new batch while the last one was still out"


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_invariants_hold_for_any_sequence_of_events(scenario):
    state, steps = scenario
    everyone = (
        state.candidates
    )  # the whole ranking list: the engine must skip who already has an offer
    next_id, started = 1, False
    state, decision = run(state, Send(), next_id)
    next_id += len(decision.ask)
    started = True
    for kind, pick in steps:
        pending = [o for o in state.offers if o.status == PENDING]
        before = state
        if kind == "pause":
            state = NeedState(**{**state.__dict__, "paused": not state.paused})
            if not state.paused:  # resuming continues asking, as the caller does
                state, decision = run(state, Send(), next_id)
                next_id += len(decision.ask)
            continue
        if kind == "send":
            event = Send()
        elif kind == "quantity":
            event = QuantityChanged(max(state.accepted, 1) + pick % 4)
        elif not pending:
            continue
        else:
            offer = pending[pick % len(pending)]
            event = {
                "yes": Answered(offer.offer_id, True),
                "no": Answered(offer.offer_id, False),
                "timeout": TimedOut(offer.offer_id),
                "withdraw": Withdrawn(offer.offer_id),
            }[kind]
        before = state = NeedState(**{**state.__dict__, "candidates": everyone})
        decision = decide(state, event)
        # Reading candidates is skipped when would_ask says no: that must never change the
        # outcome, and nothing but `ask` may depend on the candidates.
        blind = replace(state, candidates=())
        if not would_ask(blind, event):
            assert decision.ask == ()
        assert replace(decide(blind, event), ask=()) == replace(decision, ask=())
        state = apply(state, decision, next_id)
        next_id += len(decision.ask)
        check(state, before, decision)
        if state.strategy == PARALLEL and started and not state.paused and not decision.refused:
            # accepted + pending = quantity while candidates remain
            asked = {o.musician_id for o in state.offers if o.status in BLOCKING}
            if isinstance(event, Withdrawn):  # the musician just withdrawn waits for the next round
                asked |= {o.musician_id for o in before.offers if o.offer_id == event.offer_id}
            left = [c for c in everyone if c not in asked]
            if left:
                assert state.accepted + state.pending == state.quantity
    assert state.count(ACCEPTED) <= state.quantity


def test_yes_beyond_the_seats_is_never_accepted():
    # A state the engine itself never leaves behind, but a stale read could present.
    state = NeedState(
        quantity=1, strategy=PARALLEL, offers=(Offer(1, 1, ACCEPTED), Offer(2, 2, PENDING))
    )
    decision = decide(state, Answered(2, accepted=True))
    assert decision.refused == "filled"
    assert decision.status_changes == ((2, WITHDRAWN),) and decision.notices == (
        Notice("position_filled", 2),
    )

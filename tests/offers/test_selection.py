"""Candidate selection: the project-wide rules and the simple/smart conflict setting (pure)."""

from __future__ import annotations

import datetime

from hypothesis import given
from hypothesis import strategies as st

from stagesub.offers import selection as sel


def member(pk, rank, active=True, qualified=True, local=True):
    return sel.Member(pk, rank, active, qualified, local)


def need(pk, members, hierarchy=1, require_local=False, open=True):
    return sel.NeedView(pk, (1, hierarchy, pk), hierarchy, tuple(members), require_local, open)


def test_project_rules_exclude_with_reasons():
    n = need(
        1,
        [
            member(1, 1, active=False),
            member(2, 2, qualified=False),
            member(3, 3, local=False),
            member(4, 4),
            member(5, 5),
        ],
        require_local=True,
    )
    facts = sel.ProjectFacts(blocking={4: ("declined", 9)}, needs=(n,))
    reasons = {
        v.member.musician_id: (v.reason, v.offer_status, v.other_need)
        for v in sel.verdicts(n, facts)
    }
    assert reasons == {
        1: (sel.INACTIVE, "", None),
        2: (sel.NOT_QUALIFIED, "", None),
        3: (sel.NOT_LOCAL, "", None),
        4: (sel.HAS_OFFER, "declined", 9),
        5: (sel.CANDIDATE, "", None),
    }
    assert sel.candidates(n, facts) == (5,)


def test_simple_lets_every_need_consider_a_shared_musician():
    first = need(1, [member(7, 3), member(8, 4)])
    second = need(2, [member(7, 1), member(9, 2)], hierarchy=2)
    facts = sel.ProjectFacts(needs=(first, second), rule=sel.SIMPLE)
    assert sel.candidates(first, facts) == (7, 8)
    assert sel.candidates(second, facts) == (7, 9)


def test_smart_keeps_a_shared_musician_for_the_need_where_ranked_best():
    first = need(1, [member(7, 3), member(8, 4)])
    second = need(2, [member(7, 1), member(9, 2)], hierarchy=2)
    facts = sel.ProjectFacts(needs=(first, second), rule=sel.SMART)
    assert sel.candidates(first, facts) == (8,)
    assert sel.candidates(second, facts) == (7, 9)
    kept = next(v for v in sel.verdicts(first, facts) if v.member.musician_id == 7)
    assert (kept.reason, kept.other_need) == (sel.KEPT_FOR_OTHER_NEED, 2)


def test_smart_tie_goes_to_the_more_senior_position():
    junior = need(1, [member(7, 1)], hierarchy=3)
    senior = need(2, [member(7, 1)], hierarchy=1)
    facts = sel.ProjectFacts(needs=(junior, senior), rule=sel.SMART)
    assert sel.candidates(senior, facts) == (7,) and sel.candidates(junior, facts) == ()


def test_smart_never_starves_a_musician_with_a_filled_need():
    filled = need(1, [member(7, 1)], open=False)
    other = need(2, [member(7, 5)])
    facts = sel.ProjectFacts(needs=(filled, other), rule=sel.SMART)
    assert sel.candidates(other, facts) == (7,)


def test_smart_ignores_a_need_the_musician_could_not_be_asked_for():
    local_only = need(1, [member(7, 1, local=False)], require_local=True)
    other = need(2, [member(7, 5, local=False)])
    facts = sel.ProjectFacts(needs=(local_only, other), rule=sel.SMART)
    assert sel.candidates(other, facts) == (7,)


def test_an_unavailable_musician_is_skipped_with_the_period():
    n = need(1, [member(1, 1), member(2, 2)])
    period = (datetime.date(2027, 3, 1), datetime.date(2027, 3, 7))
    facts = sel.ProjectFacts(needs=(n,), away={1: period})
    first = sel.verdicts(n, facts)[0]
    assert (first.reason, first.away) == (sel.UNAVAILABLE, period)
    assert sel.candidates(n, facts) == (2,)


def test_smart_does_not_keep_an_unavailable_musician_for_another_need():
    first = need(1, [member(7, 3)])
    second = need(2, [member(7, 1)], hierarchy=2)
    day = datetime.date(2027, 3, 1)
    facts = sel.ProjectFacts(needs=(first, second), rule=sel.SMART, away={7: (day, day)})
    assert sel.smart_homes(facts) == {}


def test_away_during_picks_the_earliest_overlapping_period():
    d = datetime.date
    periods = {
        1: [(d(2027, 3, 6), d(2027, 3, 9)), (d(2027, 3, 1), d(2027, 3, 2))],
        2: [(d(2027, 2, 1), d(2027, 2, 28))],
        3: [(d(2027, 3, 7), d(2027, 3, 7))],
    }
    assert sel.away_during(periods, d(2027, 3, 1), d(2027, 3, 7)) == {
        1: (d(2027, 3, 1), d(2027, 3, 2)),
        3: (d(2027, 3, 7), d(2027, 3, 7)),
    }


@st.composite
def projects(draw):
    musicians = list(range(1, draw(st.integers(1, 8)) + 1))
    needs = []
    for pk in range(1, draw(st.integers(1, 4)) + 1):
        chosen = draw(st.lists(st.sampled_from(musicians), unique=True, max_size=len(musicians)))
        members = [
            member(m, rank, draw(st.booleans()), draw(st.booleans()), draw(st.booleans()))
            for rank, m in enumerate(chosen, start=1)
        ]
        needs.append(
            need(pk, members, draw(st.integers(1, 3)), draw(st.booleans()), draw(st.booleans()))
        )
    blocking = {m: ("pending", 1) for m in draw(st.lists(st.sampled_from(musicians), unique=True))}
    rule = draw(st.sampled_from([sel.SIMPLE, sel.SMART]))
    # This project and other projects' bookings, as day numbers in one month: some overlap,
    # some touch on a single day, some lie before or after.
    start = draw(st.integers(1, 20))
    period = (DAY0 + datetime.timedelta(start), DAY0 + datetime.timedelta(start + draw(days)))
    bookings = {}
    for m in draw(st.lists(st.sampled_from(musicians), unique=True)):
        bookings[m] = tuple(
            sel.Booking(
                project_id=100 + i,
                label=f"PROJ{100 + i}",
                start=DAY0 + datetime.timedelta(first),
                end=DAY0 + datetime.timedelta(first + draw(days)),
                status=draw(st.sampled_from(["pending", "accepted"])),
            )
            for i, first in enumerate(draw(st.lists(st.integers(0, 30), min_size=1, max_size=3)))
        )
    day = datetime.date(2027, 3, 1)
    away = {m: (day, day) for m in draw(st.lists(st.sampled_from(musicians), unique=True))}
    return sel.ProjectFacts(
        blocking=blocking,
        needs=tuple(needs),
        rule=rule,
        period=period,
        bookings=bookings,
        away=away,
    )


DAY0 = datetime.date(2027, 3, 1)
days = st.integers(0, 9)  # a project's length minus one


def overlapping(facts, musician):
    start, end = facts.period
    return [b for b in facts.bookings.get(musician, ()) if b.start <= end and start <= b.end]


@given(projects())
def test_candidates_always_obey_the_rules(facts):
    seen_in_open_needs: dict[int, int] = {}
    for n in facts.needs:
        members = {m.musician_id: m for m in n.members}
        chosen = sel.candidates(n, facts)
        # in rank order, and only people who may be asked at all
        assert list(chosen) == [m.musician_id for m in n.members if m.musician_id in chosen]
        for pk in chosen:
            m = members[pk]
            assert m.active and m.qualified and (m.local or not n.require_local)
            assert pk not in facts.blocking
            # no double-booking: nobody booked in another project on any of these days
            assert not overlapping(facts, pk)
            assert pk not in facts.away  # they said they cannot play then
            if facts.rule == sel.SMART and n.open:
                seen_in_open_needs[pk] = seen_in_open_needs.get(pk, 0) + 1
        # everyone left out for another booking is named with an overlapping one
        for v in sel.verdicts(n, facts):
            if v.reason == sel.BUSY_ELSEWHERE:
                assert v.booking in overlapping(facts, v.member.musician_id)
            elif v.reason == sel.CANDIDATE:
                assert not overlapping(facts, v.member.musician_id)
    # smart: a musician is a candidate in at most one open need of the project
    assert all(count == 1 for count in seen_in_open_needs.values())


def test_a_musician_booked_in_an_overlapping_project_is_not_asked():
    n = need(1, [member(1, 1), member(2, 2), member(3, 3), member(4, 4)])
    march = (datetime.date(2027, 3, 8), datetime.date(2027, 3, 14))
    booked = {
        # the last day of the other project is the first of this one
        1: (sel.Booking(7, "PROJ007 Verdi", datetime.date(2027, 3, 1), march[0], "accepted"),),
        2: (sel.Booking(8, "PROJ008 Mahler", march[1], march[1], "pending"),),
        # the day before and the day after do not overlap
        3: (
            sel.Booking(
                9, "PROJ009 Bach", datetime.date(2027, 3, 1), datetime.date(2027, 3, 7), "accepted"
            ),
        ),
        4: (
            sel.Booking(
                10,
                "PROJ010 Ravel",
                datetime.date(2027, 3, 15),
                datetime.date(2027, 3, 20),
                "pending",
            ),
        ),
    }
    facts = sel.ProjectFacts(needs=(n,), period=march, bookings=booked)
    verdicts = {v.member.musician_id: v for v in sel.verdicts(n, facts)}
    assert (verdicts[1].reason, verdicts[1].booking.label) == (sel.BUSY_ELSEWHERE, "PROJ007 Verdi")
    assert (verdicts[2].reason, verdicts[2].offer_status) == (sel.BUSY_ELSEWHERE, "pending")
    assert sel.candidates(n, facts) == (3, 4)

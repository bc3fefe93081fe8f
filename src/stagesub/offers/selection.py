"""Who may be asked for a need: the project-wide rules and the conflict setting (pure).

Rules, in the order a preview reports them:
* inactive or archived musicians are not asked; nor those who lost the position's qualification;
* local residents only, when the need says so;
* musicians who said they cannot play during the project (their availability) are not asked;
* one offer per musician per project: a pending, accepted, declined or timed-out offer anywhere
  in the project keeps the musician out (withdrawn offers do not count);
* no double-booking: a musician with a pending or accepted offer in another project whose days
  overlap this project's is not asked (the caller passes those bookings as plain data);
* conflict setting `smart`: a musician on the lists of several needs with open seats is kept for
  the need where they are ranked best (lower rank number; tie: the more senior position; tie:
  the need processed first). Needs that are filled, paused or where the musician could not be
  asked anyway do not count, so nobody is starved by a need that will never ask them.
* `simple`: no reservation; needs are processed in instrument order then position hierarchy,
  and whoever an earlier need asks holds an offer that keeps them out of the later ones.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

SIMPLE, SMART = "simple", "smart"

# Reasons a list member is or is not a candidate.
CANDIDATE = "candidate"
INACTIVE = "inactive"
NOT_QUALIFIED = "not_qualified"
NOT_LOCAL = "not_local"
UNAVAILABLE = "unavailable"  # with the period they said they are away
HAS_OFFER = "has_offer"  # with the offer's status and need
BUSY_ELSEWHERE = "busy_elsewhere"  # with the other project's booking
KEPT_FOR_OTHER_NEED = "kept_for_other_need"
CHOSEN_FOR_OTHER_NEED = "chosen_for_other_need"  # earlier need in the same preview/send


@dataclass(frozen=True)
class Member:
    musician_id: int
    rank: int
    active: bool
    qualified: bool
    local: bool


@dataclass(frozen=True)
class NeedView:
    need_id: int
    order: tuple  # processing order: (instrument display order, hierarchy level, pk)
    hierarchy: int
    members: tuple[Member, ...]  # in rank order
    require_local: bool = False
    open: bool = True  # still asking: active and seats left


@dataclass(frozen=True)
class Booking:
    """A musician's pending or accepted offer in another project, with that project's days."""

    project_id: int
    label: str  # how a person names the project ("PROJ004 Verdi Requiem")
    start: datetime.date
    end: datetime.date  # inclusive
    status: str


@dataclass(frozen=True)
class Verdict:
    member: Member
    reason: str
    offer_status: str = ""
    other_need: int | None = None
    booking: Booking | None = None
    away: tuple[datetime.date, datetime.date] | None = None


@dataclass
class ProjectFacts:
    # musician id -> (status, need id) of the offer that blocks them in this project
    blocking: dict[int, tuple[str, int]] = field(default_factory=dict)
    needs: tuple[NeedView, ...] = ()
    rule: str = SIMPLE
    # This project's days (inclusive) and, per musician, their bookings in other projects.
    period: tuple[datetime.date, datetime.date] | None = None
    bookings: dict[int, tuple[Booking, ...]] = field(default_factory=dict)
    # musician id -> the period (first day, last day) they cannot play that overlaps the project
    away: dict[int, tuple[datetime.date, datetime.date]] = field(default_factory=dict)

    def busy_with(self, musician_id: int) -> Booking | None:
        """The first booking elsewhere whose days overlap this project's, if any."""
        if self.period is None:
            return None
        return next(
            (b for b in self.bookings.get(musician_id, ()) if overlaps(self.period, b)), None
        )


def overlaps(period: tuple[datetime.date, datetime.date], booking: Booking) -> bool:
    start, end = period
    return booking.start <= end and start <= booking.end


Period = tuple[datetime.date, datetime.date]


def away_during(
    periods: dict[int, list[Period]], first: datetime.date, last: datetime.date
) -> dict[int, Period]:
    """Musician -> the earliest of their unavailable periods that overlaps first..last."""
    out = {}
    for musician, spans in periods.items():
        overlapping = sorted(p for p in spans if p[0] <= last and p[1] >= first)
        if overlapping:
            out[musician] = overlapping[0]
    return out


def _personal_reason(member: Member, need: NeedView) -> str | None:
    if not member.active:
        return INACTIVE
    if not member.qualified:
        return NOT_QUALIFIED
    if need.require_local and not member.local:
        return NOT_LOCAL
    return None


def smart_homes(facts: ProjectFacts) -> dict[int, int]:
    """Musician -> the need they are kept for, for musicians on two or more open needs' lists."""
    placements: dict[int, list[tuple]] = {}
    for need in facts.needs:
        if not need.open:
            continue
        for member in need.members:
            if (
                member.musician_id in facts.blocking
                or member.musician_id in facts.away
                or _personal_reason(member, need)
                or facts.busy_with(member.musician_id)
            ):
                continue
            placements.setdefault(member.musician_id, []).append(
                (member.rank, need.hierarchy, need.order, need.need_id)
            )
    return {m: min(p)[3] for m, p in placements.items() if len(p) > 1}


def verdicts(
    need: NeedView, facts: ProjectFacts, *, chosen_elsewhere: dict[int, int] | None = None
) -> list[Verdict]:
    """Every list member of `need` with the reason they are or are not a candidate."""
    homes = smart_homes(facts) if facts.rule == SMART else {}
    chosen_elsewhere = chosen_elsewhere or {}
    out = []
    for member in need.members:
        reason = _personal_reason(member, need)
        if reason:
            out.append(Verdict(member, reason))
        elif member.musician_id in facts.away:
            out.append(Verdict(member, UNAVAILABLE, away=facts.away[member.musician_id]))
        elif member.musician_id in facts.blocking:
            status, other = facts.blocking[member.musician_id]
            out.append(Verdict(member, HAS_OFFER, status, other))
        elif booking := facts.busy_with(member.musician_id):
            out.append(Verdict(member, BUSY_ELSEWHERE, booking.status, booking=booking))
        elif chosen_elsewhere.get(member.musician_id, need.need_id) != need.need_id:
            out.append(
                Verdict(
                    member, CHOSEN_FOR_OTHER_NEED, other_need=chosen_elsewhere[member.musician_id]
                )
            )
        elif homes.get(member.musician_id, need.need_id) != need.need_id:
            out.append(Verdict(member, KEPT_FOR_OTHER_NEED, other_need=homes[member.musician_id]))
        else:
            out.append(Verdict(member, CANDIDATE))
    return out


def candidates(need: NeedView, facts: ProjectFacts) -> tuple[int, ...]:
    return tuple(v.member.musician_id for v in verdicts(need, facts) if v.reason == CANDIDATE)

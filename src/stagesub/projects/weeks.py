"""ISO weeks: the week a date falls in, and the Monday of a week (53-week years included)."""

from __future__ import annotations

import datetime

from django.utils import formats


def iso_week(day: datetime.date) -> tuple[int, int]:
    """(ISO year, ISO week) of `day`; 29 Dec 2025 is in week 1 of 2026."""
    year, week, _ = day.isocalendar()
    return year, week


def weeks_in_year(iso_year: int) -> int:
    # 28 December is always in the last ISO week of its year.
    return datetime.date(iso_year, 12, 28).isocalendar()[1]


def monday_of(iso_year: int, week: int) -> datetime.date:
    if not 1 <= week <= weeks_in_year(iso_year):
        raise ValueError(f"{iso_year} has no week {week}")
    return datetime.date.fromisocalendar(iso_year, week, 1)


def next_monday_of_week(week: int, today: datetime.date) -> datetime.date:
    """Monday of `week` this year, or next year if that week has already passed."""
    year = today.isocalendar()[0]
    for candidate in (year, year + 1, year + 2):
        if week <= weeks_in_year(candidate):
            monday = monday_of(candidate, week)
            if monday + datetime.timedelta(days=6) >= today:
                return monday
    raise ValueError(f"no week {week} in the coming years")


def week_end(day: datetime.date) -> datetime.date:
    """The Sunday of `day`'s ISO week: where a project given by its week ends."""
    return day + datetime.timedelta(days=6 - day.weekday())


def period_label(start: datetime.date, end: datetime.date) -> str:
    """ "12 mar 2027" or "12 mar – 18 mar 2027" in the active language's date format."""
    if start == end:
        return formats.date_format(start, "DATE_FORMAT")
    return (
        f"{formats.date_format(start, 'DATE_FORMAT')} – {formats.date_format(end, 'DATE_FORMAT')}"
    )

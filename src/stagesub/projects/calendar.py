"""iCalendar export: one project, or the orchestra's feed of upcoming projects.

Each project is an all-day event over its start week, with the rehearsal schedule and concert
information as entered. Text goes in as escaped TEXT values with control characters removed,
so a line break in a name cannot end a content line early. UIDs are stable (project id +
orchestra host), so calendar apps update events in place instead of duplicating them.
"""

from __future__ import annotations

import datetime
import secrets

from icalendar import Calendar, Event, vText

from stagesub.projects.models import CalendarFeed, Project
from stagesub.validation import strip_control_characters


def _text(value: str) -> vText:
    # vText escapes line breaks; an X- property given a plain str would be written raw.
    return vText(strip_control_characters(value))


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//StageSub//Projects//SV")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", _text(" ".join(name.split())))  # a label: one line
    return calendar


def _event(project: Project, host: str) -> Event:
    event = Event()
    event.add("uid", f"{project.project_id.lower()}@{host}")
    event.add("summary", _text(project.name))
    event.add("dtstart", project.start_date)
    event.add("dtend", project.end_date + datetime.timedelta(days=1))  # all-day end is exclusive
    event.add("dtstamp", project.updated_at)
    parts = []
    if project.rehearsal_schedule:
        parts.append(f"Repetitioner:\n{project.rehearsal_schedule}")
    if project.concert_info:
        parts.append(f"Konserter:\n{project.concert_info}")
    if parts:
        event.add("description", _text("\n\n".join(parts)))
    return event


def project_ics(project: Project, *, host: str) -> bytes:
    calendar = _calendar(project.name)
    calendar.add_component(_event(project, host))
    return calendar.to_ical()


def feed_ics(*, orchestra_name: str, host: str, today: datetime.date) -> bytes:
    calendar = _calendar(orchestra_name)
    for project in Project.objects.filter(is_archived=False):
        if project.is_upcoming(today):
            calendar.add_component(_event(project, host))
    return calendar.to_ical()


def feed_token(*, renew: bool = False) -> str:
    feed = CalendarFeed.objects.filter(pk=1).first()
    if feed is None or renew:
        token = secrets.token_urlsafe(24)
        CalendarFeed.objects.update_or_create(pk=1, defaults={"token": token})
        return token
    return feed.token


def projects_ics(projects, *, name: str, host: str) -> bytes:
    """A calendar of the given projects (a musician's engagements feed)."""
    calendar = _calendar(name)
    for project in projects:
        calendar.add_component(_event(project, host))
    return calendar.to_ical()

"""What the staff dashboard shows, each part one bounded query whatever the orchestra's size."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet

from stagesub.offers import engine
from stagesub.offers.models import Offer, OfferEvent
from stagesub.projects.models import Need, Project
from stagesub.projects.services import staffing_of

UPCOMING_SHOWN = 8
WAITING_SHOWN = 10
LATEST_SHOWN = 8
STALLED_SHOWN = 20

ANSWER_KINDS = [OfferEvent.Kind.ACCEPTED, OfferEvent.Kind.DECLINED, OfferEvent.Kind.TIMED_OUT]


@dataclass
class UpcomingProject:
    project: Project
    staffing: dict  # projects.services.staffing: the project page's own numbers


def upcoming_projects(today: datetime.date) -> list[UpcomingProject]:
    projects = list(
        Project.objects.filter(is_archived=False, end_date__gte=today).order_by(
            "start_date", "name"
        )[:UPCOMING_SHOWN]
    )
    staffing = staffing_of(projects)
    return [UpcomingProject(p, staffing[p.pk]) for p in projects]


def waiting_answers() -> QuerySet[Offer]:
    """Requests still waiting for an answer, the one due first at the top."""
    return (
        Offer.objects.filter(status=engine.PENDING)
        .select_related("musician", "project", "need__position__instrument")
        .order_by("expires_at", "pk")
    )


def latest_answers() -> list[OfferEvent]:
    return list(
        OfferEvent.objects.filter(kind__in=ANSWER_KINDS)
        .select_related("offer__musician", "offer__project", "offer__need__position__instrument")
        .order_by("-at", "-pk")[:LATEST_SHOWN]
    )


def stalled_needs(today: datetime.date) -> QuerySet[Need]:
    """Needs that have run out of people to ask: still asking (active, project open), seats
    not filled, requests sent, and none waiting for an answer.

    The engine asks the next musician in the same transaction as every no, timeout or
    withdrawal, so "nobody waiting" with seats open means it found nobody more to ask (or the
    need was resumed, or its project restored, without sending again): either way nobody is
    being asked until the staff act.
    """
    return (
        Need.objects.filter(
            status=Need.Status.ACTIVE,
            project__is_archived=False,
            project__end_date__gte=today,  # upcoming until its last day (Project.is_upcoming)
        )
        .annotate(
            sent=Count("offers"),
            waiting=Count("offers", filter=Q(offers__status=engine.PENDING)),
            accepted=Count("offers", filter=Q(offers__status=engine.ACCEPTED)),
        )
        .filter(sent__gt=0, waiting=0, accepted__lt=F("quantity"))
        .select_related("project", "position__instrument")
        .order_by("project__start_date", "project__name", "pk")
    )

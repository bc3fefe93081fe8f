"""What projects learn from offers: sent counts, who was asked, who accepted."""

from __future__ import annotations

from django.db.models import Count, Q

from stagesub.offers import engine
from stagesub.offers.models import Offer
from stagesub.projects import sections as project_sections
from stagesub.projects import usage
from stagesub.projects.models import Need, Project
from stagesub.roster import profile
from stagesub.tenancy.seeding import demo_step


def _offers_sent(target) -> int:
    if isinstance(target, Project):
        return Offer.objects.filter(project=target).count()
    if isinstance(target, Need):
        return Offer.objects.filter(need=target).count()
    return 0


def _asked(project) -> set[int]:
    return set(
        Offer.objects.filter(project=project, status__in=sorted(engine.BLOCKING)).values_list(
            "musician_id", flat=True
        )
    )


def _accepted(project) -> list:
    return [
        (offer.need, offer.musician)
        for offer in Offer.objects.filter(project=project, status=engine.ACCEPTED).select_related(
            "need__position__instrument", "musician"
        )
    ]


def _offer_counts(projects) -> dict[int, tuple[int, int]]:
    rows = (
        Offer.objects.filter(project__in=projects)
        .values_list("need_id")
        .annotate(sent=Count("pk"), accepted=Count("pk", filter=Q(status=engine.ACCEPTED)))
    )
    return {need: (sent, accepted) for need, sent, accepted in rows}


usage.register_offer_counter(_offers_sent)
usage.register_offer_counts(_offer_counts)
usage.register_asked_musicians(_asked)
usage.register_accepted_musicians(_accepted)
usage.register_offer_count_expressions(
    lambda: {
        "sent": Count("offers"),
        "accepted": Count("offers", filter=Q(offers__status=engine.ACCEPTED)),
    }
)


def _project_section(project):
    from stagesub.offers import live

    return live.panel(project)


def _booking_section(project):
    from stagesub.offers.services import busy_on_lists
    from stagesub.orchestra.models import OrchestraSettings

    return {
        "project": project,
        "busy": busy_on_lists(project),
        "rule": OrchestraSettings.current().conflict_rule,
    }


def _offer_history(musician):
    offers = list(
        Offer.objects.filter(musician=musician).select_related(
            "project", "need__position__instrument"
        )[:50]
    )
    return {"offers": offers}


project_sections.register_section("offers/_panel.html", context=_project_section, order=10)
project_sections.register_section("offers/_booking.html", context=_booking_section, order=5)
profile.register_section("offers/profile_section.html", context=_offer_history, order=30)


@demo_step("offers.cascade", order=40)
def demo_cascade(orchestra) -> None:
    """Requests out on the coming projects: some needs filled, some mid-cascade, some untouched.

    The answers are given as musicians would give them, so the sent-mail page holds requests,
    reminders-to-be, confirmations and position-filled notices, each with a working link.
    """
    import datetime
    import random

    from django.utils import timezone

    from stagesub.messaging import delivery
    from stagesub.offers import services

    if Offer.objects.exists():
        return
    rng = random.Random(f"{orchestra.subdomain}-offers")
    today = timezone.localdate()
    upcoming = [
        p
        for p in Project.objects.filter(start_date__gte=today, is_archived=False).order_by(
            "start_date"
        )
        if p.needs.filter(status=Need.Status.ACTIVE).exists()
    ]
    started = timezone.now() - datetime.timedelta(hours=20)
    for index, project in enumerate(upcoming[:6]):
        services.send_project(project, now=started)
        # The requests reach the musicians before they answer, as they would have: delivered
        # now (into the mailbox of the embedded setup), not left for the worker to find
        # already answered and cancel as "not sent".
        delivery.deliver_due(orchestra_name=orchestra.name, now=started)
        if index == 0:
            continue  # just sent: every answer still to come
        for offer in Offer.objects.filter(project=project, status=engine.PENDING).order_by("pk"):
            roll = rng.random()
            when = started + datetime.timedelta(hours=rng.randint(1, 18))
            if index >= 4 or roll < 0.5:
                services.answer(offer, accepted=True, now=when)
            elif roll < 0.8:
                services.answer(offer, accepted=False, now=when)
            # else: no answer yet, the reminder and timeout are still ahead

"""What projects learn from offers: sent counts, who was asked, who accepted."""

from __future__ import annotations

from stagesub.offers import engine
from stagesub.offers.models import Offer
from stagesub.projects import usage
from stagesub.projects.models import Need, Project


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


usage.register_offer_counter(_offers_sent)
usage.register_asked_musicians(_asked)
usage.register_accepted_musicians(_accepted)

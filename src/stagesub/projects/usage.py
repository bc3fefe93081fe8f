"""What the offer engine will tell projects: whether offers exist (it plugs in here).

Until offers exist, nothing has been sent: these return "no offers" and "nobody asked".
"""

from __future__ import annotations

from collections.abc import Callable

_offer_counters: list[Callable[[object], int]] = []
_asked_in_project: list[Callable[[object], set[int]]] = []


def register_offer_counter(counter: Callable[[object], int]) -> None:
    """counter(need_or_project) → number of offers sent for it."""
    _offer_counters.append(counter)


def register_asked_musicians(provider: Callable[[object], set[int]]) -> None:
    """provider(project) → ids of musicians with an offer in the project that excludes them."""
    _asked_in_project.append(provider)


def offers_sent(target) -> int:
    return sum(counter(target) for counter in _offer_counters)


def musicians_asked(project) -> set[int]:
    asked: set[int] = set()
    for provider in _asked_in_project:
        asked |= provider(project)
    return asked


_accepted_providers: list[Callable[[object], list]] = []


def register_accepted_musicians(provider: Callable[[object], list]) -> None:
    """provider(project) → [(need, musician)] for every accepted offer in the project."""
    _accepted_providers.append(provider)


def accepted_musicians(project) -> list:
    pairs: list = []
    for provider in _accepted_providers:
        pairs.extend(provider(project))
    return pairs


_offer_counts: list[Callable[[list], dict[int, tuple[int, int]]]] = []


def register_offer_counts(provider: Callable[[list], dict[int, tuple[int, int]]]) -> None:
    """provider(projects) → {need pk: (offers sent, offers accepted)} for every need of those
    projects that has offers, in one query (list pages must not ask once per project or need)."""
    _offer_counts.append(provider)


def offer_counts(projects) -> dict[int, tuple[int, int]]:
    counts: dict[int, tuple[int, int]] = {}
    for provider in _offer_counts:
        for need, (sent, accepted) in provider(projects).items():
            before = counts.get(need, (0, 0))
            counts[need] = (before[0] + sent, before[1] + accepted)
    return counts


_offer_count_expressions: list[Callable[[], dict]] = []


def register_offer_count_expressions(provider: Callable[[], dict]) -> None:
    """provider() → {"sent": expression, "accepted": expression}: aggregates over the offers
    of a query of needs, so list pages can count, filter and sort in the database."""
    _offer_count_expressions.append(provider)


def offer_count_expressions() -> dict:
    from django.db.models import Value

    totals: dict = {"sent": Value(0), "accepted": Value(0)}
    for provider in _offer_count_expressions:
        for key, expression in provider().items():
            totals[key] = totals[key] + expression
    return totals

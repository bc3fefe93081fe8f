"""Who uses a ranking list (needs of projects plug in), so deleting it can be refused by name."""

from __future__ import annotations

from collections.abc import Callable

ListUsageCheck = Callable[[object], list[str]]
_checks: list[ListUsageCheck] = []


def register_list_usage(check: ListUsageCheck) -> ListUsageCheck:
    _checks.append(check)
    return check


def list_usage(ranking_list) -> list[str]:
    reasons: list[str] = []
    for check in _checks:
        reasons.extend(check(ranking_list))
    return reasons

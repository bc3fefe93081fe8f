"""Who uses a position or instrument: apps plug in checks so deletions can be refused with reasons.

A check takes a list of position primary keys and returns human-readable reasons ("used by
the need Violin – Tutti in project Beethoven 5 (PROJ004)"); an empty list means unused.
"""

from __future__ import annotations

from collections.abc import Callable

PositionUsageCheck = Callable[[list[int]], list[str]]
_checks: list[PositionUsageCheck] = []


def register_position_usage(check: PositionUsageCheck) -> PositionUsageCheck:
    _checks.append(check)
    return check


def position_usage(position_ids: list[int]) -> list[str]:
    reasons: list[str] = []
    for check in _checks:
        reasons.extend(check(position_ids))
    return reasons


# Called after a musician lost qualifications: (musician, removed position ids) → messages
# saying what else changed (e.g. "removed from the A list of Violin – Tutti").
QualificationRemovedHook = Callable[[object, list[int]], list[str]]
_removal_hooks: list[QualificationRemovedHook] = []


def on_qualifications_removed(hook: QualificationRemovedHook) -> QualificationRemovedHook:
    _removal_hooks.append(hook)
    return hook


def qualifications_removed(musician, position_ids: list[int]) -> list[str]:
    messages: list[str] = []
    for hook in _removal_hooks:
        messages.extend(hook(musician, position_ids))
    return messages


# Called before qualifications are removed: (musician, position ids) → reasons to refuse.
QualificationRemovalCheck = Callable[[object, list[int]], list[str]]
_removal_checks: list[QualificationRemovalCheck] = []


def register_qualification_removal_check(
    check: QualificationRemovalCheck,
) -> QualificationRemovalCheck:
    _removal_checks.append(check)
    return check


def qualification_removal_blockers(musician, position_ids: list[int]) -> list[str]:
    reasons: list[str] = []
    for check in _removal_checks:
        reasons.extend(check(musician, position_ids))
    return reasons

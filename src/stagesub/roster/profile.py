"""Sections of the musician profile page that other apps add (rankings, offer history, stats).

    register_section("rankings/profile_section.html", context=rankings_for, order=20)

`context(musician)` returns the template's context, or None to leave the section out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProfileSection:
    template: str
    context: Callable
    order: int


_sections: list[ProfileSection] = []


def register_section(template: str, *, context: Callable, order: int = 100) -> None:
    _sections.append(ProfileSection(template, context, order))


def sections_for(musician) -> list[tuple[str, dict]]:
    out = []
    for section in sorted(_sections, key=lambda s: s.order):
        ctx = section.context(musician)
        if ctx is not None:
            out.append((section.template, ctx))
    return out

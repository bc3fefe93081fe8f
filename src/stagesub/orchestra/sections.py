"""Page sections that other apps add to a page (the musician profile, the project page).

    profile = SectionRegistry()
    profile.register("rankings/profile_section.html", context=rankings_for, order=20)

`context(obj)` returns the template's context, or None to leave the section out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    template: str
    context: Callable
    order: int


class SectionRegistry:
    def __init__(self) -> None:
        self._sections: list[Section] = []

    def register(self, template: str, *, context: Callable, order: int = 100) -> None:
        self._sections.append(Section(template, context, order))

    def sections_for(self, obj) -> list[tuple[str, dict]]:
        out = []
        for section in sorted(self._sections, key=lambda s: s.order):
            ctx = section.context(obj)
            if ctx is not None:
                out.append((section.template, ctx))
        return out

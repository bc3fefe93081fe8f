"""Sections of the project page that other apps add (the offer engine's live panel).

    register_section("offers/project_section.html", context=offers_for, order=10)

`context(project)` returns the template's context, or None to leave the section out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectSection:
    template: str
    context: Callable
    order: int


_sections: list[ProjectSection] = []


def register_section(template: str, *, context: Callable, order: int = 100) -> None:
    _sections.append(ProjectSection(template, context, order))


def sections_for(project) -> list[tuple[str, dict]]:
    out = []
    for section in sorted(_sections, key=lambda s: s.order):
        ctx = section.context(project)
        if ctx is not None:
            out.append((section.template, ctx))
    return out

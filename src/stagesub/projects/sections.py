"""Sections of the project page that other apps add (the offer engine's live panel).

    register_section("offers/_panel.html", context=panel_for, order=10)

`context(project)` returns the template's context, or None to leave the section out.
"""

from stagesub.orchestra.sections import SectionRegistry

_project_page = SectionRegistry()
register_section = _project_page.register
sections_for = _project_page.sections_for

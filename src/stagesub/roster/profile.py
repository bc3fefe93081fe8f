"""Sections of the musician profile page that other apps add (rankings, request history).

    register_section("rankings/profile_section.html", context=rankings_for, order=20)

`context(musician)` returns the template's context, or None to leave the section out.
"""

from stagesub.orchestra.sections import SectionRegistry

_profile = SectionRegistry()
register_section = _profile.register
sections_for = _profile.sections_for

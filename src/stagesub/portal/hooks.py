"""The staff's musician page shows what the musician changed on their personal page, when they
said they cannot play, and the data-rights actions (export, erase)."""

from __future__ import annotations

from django.utils import timezone

from stagesub.roster import profile


def _portal_section(musician) -> dict | None:
    changes = list(musician.contact_changes.all()[:20])
    periods = list(musician.unavailabilities.filter(last_day__gte=timezone.localdate()))
    # Always shown: the data-rights actions live here (the views let admins only).
    return {"changes": changes, "periods": periods, "erased": hasattr(musician, "erasure")}


profile.register_section("portal/profile_section.html", context=_portal_section, order=40)

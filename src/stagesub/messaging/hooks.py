"""What the musician page shows from messaging: whether group e-mails were stopped."""

from __future__ import annotations

from stagesub.messaging.models import GroupOptOut
from stagesub.roster import profile


def _group_email_state(musician):
    return {"opt_out": GroupOptOut.objects.filter(musician=musician).first()}


profile.register_section("messaging/profile_section.html", context=_group_email_state, order=40)

"""E-mail the staff once per need that has run out of people to ask.

A worker job looks for such needs (dashboard.stalled_needs) in every active orchestra. For each
one it inserts the need's NeedAlert row and queues the e-mails in the same transaction: the row
is unique per need, so when two workers find the same need at once one insert fails and that
worker sends nothing. The outbox (messaging.delivery) then delivers the mail with its retries.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from stagesub.messaging.models import Message
from stagesub.office.dashboard import stalled_needs
from stagesub.office.models import NeedAlert
from stagesub.projects.models import Need
from stagesub.tenancy.context import orchestra_atomic
from stagesub.tenancy.due import note_due
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.office")

# Outbox kind of these e-mails (to staff, not to a musician).
KIND = "need_exhausted"


def staff_addresses(orchestra: Orchestra) -> list[str]:
    """Every active staff user of the orchestra with an address (control database)."""
    return sorted(
        orchestra.users.filter(is_active=True).exclude(email="").values_list("email", flat=True)
    )


def _message(orchestra: Orchestra, need: Need) -> tuple[str, str]:
    project = need.project
    values = {
        "need": need.need_id,
        "position": str(need.position),
        "project": project.name,
        "project_id": project.project_id,
        "accepted": need.accepted,
        "quantity": need.quantity,
        "url": f"{orchestra.public_url()}projects/{project.project_id}/",
    }
    subject = _("Nobody left to ask: %(position)s in %(project)s") % values
    body = (
        _(
            "The need %(need)s (%(position)s) in the project %(project)s (%(project_id)s) has "
            "%(accepted)s of %(quantity)s seats filled, nobody is waiting to answer, and there is "
            "nobody more on its list to ask.\n\n"
            "Add musicians to the list and send again, or change the need:\n%(url)s\n"
        )
        % values
    )
    return subject, body


def alert_stalled_needs(orchestra: Orchestra, *, now: datetime.datetime | None = None) -> int:
    """In the bound orchestra: e-mail the staff about each need that ran out of people to ask
    and has not been e-mailed about before. Returns how many needs were e-mailed about."""
    now = now or timezone.now()
    recipients = staff_addresses(orchestra)
    needs = list(stalled_needs(timezone.localdate(now)).filter(office_alert__isnull=True))
    alerted = 0
    for need in needs:
        try:
            with orchestra_atomic():
                NeedAlert.objects.create(need=need, found_at=now, recipients=recipients)
                with translation.override(settings.LANGUAGE_CODE):
                    subject, body = _message(orchestra, need)
                for address in recipients:
                    Message.objects.create(
                        kind=KIND,
                        to_email=address,
                        language=settings.LANGUAGE_CODE,
                        subject=subject,
                        body=body,
                        next_attempt_at=now,
                        created_at=now,
                    )
                if recipients:
                    note_due(now)  # on commit: the worker delivers it in its next pass
        except IntegrityError:
            continue  # another worker claimed this need first and sent its e-mail
        alerted += 1
    return alerted


@periodic_job("office.stalled_needs", interval=lambda: settings.STALLED_NEEDS_INTERVAL)
def _alert_every_orchestra() -> str:
    from stagesub.tenancy.binding import use_orchestra
    from stagesub.tenancy.schema import current_fingerprint

    orchestras = Orchestra.objects.filter(
        status=Orchestra.Status.ACTIVE,
        maintenance_reason="",
        migration__applied_fingerprint=current_fingerprint(),
    ).order_by("pk")
    alerted, failed = 0, []
    for orchestra in orchestras:
        try:
            with use_orchestra(orchestra):
                alerted += alert_stalled_needs(orchestra)
        except Exception:
            # One orchestra's trouble (its database down) must not stop the others.
            logger.exception("stalled-need alerts failed for %s", orchestra.subdomain)
            failed.append(orchestra.subdomain)
    return f"{alerted} needs e-mailed about" + (f"; failed: {', '.join(failed)}" if failed else "")

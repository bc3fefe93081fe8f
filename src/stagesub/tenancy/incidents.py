"""Opening an isolation incident when a process finds a wrong stamp on a database it was using.

The monitor finds shared databases on its schedule; this is the other path: a web request or a
worker pass that reached a database stamped for another orchestra (an in-place restore, a
mis-pointed server entry) refuses to use it and says so here, at once. One open incident per
orchestra and finding; superadmins are e-mailed when it opens, not on every refused request.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from stagesub.tenancy.isolation import superadmin_emails
from stagesub.tenancy.models import IsolationIncident, Orchestra

logger = logging.getLogger("stagesub.tenancy")


def record_stamp_mismatch(subdomain: str, expected: str, found: str | None) -> None:
    """Open (once) an incident for a database whose stamp names someone else; never raises."""
    summary = (
        f"{subdomain}: database carries stamp {found or 'none'}, expected {expected} "
        "(refused on use)"
    )
    logger.critical("isolation: %s", summary)
    try:
        with transaction.atomic():
            # Many threads and processes refuse at once: the orchestra's row lock lets one of
            # them open the incident and the others find it.
            list(Orchestra.objects.select_for_update().filter(subdomain=subdomain))
            if IsolationIncident.open_incidents().filter(summary=summary).exists():
                return
            incident = IsolationIncident.objects.create(
                summary=summary,
                details={
                    "subdomain": subdomain,
                    "expected_stamp": expected,
                    "found_stamp": found,
                    "found_by": "stamp check on use",
                },
            )
        recipients = superadmin_emails()
        if recipients:
            send_mail(
                f"CRITICAL: isolation incident #{incident.pk}",
                "StageSub refused to use an orchestra's database because its identity stamp "
                f"names another orchestra.\n\n- {summary}\n\nThe orchestra's pages answer "
                "'unavailable' and its background work is skipped until the database is "
                f"fixed. Then run: stagesub resolve_incident {incident.pk}\n",
                settings.DEFAULT_FROM_EMAIL,
                recipients,
                fail_silently=True,
            )
    except Exception:
        # The refusal itself already happened; failing to record it must not turn it into
        # something else. The critical log line above is the record of last resort.
        logger.exception("could not record the isolation incident for %s", subdomain)

"""What a musician does on their personal page: availability, contact details, calendar feed."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from stagesub.offers import engine
from stagesub.offers.models import Offer
from stagesub.portal.models import ContactChange, MusicianFeed
from stagesub.projects import calendar
from stagesub.roster.models import Musician, Unavailability
from stagesub.roster.phones import normalize_phone
from stagesub.tenancy.context import orchestra_atomic

# Further ahead than this is a typing mistake, not a plan.
AVAILABILITY_HORIZON = datetime.timedelta(days=3 * 366)


def add_unavailability(
    musician: Musician, first: datetime.date, last: datetime.date, *, today: datetime.date
) -> Unavailability:
    if last < first:
        raise ValidationError({"last_day": _("The last day cannot be before the first day.")})
    if last < today:
        raise ValidationError({"last_day": _("The period has already passed.")})
    if last > today + AVAILABILITY_HORIZON:
        raise ValidationError({"last_day": _("Choose a period within the next three years.")})
    return Unavailability.objects.create(musician=musician, first_day=first, last_day=last)


def remove_unavailability(musician: Musician, pk: int) -> bool:
    # Filtered by musician: one musician's session cannot remove another's period.
    deleted, _ = Unavailability.objects.filter(musician=musician, pk=pk).delete()
    return bool(deleted)


@dataclass(frozen=True)
class Contact:
    email: str
    phone: str
    preferred_language: str


def change_contact(musician: Musician, contact: Contact, *, now: datetime.datetime) -> list[str]:
    """Save what changed at once and log which fields changed for the staff; the changed
    field names. Invalid input raises ValidationError and changes nothing."""
    errors = {}
    try:
        phone = normalize_phone(contact.phone)
    except ValidationError as error:
        errors["phone"] = error.messages
        phone = musician.phone
    email = contact.email.strip()
    if email.lower() != musician.email.lower() and (
        Musician.objects.filter(email__iexact=email).exclude(pk=musician.pk).exists()
    ):
        errors["email"] = [_("Another musician already has this e-mail address.")]
    if phone and Musician.objects.filter(phone=phone).exclude(pk=musician.pk).exists():
        errors["phone"] = [_("Another musician already has this phone number.")]
    if contact.preferred_language not in Musician.Language.values:
        errors["preferred_language"] = [_("Choose a language.")]
    if errors:
        raise ValidationError(errors)
    new = {"email": email, "phone": phone, "preferred_language": contact.preferred_language}
    changed = [name for name, value in new.items() if getattr(musician, name) != value]
    if not changed:
        return []
    with orchestra_atomic():
        for name in changed:
            setattr(musician, name, new[name])
        musician.save(update_fields=[*changed, "updated_at"])
        ContactChange.objects.bulk_create(
            ContactChange(musician=musician, field=name, at=now) for name in changed
        )
    return changed


def open_requests(musician: Musician, now: datetime.datetime):
    return (
        Offer.objects.filter(musician=musician, status=engine.PENDING, expires_at__gt=now)
        .select_related("project", "need__position__instrument")
        .order_by("expires_at")
    )


def engagements(musician: Musician, today: datetime.date) -> tuple[list[Offer], list[Offer]]:
    """Accepted offers: (upcoming, soonest first; past, latest first)."""
    accepted = (
        Offer.objects.filter(musician=musician, status=engine.ACCEPTED)
        .select_related("project", "need__position__instrument")
        .order_by("project__start_date", "pk")
    )
    upcoming = [o for o in accepted if o.project.is_upcoming(today)]
    past = [o for o in reversed(accepted) if not o.project.is_upcoming(today)]
    return upcoming, past


def feed_token(musician: Musician, *, renew: bool = False) -> str:
    """The musician's calendar token; renewing makes the old feed URL stop working."""
    feed = MusicianFeed.objects.filter(musician=musician).first()
    if feed is None or renew:
        token = secrets.token_urlsafe(24)
        MusicianFeed.objects.update_or_create(musician=musician, defaults={"token": token})
        return token
    return feed.token


def musician_for_feed(token: str) -> Musician | None:
    feed = MusicianFeed.objects.select_related("musician").filter(token=token).first()
    return feed.musician if feed else None


def engagements_ics(musician: Musician, *, orchestra_name: str, host: str) -> bytes:
    """Every accepted engagement as an all-day event; UIDs are the project's, so an event is
    updated in place when the project changes."""
    offers = Offer.objects.filter(musician=musician, status=engine.ACCEPTED).select_related(
        "project"
    )
    return calendar.projects_ics([o.project for o in offers], name=orchestra_name, host=host)

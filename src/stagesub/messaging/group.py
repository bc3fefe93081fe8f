"""Group e-mail: recipients chosen by filters, previewed, then one outbox message each.

The staff see the count and the names before anything is sent. The preview carries a
fingerprint of the recipients and the text; `send` recomputes it inside its transaction and
writes nothing when it differs (someone was booked, opted out or was archived in between), so
what goes out is exactly what was shown. Every copy carries the musician's personal link to
stop group e-mails (`unsubscribe_token`); requests for work are not affected by it.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import formats, timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from stagesub.messaging import outbox
from stagesub.messaging.models import GroupEmail, GroupOptOut, Kind, SenderSettings
from stagesub.messaging.rendering import fill, signed
from stagesub.offers.models import Offer
from stagesub.projects.models import Need, Project, ProjectFile
from stagesub.rankings.models import RankingEntry, RankingList
from stagesub.roster.models import Instrument, Musician, Position
from stagesub.tenancy.context import orchestra_atomic
from stagesub.tenancy.due import note_due

# The variables of a group e-mail: the musician's and the orchestra's always; the project's
# only when a project (or a need) is chosen, so a {{projectName}} never goes out empty.
MUSICIAN_VARIABLES = ("firstName", "lastName", "fullName", "orchestraName")
PROJECT_VARIABLES = ("projectName", "startDate", "weekNumber")

CHANGED = "changed"  # send() refused: the recipients or the text differ from the preview
NOBODY = "nobody"  # send() refused: no recipient


@dataclass(frozen=True)
class Audience:
    """The recipient filters; all that are set must hold (None / "" = not filtered)."""

    project: Project | None = None
    need: Need | None = None
    instrument: Instrument | None = None
    position: Position | None = None
    ranking_list: RankingList | None = None
    status: str = Musician.Status.ACTIVE
    language: str = ""

    @property
    def booked_in(self) -> Project | None:
        return self.need.project if self.need else self.project

    def describe(self) -> str:
        parts = []
        if self.need:
            parts.append(
                _("booked for %(need)s") % {"need": f"{self.need.project} – {self.need.position}"}
            )
        elif self.project:
            parts.append(_("booked in %(project)s") % {"project": self.project})
        if self.position:
            parts.append(str(self.position))
        elif self.instrument:
            parts.append(str(self.instrument))
        if self.ranking_list:
            parts.append(_("on %(list)s") % {"list": self.ranking_list})
        if self.status:
            parts.append(Musician.Status(self.status).label)
        if self.language:
            parts.append(Musician.Language(self.language).label)
        return ", ".join(str(p) for p in parts)[:500] or _("all musicians")


def variables(audience: Audience) -> tuple[str, ...]:
    return MUSICIAN_VARIABLES + (PROJECT_VARIABLES if audience.booked_in else ())


def _matching(audience: Audience) -> QuerySet[Musician]:
    musicians = Musician.objects.exclude(status=Musician.Status.ARCHIVED)
    if audience.status:
        musicians = musicians.filter(status=audience.status)
    if audience.language:
        musicians = musicians.filter(preferred_language=audience.language)
    if audience.booked_in:
        # Booked = an accepted request; the instrument or position is the one they are booked as.
        booked = Offer.objects.filter(status=Offer.Status.ACCEPTED, project=audience.booked_in)
        if audience.need:
            booked = booked.filter(need=audience.need)
        if audience.position:
            booked = booked.filter(need__position=audience.position)
        elif audience.instrument:
            booked = booked.filter(need__position__instrument=audience.instrument)
        musicians = musicians.filter(pk__in=booked.values("musician_id"))
    elif audience.position:
        musicians = musicians.filter(qualifications=audience.position)
    elif audience.instrument:
        musicians = musicians.filter(qualifications__instrument=audience.instrument)
    if audience.ranking_list:
        on_list = RankingEntry.objects.filter(ranking_list=audience.ranking_list)
        musicians = musicians.filter(pk__in=on_list.values("musician_id"))
    return musicians.distinct()


@dataclass
class Recipients:
    musicians: list[Musician]
    opted_out: list[Musician] = field(default_factory=list)  # matching, but left out

    def fingerprint(self, subject: str, body: str, attachment_ids: list[int]) -> str:
        text = repr(
            (
                [(m.pk, m.email, m.preferred_language) for m in self.musicians],
                subject,
                body,
                sorted(attachment_ids),
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def recipients(audience: Audience) -> Recipients:
    rows = list(
        _matching(audience)
        .select_related("group_opt_out")
        .order_by("last_name", "first_name", "pk")
    )
    out = Recipients([], [])
    for musician in rows:
        opted = hasattr(musician, "group_opt_out")
        (out.opted_out if opted else out.musicians).append(musician)
    return out


def check_attachments(audience: Audience, attachment_ids: list[int]) -> list[ProjectFile]:
    """The chosen files, which must belong to the chosen project."""
    if not attachment_ids:
        return []
    project = audience.booked_in
    if project is None:
        raise ValidationError({"files": _("Choose a project to attach its files.")})
    files = list(ProjectFile.objects.filter(pk__in=attachment_ids, project=project))
    if len(files) != len(set(attachment_ids)):
        raise ValidationError({"files": _("Attach only files of the chosen project.")})
    return files


def values_for(musician: Musician, orchestra_name: str, project: Project | None) -> dict[str, str]:
    values = {
        "firstName": musician.first_name,
        "lastName": musician.last_name,
        "fullName": musician.full_name,
        "orchestraName": orchestra_name,
    }
    if project is not None:
        with translation.override(musician.preferred_language):
            values |= {
                "projectName": project.name,
                "startDate": formats.date_format(project.start_date, "DATE_FORMAT"),
                "weekNumber": str(project.week),
            }
    return values


# --- the personal link that stops group e-mails ---------------------------------------------

_SALT = "stagesub.messaging.group-unsubscribe"
_MAC_LENGTH = 32


def _mac(orchestra_id: uuid.UUID, musician: Musician) -> str:
    # Over the orchestra's id: a Göteborg link names no musician on Malmö's host.
    value = f"{orchestra_id}:{musician.pk}:{musician.musician_id}"
    return salted_hmac(_SALT, value, algorithm="sha256").hexdigest()[:_MAC_LENGTH]


def unsubscribe_token(orchestra_id: uuid.UUID, musician: Musician) -> str:
    return f"{musician.pk}-{_mac(orchestra_id, musician)}"


def musician_for_token(orchestra_id: uuid.UUID, token: str) -> Musician | None:
    pk, sep, mac = token.partition("-")
    if not sep or not pk.isdigit() or len(pk) > 12 or len(mac) != _MAC_LENGTH:
        return None
    musician = Musician.objects.filter(pk=int(pk)).first()
    if musician is None or not constant_time_compare(mac, _mac(orchestra_id, musician)):
        return None
    return musician


def opt_out(musician: Musician, *, now: datetime.datetime | None = None) -> GroupOptOut:
    """Idempotent: a second click keeps the first date."""
    return GroupOptOut.objects.get_or_create(
        musician=musician, defaults={"at": now or timezone.now()}
    )[0]


def _footer(url: str, language: str) -> str:
    with translation.override(language):
        return _("Do not want group e-mails from us any more? Stop them here: %(url)s") % {
            "url": url
        }


def compose(
    musician: Musician,
    *,
    subject: str,
    body: str,
    orchestra_name: str,
    project: Project | None,
    signature: str,
    unsubscribe_url: str,
) -> tuple[str, str]:
    """One recipient's (subject, body): variables filled, signature, the stop link last."""
    values = values_for(musician, orchestra_name, project)
    text = signed(fill(body, values), signature)
    return (
        " ".join(fill(subject, values).split()),
        f"{text}\n\n{_footer(unsubscribe_url, musician.preferred_language)}",
    )


@dataclass
class Sent:
    group_email: GroupEmail | None
    refused: str = ""
    recipients: Recipients | None = None


def send(
    audience: Audience,
    *,
    subject: str,
    body: str,
    attachment_ids: list[int],
    expected: str,
    orchestra,
    by: str,
    now: datetime.datetime | None = None,
) -> Sent:
    """Queue one message per recipient, if the recipients and text are still those previewed
    (`expected`, the preview's fingerprint); else nothing is written."""
    now = now or timezone.now()
    with orchestra_atomic():
        found = recipients(audience)
        if not found.musicians:
            return Sent(None, NOBODY, found)
        if not constant_time_compare(found.fingerprint(subject, body, attachment_ids), expected):
            return Sent(None, CHANGED, found)
        project = audience.booked_in
        group_email = GroupEmail.objects.create(
            subject=subject,
            body=body,
            audience=audience.describe(),
            project=project,
            attachment_ids=sorted(attachment_ids),
            recipient_count=len(found.musicians),
            sent_by=by,
            created_at=now,
        )
        signature = SenderSettings.current().signature
        for musician in found.musicians:
            token = unsubscribe_token(orchestra.pk, musician)
            text_subject, text_body = compose(
                musician,
                subject=subject,
                body=body,
                orchestra_name=orchestra.name,
                project=project,
                signature=signature,
                unsubscribe_url=f"{orchestra.public_url()}unsubscribe/{token}/",
            )
            outbox.queue_written(
                kind=Kind.GROUP,
                musician=musician,
                subject=text_subject,
                body=text_body,
                now=now,
                group_email=group_email,
                attachment_ids=sorted(attachment_ids),
            )
        note_due(now)
    return Sent(group_email)

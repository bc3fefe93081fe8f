"""Editing the orchestra's message templates: checked, recorded in a history, resettable, and
previewed from a real request of the orchestra.

A template is saved only when every {{placeholder}} in it is one the sending code fills
(`rendering.VARIABLES`) and it holds no HTML; the check names each offending placeholder or
tag. Every save and reset writes a `TemplateChange` with the text before and after, in the
same transaction, under the template row's lock (two admins saving at once both land in the
history, in order).
"""

from __future__ import annotations

import datetime
import difflib
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from stagesub.messaging.defaults import DEFAULTS
from stagesub.messaging.models import Kind, MessageTemplate, SenderSettings, TemplateChange
from stagesub.messaging.rendering import VARIABLES, check, fill, signed
from stagesub.offers.models import Offer
from stagesub.offers.services import message_values
from stagesub.roster.models import Musician
from stagesub.tenancy.context import orchestra_atomic

# The kinds with templates, in the order a message's life has them.
KINDS = tuple(dict.fromkeys(kind for kind, _language in DEFAULTS))
LANGUAGES = tuple(Musician.Language.values)


def is_template(kind: str, language: str) -> bool:
    return (kind, language) in DEFAULTS


def current(kind: str, language: str) -> tuple[str, str]:
    """The (subject, body) in use (the built-in default if the row is missing)."""
    row = MessageTemplate.objects.filter(kind=kind, language=language).first()
    return (row.subject, row.body) if row else DEFAULTS[(kind, language)]


@dataclass(frozen=True)
class Row:
    kind: str
    label: str
    language: str
    subject: str
    edited: bool  # differs from the built-in default
    updated_at: datetime.datetime | None


def overview() -> list[Row]:
    rows = {(t.kind, t.language): t for t in MessageTemplate.objects.all()}
    out = []
    for kind in KINDS:
        for language in LANGUAGES:
            row = rows.get((kind, language))
            subject, body = (row.subject, row.body) if row else DEFAULTS[(kind, language)]
            out.append(
                Row(
                    kind=kind,
                    label=str(Kind(kind).label),
                    language=language,
                    subject=subject,
                    edited=(subject, body) != DEFAULTS[(kind, language)],
                    updated_at=row.updated_at if row else None,
                )
            )
    return out


def validate(subject: str, body: str) -> None:
    """ValidationError by field ("subject", "body") naming each unknown or malformed variable
    and each HTML tag."""
    errors = {}
    for name, text in (("subject", subject), ("body", body)):
        try:
            check(text, VARIABLES)
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)


def _change(
    kind: str, language: str, subject: str, body: str, *, by: str, reset: bool, now
) -> TemplateChange | None:
    with orchestra_atomic():
        row = MessageTemplate.objects.select_for_update().filter(kind=kind, language=language)
        template = row.first()
        if template is None:
            default_subject, default_body = DEFAULTS[(kind, language)]
            template = MessageTemplate.objects.create(
                kind=kind, language=language, subject=default_subject, body=default_body
            )
        if (template.subject, template.body) == (subject, body):
            return None  # nothing changed: no history row
        change = TemplateChange.objects.create(
            kind=kind,
            language=language,
            old_subject=template.subject,
            old_body=template.body,
            new_subject=subject,
            new_body=body,
            reset=reset,
            changed_by=by,
            changed_at=now or timezone.now(),
        )
        template.subject, template.body = subject, body
        template.save(update_fields=["subject", "body", "updated_at"])
    return change


def save(
    kind: str, language: str, subject: str, body: str, *, by: str, now=None
) -> TemplateChange | None:
    """Check and save; None when the text is unchanged. Raises ValidationError (by field)."""
    subject = " ".join(subject.split())
    validate(subject, body)
    return _change(kind, language, subject, body, by=by, reset=False, now=now)


def reset(kind: str, language: str, *, by: str, now=None) -> TemplateChange | None:
    subject, body = DEFAULTS[(kind, language)]
    return _change(kind, language, subject, body, by=by, reset=True, now=now)


def history(kind: str, language: str, limit: int = 50) -> list[TemplateChange]:
    return list(TemplateChange.objects.filter(kind=kind, language=language)[:limit])


def diff(change: TemplateChange) -> list[str]:
    """The body's changed lines (with one line of context), "-" old and "+" new."""
    lines = difflib.unified_diff(
        change.old_body.splitlines(), change.new_body.splitlines(), lineterm="", n=1
    )
    # ("@@ -2,10 +2,2 @@" says where in the text: an ellipsis says it to a person.)
    return [
        "…" if line.startswith("@@") else line
        for line in lines
        if not line.startswith(("---", "+++"))
    ]


@dataclass(frozen=True)
class Preview:
    subject: str
    body: str
    offer: Offer | None  # the request the values come from; None: example values


def _example_values(orchestra, language: str) -> dict[str, str]:
    # Only while the orchestra has sent no request yet.
    with translation.override(language):
        return {name: f"[{name}]" for name in VARIABLES} | {
            "orchestraName": orchestra.name,
            "firstName": _("Anna"),
            "lastName": _("Andersson"),
            "fullName": _("Anna Andersson"),
        }


def preview(kind: str, language: str, subject: str, body: str, orchestra) -> Preview:
    """The text as the latest request to a musician of this language would have it
    (any musician's if none), with the orchestra's signature; nothing is written."""
    offers = Offer.objects.select_related("musician", "need__position__instrument", "project")
    offer = (
        offers.filter(musician__preferred_language=language).order_by("-sent_at", "-pk").first()
        or offers.order_by("-sent_at", "-pk").first()
    )
    if offer is not None:
        values = message_values(offer, orchestra)
    else:
        values = _example_values(orchestra, language)
    signature = SenderSettings.current().signature
    return Preview(
        subject=" ".join(fill(subject, values).split()),
        body=signed(fill(body, values), signature),
        offer=offer,
    )

"""Filling a template's {{placeholders}}: plain substitution, nothing executable."""

from __future__ import annotations

import re

from stagesub.messaging.defaults import DEFAULTS
from stagesub.messaging.models import MessageTemplate

# The names the sending code supplies (every kind gets all of them; some are empty).
VARIABLES = (
    "firstName",
    "lastName",
    "fullName",
    "orchestraName",
    "projectName",
    "position",
    "instrument",
    "startDate",
    "weekNumber",
    "rehearsalSchedule",
    "concertInfo",
    "quantity",
    "responseUrl",
    "responseDeadline",
    "responseTime",
    "attachmentNote",
)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")


def fill(text: str, values: dict[str, str]) -> str:
    """Replace known placeholders; unknown ones stay as written so a typo is visible."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


def template_for(kind: str, language: str) -> tuple[str, str]:
    """(subject, body) in the language, else Swedish, else the built-in default."""
    for lang in (language, "sv"):
        row = MessageTemplate.objects.filter(kind=kind, language=lang).first()
        if row is not None:
            return row.subject, row.body
    return DEFAULTS.get((kind, language)) or DEFAULTS[(kind, "sv")]


def render(kind: str, language: str, values: dict[str, str]) -> tuple[str, str]:
    subject, body = template_for(kind, language)
    # A subject is one line whatever a value holds (header injection).
    return " ".join(fill(subject, values).split()), fill(body, values)

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


class Templates:
    """The bound orchestra's templates, read in one query (per action, never across actions:
    they belong to one orchestra's database and may be edited)."""

    def __init__(self):
        self._rows = {
            (kind, language): (subject, body)
            for kind, language, subject, body in MessageTemplate.objects.values_list(
                "kind", "language", "subject", "body"
            )
        }

    def get(self, kind: str, language: str) -> tuple[str, str]:
        """(subject, body) in the language, else Swedish, else the built-in default."""
        for key in ((kind, language), (kind, "sv")):
            if key in self._rows:
                return self._rows[key]
        return DEFAULTS.get((kind, language)) or DEFAULTS[(kind, "sv")]


def render(
    kind: str, language: str, values: dict[str, str], templates: Templates | None = None
) -> tuple[str, str]:
    subject, body = (templates or Templates()).get(kind, language)
    # A subject is one line whatever a value holds (header injection).
    return " ".join(fill(subject, values).split()), fill(body, values)

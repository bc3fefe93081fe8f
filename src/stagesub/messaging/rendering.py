"""Filling a template's {{placeholders}}: plain substitution, nothing executable."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from stagesub.messaging.defaults import DEFAULTS
from stagesub.messaging.models import MessageTemplate, SenderSettings

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
# Anything written as a placeholder, well-formed or not (checked by `check`).
_BRACES = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# {name}: one brace each side, the commonest slip when typing a placeholder.
_SINGLE = re.compile(r"(?<!\{)\{\s*[A-Za-z_]+\s*\}(?!\})")
# A tag: the messages are plain text, so markup would reach the musician as literal code.
_TAG = re.compile(r"<\s*/?\s*[A-Za-z!][^<>]*>")
# Between a message's text and the orchestra's signature (the usual "-- " signature line).
SIGNATURE_SEPARATOR = "\n\n-- \n"


def check(text: str, allowed: tuple[str, ...] | list[str]) -> None:
    """Refuse, naming each by name, placeholders that would not be filled and any HTML tag."""
    problems = []
    unknown, malformed = [], []
    for match in _BRACES.finditer(text):
        name = match.group(1).strip()
        if not re.fullmatch(r"[A-Za-z_]+", name):
            malformed.append(match.group(0))
        elif name not in allowed:
            unknown.append(match.group(0))
    rest = _BRACES.sub("", text)
    if "{{" in rest or "}}" in rest:
        malformed.append("{{" if "{{" in rest else "}}")
    malformed += _SINGLE.findall(rest)
    if unknown:
        problems.append(
            _("Unknown variable: %(names)s. Use one of the variables listed.")
            % {"names": ", ".join(dict.fromkeys(unknown))}
        )
    if malformed:
        problems.append(
            _("Malformed variable: %(names)s. Write a variable as {{name}}.")
            % {"names": ", ".join(dict.fromkeys(malformed))}
        )
    tags = _TAG.findall(text)
    if tags:
        problems.append(
            _("HTML is not allowed in a plain-text e-mail: %(tags)s.")
            % {"tags": ", ".join(dict.fromkeys(tags))}
        )
    if problems:
        raise ValidationError(problems)


def signed(body: str, signature: str) -> str:
    return f"{body}{SIGNATURE_SEPARATOR}{signature}" if signature.strip() else body


def fill(text: str, values: dict[str, str]) -> str:
    """Replace known placeholders; unknown ones stay as written so a typo is visible."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


class Templates:
    """The bound orchestra's templates and signature, read in two queries (per action, never
    across actions: they belong to one orchestra's database and may be edited)."""

    def __init__(self):
        self.signature = SenderSettings.current().signature
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
    templates = templates or Templates()
    subject, body = templates.get(kind, language)
    # A subject is one line whatever a value holds (header injection).
    return " ".join(fill(subject, values).split()), signed(fill(body, values), templates.signature)

"""Checks on text that people type, shared by forms, services, spreadsheet imports and commands.

Names and addresses travel in line-based formats (e-mail headers, iCalendar, CSV); a line
break or another control character in them is never meant and breaks those formats, so it is
refused where the text comes in, with a message next to the field.
"""

from __future__ import annotations

import re

from django.core.exceptions import BadRequest, ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext_lazy as _

# C0 and C1 control characters (line breaks and tabs included), Unicode's line separators, and
# the bidirectional marks, embeddings, overrides and isolates that make a name display as
# something else.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Multi-line text (schedules, notes) keeps its tabs and line breaks.
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

_email = EmailValidator()


def has_control_characters(value: str) -> bool:
    return bool(_CONTROL.search(value))


def control_characters(value: str) -> list[str]:
    """The refused characters in `value` as U+XXXX, in order (for messages in commands)."""
    return [f"U+{ord(c):04X}" for c in _CONTROL.findall(value)]


def single_line(value: str) -> None:
    """A form field validator: no line breaks or other control characters."""
    if has_control_characters(value):
        raise ValidationError(
            _("Remove the line breaks and other invisible characters."), code="control_characters"
        )


def too_long(value: str, limit: int) -> None:
    """Refuse text longer than its column: SQLite would store it whole (and a page show it
    whole), PostgreSQL would fail the statement."""
    if len(value) > limit:
        raise ValidationError(
            _("At most %(limit)s characters (this has %(length)s)."),
            code="max_length",
            params={"limit": limit, "length": len(value)},
        )


def strip_control_characters(text: str) -> str:
    """Multi-line text for line-based formats: one kind of line break, no other controls."""
    text = re.sub(r"\r\n?|[\u2028\u2029\x85]", "\n", text)
    return _CONTROL_IN_TEXT.sub("", text)


def email_address(value: str) -> str:
    """The address, trimmed; ValidationError (code "invalid") unless it is one valid address."""
    value = value.strip()
    if has_control_characters(value):
        raise ValidationError(
            _("An e-mail address cannot contain line breaks or invisible characters."),
            code="invalid",
        )
    try:
        _email(value)
    except ValidationError:
        raise ValidationError(
            _("Enter a valid e-mail address, like name@example.se."), code="invalid"
        ) from None
    return value


# --- ids posted by our own forms --------------------------------------------------------------

_MAX_ID = 2**63 - 1  # the largest value of a BigAutoField (PostgreSQL bigint, SQLite INTEGER)


def parse_id(value: str | None) -> int | None:
    """A database id as a form posts it: ASCII digits within the column's range, else None.

    (str.isdigit() also says yes to "²" and "١٢", which int() then refuses or reads.)
    """
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if number <= _MAX_ID else None


def require_id(value: str | None) -> int:
    """parse_id for a view: a malformed id is a bad request (400), never a server error."""
    number = parse_id(value)
    if number is None:
        raise BadRequest("Malformed id.")
    return number


def require_ids(values: list[str]) -> list[int]:
    return [require_id(value) for value in values]

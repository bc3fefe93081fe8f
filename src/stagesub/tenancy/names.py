"""Names people type that later travel in e-mail headers and pages (an orchestra's name).

A line break in an orchestra's name would break the From/Subject header of every e-mail the
orchestra sends (each one failing and retried forever), and control or bidi-override
characters make a name display as something else: such names are refused where they are typed.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Control (Cc: CR, LF, TAB, NUL, ...), format (Cf: bidi overrides, zero-width), line and
# paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})

MESSAGE = _("Line breaks and control characters are not allowed in a name.")


def control_characters(text: str) -> list[str]:
    """The refused characters in `text`, as U+XXXX, in order of appearance."""
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in _REFUSED_CATEGORIES]


def validate_name(text: str) -> None:
    if control_characters(text):
        raise ValidationError(MESSAGE, code="control_characters")

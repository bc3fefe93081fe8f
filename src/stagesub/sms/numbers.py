"""Phone numbers for SMS, in E.164 (roster.phones)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from stagesub.roster.phones import normalize_phone


def phone_or_blank(raw: str) -> str:
    """E.164 form of `raw`, or "" when it is not a phone number at all."""
    try:
        return normalize_phone(raw)
    except ValidationError:
        return ""

"""Phone numbers are stored in E.164 so "070-123 45 67" and "+46 70 123 45 67" are one number."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DEFAULT_REGION = "SE"


def normalize_phone(raw: str) -> str:
    """E.164 form of `raw` (Swedish numbers may omit +46), "" for blank; ValidationError if invalid."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise ValidationError(_("“%(phone)s” is not a valid phone number."), params={"phone": raw})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

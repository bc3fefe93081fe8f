"""The short answer link of a request SMS: /s/<offer pk in base 36>-<mac>/ on the orchestra's host.

Like the e-mail link (offers.tokens) it is an HMAC over the orchestra's id and the offer, so it
is unguessable and means nothing on another orchestra's host; shorter (72 bits, base64url) so
the SMS stays one message. It only leads to the e-mail link's page.
"""

from __future__ import annotations

import base64
import uuid

from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "stagesub.sms.short-link"
_MAC_LENGTH = 12  # base64url characters: 72 bits
_MAX_PK_DIGITS = 10


def _mac(orchestra_id: uuid.UUID, offer_pk: int, offer_id: str) -> str:
    digest = salted_hmac(_SALT, f"{orchestra_id}:{offer_pk}:{offer_id}", algorithm="sha256")
    return base64.urlsafe_b64encode(digest.digest()).decode()[:_MAC_LENGTH]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def make(orchestra_id: uuid.UUID, offer) -> str:
    return f"{_base36(offer.pk)}-{_mac(orchestra_id, offer.pk, offer.offer_id)}"


def offer_pk_from(token: str) -> int | None:
    """The offer the short token claims (not yet verified), or None if malformed."""
    pk, sep, mac = token.partition("-")  # (base 36 has no "-"; base64url may)
    if not sep or not pk or len(pk) > _MAX_PK_DIGITS or len(mac) != _MAC_LENGTH:
        return None
    try:
        return int(pk, 36)
    except ValueError:
        return None


def verify(orchestra_id: uuid.UUID, offer, token: str) -> bool:
    return constant_time_compare(token, make(orchestra_id, offer))

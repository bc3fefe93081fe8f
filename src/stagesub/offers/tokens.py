"""The musician's personal link: unguessable, bound to one offer of one orchestra.

The token is `<offer pk>-<mac>`, the mac an HMAC (keyed from SECRET_KEY) over the orchestra's
id and the offer. Nothing secret is stored: the link can be rebuilt for a reminder, and a
Göteborg token presented on Malmö's host fails the check (different orchestra id) before any
offer is shown. Whether it may still be used is decided by the offer (pending, not expired).
"""

from __future__ import annotations

import uuid

from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "stagesub.offers.response-link"
_MAC_LENGTH = 32  # base-32ish hex characters: 128 bits


def _mac(orchestra_id: uuid.UUID, offer_pk: int, offer_id: str) -> str:
    value = f"{orchestra_id}:{offer_pk}:{offer_id}"
    return salted_hmac(_SALT, value, algorithm="sha256").hexdigest()[:_MAC_LENGTH]


def make(orchestra_id: uuid.UUID, offer) -> str:
    return f"{offer.pk}-{_mac(orchestra_id, offer.pk, offer.offer_id)}"


def offer_pk_from(token: str) -> int | None:
    """The offer the token claims to be for (not yet verified), or None if malformed."""
    pk, sep, mac = token.partition("-")
    if not sep or not pk.isdigit() or len(pk) > 12 or len(mac) != _MAC_LENGTH:
        return None
    return int(pk)


def verify(orchestra_id: uuid.UUID, offer, token: str) -> bool:
    return constant_time_compare(token, make(orchestra_id, offer))

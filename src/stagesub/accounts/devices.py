"""Known devices: a signed cookie, set on a successful login, naming the accounts it logged in to.

A browser that once logged in to an account with the right password gets its own failure
budget for that account, so an attacker who exhausts the budget of unknown clients cannot lock
the account's owner out (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").
The cookie is signed with the deployment secret: it cannot be forged or edited, only copied.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

COOKIE_NAME = "stagesub_device"
_SALT = "stagesub.accounts.devices"
# One browser shared by a few colleagues stays known to each of them; older ones drop off.
_MAX_ACCOUNTS = 10


@dataclass(frozen=True)
class KnownDevice:
    id: str
    accounts: tuple[str, ...]

    def knows(self, account: str) -> bool:
        return account in self.accounts


def _max_age() -> int:
    return settings.LOGIN_KNOWN_DEVICE_DAYS * 24 * 3600


def read(request) -> KnownDevice | None:
    """The device named by the request's cookie, or None (absent, forged, expired, malformed)."""
    value = request.COOKIES.get(COOKIE_NAME)
    if not value:
        return None
    try:
        data = signing.loads(value, salt=_SALT, max_age=_max_age())
        device_id, accounts = data["d"], data["a"]
    except (signing.BadSignature, KeyError, TypeError):
        return None
    if not isinstance(device_id, str) or not isinstance(accounts, list):
        return None
    return KnownDevice(device_id, tuple(a for a in accounts if isinstance(a, str)))


def remember(response, device: KnownDevice | None, account: str) -> None:
    """Set (or refresh) the cookie so this browser is known to `account`, most recent first."""
    device_id = device.id if device else secrets.token_hex(16)
    others = [a for a in (device.accounts if device else ()) if a != account]
    value = signing.dumps(
        {"d": device_id, "a": [account, *others][:_MAX_ACCOUNTS]}, salt=_SALT, compress=True
    )
    # Host-only like the session cookie: a device known on one orchestra's host means nothing
    # on another.
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=_max_age(),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )

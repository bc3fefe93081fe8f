"""Signing a musician in: sign-in links by e-mail and the musician session cookie.

A link's token is `<secret>.<mac>`: the mac (HMAC keyed from SECRET_KEY) covers the orchestra's
id, so a Göteborg link opened on Malmö's host is recognised as made elsewhere and refused before
any database is read; the secret's SHA-256 is what the orchestra's database stores. Using a link
is one conditional UPDATE (unused and unexpired -> used), so of two clicks at once exactly one
signs in. The session is a signed cookie naming the musician, bound to the orchestra the same
way and scoped to /me/: it is never a staff login and opens nothing else.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from stagesub.messaging import outbox
from stagesub.messaging.models import Kind
from stagesub.portal.models import SignInLink
from stagesub.roster.models import Musician
from stagesub.tenancy.context import orchestra_atomic
from stagesub.tenancy.due import note_due

_LINK_SALT = "stagesub.portal.sign-in-link"
_SESSION_SALT = "stagesub.portal.session"
COOKIE = "stagesub_musician"
COOKIE_PATH = "/me/"

# Why a link did not sign anyone in (the page explains each).
WRONG_HOST, INVALID, USED, EXPIRED = "wrong_host", "invalid", "used", "expired"


def _mac(orchestra_id: uuid.UUID, secret: str) -> str:
    return salted_hmac(_LINK_SALT, f"{orchestra_id}:{secret}", algorithm="sha256").hexdigest()[:32]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def musician_for_email(email: str) -> Musician | None:
    """Who may have a link for this address: anyone on the roster who is not archived."""
    return (
        Musician.objects.filter(email__iexact=email.strip())
        .exclude(status=Musician.Status.ARCHIVED)
        .first()
    )


def request_link(
    email: str, *, orchestra_id: uuid.UUID, base_url: str, now: datetime.datetime
) -> bool:
    """Queue a sign-in link for the musician with this address; False if none was sent (no such
    musician, or their hourly allowance is spent). The caller answers the same either way."""
    with orchestra_atomic():
        musician = musician_for_email(email)
        if musician is None:
            return False
        musician = Musician.objects.select_for_update().get(pk=musician.pk)  # counts serialise
        recent = SignInLink.objects.filter(
            musician=musician, created_at__gt=now - datetime.timedelta(hours=1)
        ).count()
        if recent >= settings.PORTAL_LINKS_PER_HOUR:
            return False
        secret = secrets.token_urlsafe(24)
        minutes = settings.PORTAL_LINK_MINUTES
        SignInLink.objects.create(
            musician=musician,
            digest=_digest(secret),
            created_at=now,
            expires_at=now + datetime.timedelta(minutes=minutes),
        )
        url = f"{base_url}me/link/{secret}.{_mac(orchestra_id, secret)}/"
        outbox.queue_written(
            kind=Kind.PORTAL_LINK,
            musician=musician,
            subject=_("Your personal page"),
            body=_(
                "Hello %(name)s!\n\nOpen your personal page with this link:\n%(url)s\n\n"
                "The link works once and for %(minutes)s minutes. If you did not ask for it, "
                "you can ignore this e-mail."
            )
            % {"name": musician.first_name, "url": url, "minutes": minutes},
            now=now,
        )
        note_due(now)
    return True


@dataclass(frozen=True)
class SignIn:
    musician: Musician | None
    refused: str = ""


def check_link(token: str, *, orchestra_id: uuid.UUID) -> str:
    """Why the token cannot be this orchestra's link ("" if it may be), reading no database."""
    secret, dot, mac = token.rpartition(".")
    if not dot or not secret or len(secret) > 64:
        return INVALID
    if not constant_time_compare(mac, _mac(orchestra_id, secret)):
        # A well-formed link whose mac fails here was made for another orchestra (or forged).
        return WRONG_HOST
    return ""


def use_link(token: str, *, orchestra_id: uuid.UUID, now: datetime.datetime) -> SignIn:
    refused = check_link(token, orchestra_id=orchestra_id)
    if refused:
        return SignIn(None, refused)
    digest = _digest(token.rpartition(".")[0])
    with orchestra_atomic():
        won = SignInLink.objects.filter(
            digest=digest, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        link = SignInLink.objects.select_related("musician").filter(digest=digest).first()
    if link is None:
        return SignIn(None, INVALID)
    if not won:
        return SignIn(None, USED if link.used_at else EXPIRED)
    if link.musician.status == Musician.Status.ARCHIVED:
        return SignIn(None, INVALID)
    return SignIn(link.musician)


def session_value(orchestra_id: uuid.UUID, musician: Musician) -> str:
    return signing.dumps([str(orchestra_id), musician.pk], salt=_SESSION_SALT)


def session_musician(orchestra_id: uuid.UUID, value: str | None) -> Musician | None:
    """The musician the cookie names, if it was made on this orchestra and is still fresh."""
    if not value:
        return None
    max_age = datetime.timedelta(days=settings.PORTAL_SESSION_DAYS)
    try:
        bound, pk = signing.loads(value, salt=_SESSION_SALT, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if bound != str(orchestra_id) or not isinstance(pk, int):
        return None
    return Musician.objects.exclude(status=Musician.Status.ARCHIVED).filter(pk=pk).first()

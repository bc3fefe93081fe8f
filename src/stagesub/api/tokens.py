"""API tokens: created, checked, revoked and rate-limited here; views and commands call these."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from stagesub.api.models import ApiToken

PREFIX = "ss"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(subdomain: str, name: str, *, write: bool = False) -> tuple[ApiToken, str]:
    """Returns the stored token and the raw value, which is shown once and never kept."""
    # The subdomain in the token lets a host refuse another orchestra's token before any lookup.
    raw = f"{PREFIX}_{subdomain}_{secrets.token_hex(24)}"
    token = ApiToken.objects.create(name=name[:100], digest=_digest(raw), can_write=write)
    return token, raw


def revoke(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def authenticate(raw: str, subdomain: str) -> ApiToken | None:
    """The live token for raw on this orchestra's host, or None (wrong host, unknown, revoked,
    expired). Records the use."""
    parts = raw.split("_")
    if len(parts) != 3 or parts[0] != PREFIX or not hmac.compare_digest(parts[1], subdomain):
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.filter(digest=_digest(raw), revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if token is not None:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


@dataclass
class Limit:
    allowed: bool
    retry_after: int


def take(token: ApiToken, *, now: datetime.datetime | None = None) -> Limit:
    """Counts one request in the token's fixed window; single UPDATE statements, so concurrent
    processes cannot both pass the last slot."""
    now = now or timezone.now()
    window = datetime.timedelta(seconds=settings.API_RATE_WINDOW)
    start = now - window
    limit = settings.API_RATE_LIMIT
    rows = ApiToken.objects.filter(pk=token.pk, window_start__gt=start, window_count__lt=limit)
    if rows.update(window_count=F("window_count") + 1):
        return Limit(True, 0)
    fresh = ApiToken.objects.filter(pk=token.pk).filter(
        Q(window_start__isnull=True) | Q(window_start__lte=start)
    )
    if fresh.update(window_start=now, window_count=1):
        return Limit(True, 0)
    begun = ApiToken.objects.filter(pk=token.pk).values_list("window_start", flat=True).first()
    left = (begun + window - now).total_seconds() if begun else 1
    return Limit(False, max(1, int(left) + 1))

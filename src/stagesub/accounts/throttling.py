"""Login throttling: too many failures from one address or for one username blocks for a while.

Kept in the control database (not process memory) so every web process sees the same count.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from stagesub.accounts.models import LoginAttempt


def _window_start():
    return timezone.now() - timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW)


def is_throttled(*, ip: str | None, username: str) -> bool:
    recent = LoginAttempt.objects.filter(at__gte=_window_start())
    limit = settings.LOGIN_THROTTLE_ATTEMPTS
    by_user = recent.filter(username=username.lower()).count() if username else 0
    by_ip = recent.filter(ip=ip).count() if ip else 0
    return by_user >= limit or by_ip >= limit


def record_failure(*, ip: str | None, username: str, host: str) -> None:
    LoginAttempt.objects.create(ip=ip, username=username.lower()[:150], host=host[:255])


def clear_failures(*, username: str) -> None:
    # Only the username's failures: one good login must not reset an address that is guessing
    # at other accounts.
    LoginAttempt.objects.filter(username=username.lower()).delete()

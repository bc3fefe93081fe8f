"""Login throttling: guessing is bounded per account, and nobody without the password can lock
the account's owner out. The design and its numbers are in docs/architecture.md.

Every password check spends one unit of exactly one budget, chosen by what the client proves:

* a **known device** (signed cookie from an earlier successful login to this account):
  ``LOGIN_THROTTLE_KNOWN_ATTEMPTS`` failures per window for that account on that device;
* else a **known address** (an address that logged in to this account within
  ``LOGIN_KNOWN_ADDRESS_DAYS``): the same number for that account from that address;
* else an **unknown client**: ``LOGIN_THROTTLE_ACCOUNT_ATTEMPTS`` failures per window for the
  account from all unknown clients together, and ``LOGIN_THROTTLE_ADDRESS_ATTEMPTS`` per
  window from the address over all usernames. An address that guesses much blocks itself only.

Counts live in the control database (every web process sees them). An attempt's row is written
before the password is checked and counted with it, so concurrent guesses cannot all slip
under a budget at once; a throttled attempt checks no password and leaves no row.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from stagesub.accounts.devices import KnownDevice
from stagesub.accounts.models import KnownAddress, LoginAttempt, ThrottleNotice
from stagesub.tenancy.models import AuditEvent, Orchestra

Channel = LoginAttempt.Channel
Scope = ThrottleNotice.Scope


def account_key(username: str) -> str:
    """The account a login name stands for: every spelling that authenticates as one user gives
    one key, so all of them share the user's budget.

    The login form normalises to NFKC (Django's UsernameField, as
    AbstractBaseUser.normalize_username) and looks the result up exactly; usernames are unique
    case-insensitively. NFKC then casefold (and NFKC again, as casefold can undo it) maps every
    such spelling, a fullwidth "ｇ" included, to the same key, existing account or not.
    """
    folded = unicodedata.normalize("NFKC", username.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)[:254]


@dataclass(frozen=True)
class Attempt:
    """One login attempt after the throttle's decision: throttled, or allowed to check."""

    account: str
    address: str | None
    channel: Channel
    device: KnownDevice | None  # the browser's device cookie, whichever accounts it knows
    row_id: int | None = None
    throttled_by: Scope | None = None
    retry_after: int = 0  # seconds until the exhausted budget allows a check again

    @property
    def throttled(self) -> bool:
        return self.throttled_by is not None


def begin(*, username: str, address: str | None, device: KnownDevice | None, host: str) -> Attempt:
    """Decide whether this attempt may check a password; if so it already counts as a failure
    until :func:`succeeded` says otherwise."""
    now = timezone.now()
    window = timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW)
    # Pruning here keeps the table to one window of rows without any scheduled job.
    LoginAttempt.objects.filter(at__lt=now - window).delete()
    account = account_key(username)
    channel = _channel(account, address, device, now)
    row = LoginAttempt.objects.create(
        at=now,
        account=account,
        channel=channel,
        device=device.id if channel == Channel.DEVICE else "",
        ip=address,
        host=host[:255],
    )
    for scope, spent, limit in _budgets(account, address, channel, device):
        spent = spent.filter(at__gte=now - window)
        if spent.count() > limit:
            row.delete()
            return Attempt(
                account,
                address,
                channel,
                device,
                throttled_by=scope,
                retry_after=_retry_after(spent, limit, window, now),
            )
    return Attempt(account, address, channel, device, row_id=row.pk)


def succeeded(attempt: Attempt) -> None:
    """The password was right: the attempt is no failure, and the client is known from now on."""
    now = timezone.now()
    LoginAttempt.objects.filter(pk=attempt.row_id).delete()
    # The owner's own typos on their device or address are forgiven; failures of unknown
    # clients are not, since an attacker shares that budget and must not get it back.
    if attempt.channel == Channel.DEVICE:
        LoginAttempt.objects.filter(
            account=attempt.account, channel=Channel.DEVICE, device=attempt.device.id
        ).delete()
    elif attempt.channel == Channel.ADDRESS:
        LoginAttempt.objects.filter(
            account=attempt.account, channel=Channel.ADDRESS, ip=attempt.address
        ).delete()
    if attempt.address:
        _remember_address(attempt.account, attempt.address, now)
    KnownAddress.objects.filter(
        last_login_at__lt=now - timedelta(days=settings.LOGIN_KNOWN_ADDRESS_DAYS)
    ).delete()


def note_throttled(attempt: Attempt, *, orchestra: Orchestra | None, host: str) -> AuditEvent:
    """Count a throttled attempt in the audit log: one event per account or address and window
    (fixed windows of LOGIN_THROTTLE_WINDOW seconds), its count updated, not one row each."""
    assert attempt.throttled_by is not None
    now = timezone.now()
    window = settings.LOGIN_THROTTLE_WINDOW
    window_start = datetime.fromtimestamp(now.timestamp() // window * window, tz=UTC)
    scope = attempt.throttled_by
    key = attempt.account if scope == Scope.ACCOUNT else attempt.address or ""
    notices = ThrottleNotice.objects.filter(scope=scope, key=key, window_start=window_start)
    with transaction.atomic():
        # The UPDATE locks the notice's row until commit, so concurrent processes add their
        # counts one after the other and the event ends up showing the latest.
        if not notices.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    return _open_notice(
                        attempt, scope, key, window_start, orchestra=orchestra, host=host, now=now
                    )
            except IntegrityError:
                # Another process opened this window's notice first: add to theirs.
                notices.update(count=F("count") + 1)
        notice = notices.select_related("audit_event").get()
        event = notice.audit_event
        event.details = {**event.details, "count": notice.count, "last_at": now.isoformat()}
        event.save(update_fields=["details"])
        return event


def _open_notice(
    attempt: Attempt,
    scope: Scope,
    key: str,
    window_start: datetime,
    *,
    orchestra: Orchestra | None,
    host: str,
    now: datetime,
) -> AuditEvent:
    window = settings.LOGIN_THROTTLE_WINDOW
    event = AuditEvent.objects.create(
        action="login.throttled",
        actor_label=attempt.account[:150] if scope == Scope.ACCOUNT else "",
        orchestra=orchestra,
        orchestra_label=orchestra.subdomain if orchestra else "",
        ip=attempt.address,
        details={
            "scope": scope.value,
            "key": key,
            "channel": attempt.channel.value,
            "host": host[:255],
            "window_start": window_start.isoformat(),
            "window_seconds": window,
            "count": 1,
            "last_at": now.isoformat(),
        },
    )
    ThrottleNotice.objects.create(
        scope=scope, key=key, window_start=window_start, count=1, audit_event=event
    )
    # Notices only serve to find the current window's event; their events stay in the log.
    ThrottleNotice.objects.filter(
        window_start__lt=window_start - timedelta(seconds=window)
    ).delete()
    return event


def _channel(
    account: str, address: str | None, device: KnownDevice | None, now: datetime
) -> Channel:
    if device is not None and device.knows(account):
        return Channel.DEVICE
    if (
        address
        and KnownAddress.objects.filter(
            account=account,
            ip=address,
            last_login_at__gte=now - timedelta(days=settings.LOGIN_KNOWN_ADDRESS_DAYS),
        ).exists()
    ):
        return Channel.ADDRESS
    return Channel.UNKNOWN


def _budgets(
    account: str, address: str | None, channel: Channel, device: KnownDevice | None
) -> list[tuple[Scope, QuerySet, int]]:
    """(scope reported when exhausted, the attempts that spend the budget, failures allowed)."""
    attempts = LoginAttempt.objects.filter(channel=channel)
    if channel == Channel.DEVICE:
        return [
            (
                Scope.ACCOUNT,
                attempts.filter(account=account, device=device.id),
                settings.LOGIN_THROTTLE_KNOWN_ATTEMPTS,
            )
        ]
    if channel == Channel.ADDRESS:
        return [
            (
                Scope.ACCOUNT,
                attempts.filter(account=account, ip=address),
                settings.LOGIN_THROTTLE_KNOWN_ATTEMPTS,
            )
        ]
    budgets = []
    if address:
        budgets.append(
            (Scope.ADDRESS, attempts.filter(ip=address), settings.LOGIN_THROTTLE_ADDRESS_ATTEMPTS)
        )
    budgets.append(
        (Scope.ACCOUNT, attempts.filter(account=account), settings.LOGIN_THROTTLE_ACCOUNT_ATTEMPTS)
    )
    return budgets


def _retry_after(spent: QuerySet, limit: int, window: timedelta, now: datetime) -> int:
    # Once the limit-th most recent attempt leaves the window, fewer than `limit` remain and
    # the next check is allowed.
    times = list(spent.order_by("-at").values_list("at", flat=True)[limit - 1 : limit])
    if not times:
        return 1
    return max(1, math.ceil((times[0] + window - now).total_seconds()))


def _remember_address(account: str, address: str, now: datetime) -> None:
    known = KnownAddress.objects.filter(account=account, ip=address)
    if known.update(last_login_at=now):
        return
    try:
        with transaction.atomic():
            KnownAddress.objects.create(account=account, ip=address, last_login_at=now)
    except IntegrityError:
        known.update(last_login_at=now)  # a concurrent login from the same address got there first

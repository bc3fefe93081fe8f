"""Second factor: TOTP (an authenticator app) with one-time recovery codes, via django-otp.

Who must use one: every superadmin, and an orchestra's admins when that orchestra requires it
(`SecondFactorPolicy`, control database). Anyone else may. A user with a confirmed device types
a code after the password (accounts.views.LoginCodeView); a user who must have one and has
none reaches only the enrolment page (accounts.middleware.SecondFactorMiddleware).
"""

from __future__ import annotations

import base64

import segno
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from stagesub.accounts.models import SecondFactorPolicy, User

RECOVERY_CODES = 10
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"


# The rule is read on every page an unverified admin opens; a short per-process cache keeps
# that off the control database (a change reaches other processes within this many seconds).
POLICY_CACHE_SECONDS = 10


def _policy_key(orchestra_id) -> str:
    return f"stagesub:second-factor-policy:{orchestra_id}"


def admins_required(orchestra) -> bool:
    orchestra_id = getattr(orchestra, "pk", orchestra)
    required = cache.get(_policy_key(orchestra_id))
    if required is None:
        required = SecondFactorPolicy.objects.filter(
            orchestra=orchestra_id, admins_required=True
        ).exists()
        cache.set(_policy_key(orchestra_id), required, POLICY_CACHE_SECONDS)
    return required


def required_for(user: User) -> bool:
    if user.is_superadmin:
        return settings.SUPERADMIN_SECOND_FACTOR
    return user.role == User.Role.ADMIN and admins_required(user.orchestra_id)


def has_device(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_device(user: User) -> TOTPDevice:
    """The unconfirmed authenticator being set up (the same secret until it is confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def qr_svg_data_uri(device: TOTPDevice) -> str:
    """The device's otpauth:// URI as an SVG QR code, drawn here (no outside service); a data
    URI because the CSP allows images from data: but no inline markup with style."""
    qr = segno.make(device.config_url, error="m")
    return qr.svg_data_uri(scale=5, dark="#111", light="#fff", border=2)


def secret_text(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for typing into an app by hand."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def confirm(request, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the device with a code from the app; returns the new recovery codes (shown
    once), or None when the code is wrong. The session counts as verified from then on."""
    if not device.verify_token(code.replace(" ", "")):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = new_recovery_codes(device.user)
    otp_login(request, device)
    return codes


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes. The page shows them once, when they are made; no page
    shows them again."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def verify(user: User, code: str):
    """The device that accepts this code (a TOTP code, or a recovery code, used up), or None."""
    return match_token(user, code.replace(" ", "").strip())


def remove(user: User) -> None:
    """Turn the second factor off (only for users who are not required to have one)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def set_admins_required(orchestra, required: bool, *, by: User) -> None:
    SecondFactorPolicy.objects.update_or_create(
        orchestra=orchestra, defaults={"admins_required": required, "changed_by": by}
    )
    cache.set(_policy_key(orchestra.pk), required, POLICY_CACHE_SECONDS)

"""Login accounts (control database): superadmins, and each orchestra's admins and members."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StageSubUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        # Django's superuser is our superadmin: without the role the row breaks the
        # role_matches_orchestra constraint (a member needs an orchestra), and the console,
        # which asks for the role, would not open for it.
        extra_fields.setdefault("role", User.Role.SUPERADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    class Role(models.TextChoices):
        SUPERADMIN = "superadmin", _("Superadmin")
        ADMIN = "admin", _("Administrator")
        MEMBER = "member", _("Member")

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    # PROTECT, not CASCADE: removing an orchestra must never silently delete its people.
    orchestra = models.ForeignKey(
        "tenancy.Orchestra", on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )

    objects = StageSubUserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="role_matches_orchestra",
                condition=(
                    models.Q(role="superadmin", orchestra__isnull=True)
                    | models.Q(role__in=["admin", "member"], orchestra__isnull=False)
                ),
            )
        ]

    @property
    def is_superadmin(self) -> bool:
        return self.role == self.Role.SUPERADMIN

    def belongs_to(self, orchestra) -> bool:
        return (
            orchestra is not None and not self.is_superadmin and self.orchestra_id == orchestra.pk
        )


class LoginAttempt(models.Model):
    """One password check for an account, kept for the throttle window (accounts.throttling).

    The row is written before the password is checked and removed again if the login
    succeeds, so in-flight checks already count: concurrent guesses cannot overrun a budget.
    """

    class Channel(models.TextChoices):
        # Which budget the attempt spends: see accounts.throttling.
        UNKNOWN = "unknown", "unknown client"
        DEVICE = "device", "known device"
        ADDRESS = "address", "known address"

    at = models.DateTimeField(db_index=True)
    # The account as authentication normalises it (throttling.account_key), existing or not.
    account = models.CharField(max_length=254)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    device = models.CharField(max_length=32, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    host = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["account", "channel", "at"], name="loginattempt_account"),
            models.Index(fields=["ip", "channel", "at"], name="loginattempt_address"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.account} from {self.ip} ({self.channel})"


class KnownAddress(models.Model):
    """An address that logged in to an account successfully: it gets its own failure budget."""

    account = models.CharField(max_length=254)
    ip = models.GenericIPAddressField()
    last_login_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "ip"], name="knownaddress_account_ip")
        ]

    def __str__(self) -> str:
        return f"{self.account} from {self.ip}"


class ThrottleNotice(models.Model):
    """The one audit event per throttled account or address and window, and its count.

    The unique key makes concurrent processes agree on a single audit row to update.
    """

    class Scope(models.TextChoices):
        ACCOUNT = "account", "account"
        ADDRESS = "address", "address"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    key = models.CharField(max_length=254)
    window_start = models.DateTimeField(db_index=True)
    count = models.PositiveIntegerField(default=0)
    audit_event = models.OneToOneField("tenancy.AuditEvent", on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key", "window_start"], name="throttlenotice_once_per_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} from {self.window_start:%Y-%m-%d %H:%M}: {self.count}"


class Invitation(models.Model):
    """A link that lets one person create their own account, on the host it was issued for.

    No orchestra means a superadmin invitation (platform host). Only a hash of the link's
    secret is stored. Accepting is one conditional UPDATE on `accepted_at` (accounts.invitations),
    so a link used twice at once creates one account.
    """

    token_hash = models.CharField(max_length=64, unique=True)
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=20, choices=User.Role.choices)
    orchestra = models.ForeignKey(
        "tenancy.Orchestra",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations",
    )
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="invitation_role_matches_orchestra",
                condition=(
                    models.Q(role="superadmin", orchestra__isnull=True)
                    | models.Q(role__in=["admin", "member"], orchestra__isnull=False)
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.role})"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class SecondFactorPolicy(models.Model):
    """An orchestra's choice to require a second factor (TOTP) of its admins.

    Kept in the control database with the accounts it applies to; no row means "optional".
    """

    orchestra = models.OneToOneField(
        "tenancy.Orchestra", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    admins_required = models.BooleanField(default=False)
    changed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.orchestra_id}: admins {'must' if self.admins_required else 'may'} use TOTP"

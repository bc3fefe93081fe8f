"""Login accounts (control database): superadmins, and each orchestra's admins and members."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


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
    """Failed logins, counted per client address and per username to throttle guessing."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    host = models.CharField(max_length=255, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} from {self.ip}"

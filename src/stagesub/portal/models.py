"""The musician's personal page: sign-in links, their calendar feed, and what they changed."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from stagesub.roster.models import Musician


class SignInLink(models.Model):
    """A single-use, expiring link that starts a musician session on this orchestra's host.

    Only a digest of the token is stored: a copy of the database cannot be used to sign in.
    """

    musician = models.ForeignKey(Musician, on_delete=models.CASCADE, related_name="sign_in_links")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["musician", "created_at"], name="sign_in_link_recent")]

    def __str__(self) -> str:
        return f"sign-in link {self.pk} ({self.musician_id})"


class MusicianFeed(models.Model):
    """The private calendar feed of one musician's engagements (renewing revokes the old URL)."""

    musician = models.OneToOneField(Musician, on_delete=models.CASCADE, related_name="feed")
    token = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return f"calendar feed of {self.musician_id}"


class ContactChange(models.Model):
    """That a musician changed a contact detail themselves (which field, when) for the staff.

    The old and new values are not kept: the musician row holds the current one, and a log
    of old addresses would be personal data outliving its use.
    """

    class Field(models.TextChoices):
        EMAIL = "email", _("e-mail")
        PHONE = "phone", _("phone")
        LANGUAGE = "preferred_language", _("language")

    musician = models.ForeignKey(Musician, on_delete=models.CASCADE, related_name="contact_changes")
    field = models.CharField(max_length=30, choices=Field.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.musician_id} changed {self.field}"


class Erasure(models.Model):
    """That a musician's personal data was erased (who asked, when): the row stays so counts
    stay true, and the retention job does not erase twice."""

    musician = models.OneToOneField(Musician, on_delete=models.PROTECT, related_name="erasure")
    at = models.DateTimeField()
    by = models.CharField(max_length=150)

    def __str__(self) -> str:
        return f"{self.musician_id} erased {self.at:%Y-%m-%d}"


class Retention(models.Model):
    """How long the orchestra keeps personal data (one row); empty means keep."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    message_body_days = models.PositiveIntegerField(
        _("empty message texts after (days)"), null=True, blank=True
    )
    archived_erase_months = models.PositiveIntegerField(
        _("erase archived musicians after (months)"), null=True, blank=True
    )

    def __str__(self) -> str:
        return f"retention {self.message_body_days}d / {self.archived_erase_months}m"

    @classmethod
    def current(cls) -> Retention:
        return cls.objects.filter(pk=1).first() or cls()

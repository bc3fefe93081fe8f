"""Instruments, positions (a seat type within an instrument), musicians, qualifications."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class Instrument(models.Model):
    instrument_id = models.CharField(max_length=20, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)
    display_order = models.PositiveIntegerField(_("display order"), default=0)
    is_archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_order", "name"]

    def __str__(self) -> str:
        return self.name


class Position(models.Model):
    """A seat type, e.g. "Tutti violin 1"; hierarchy level 1 is the most senior."""

    position_id = models.CharField(max_length=20, unique=True, editable=False)
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions")
    name = models.CharField(_("name"), max_length=100)
    hierarchy_level = models.PositiveIntegerField(_("hierarchy level"), default=1)

    class Meta:
        ordering = ["instrument__display_order", "instrument__name", "hierarchy_level", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "name"], name="position_name_unique_per_instrument"
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument.name} – {self.name}"


class Musician(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")
        ARCHIVED = "archived", _("Archived")

    class Language(models.TextChoices):
        SWEDISH = "sv", "Svenska"
        ENGLISH = "en", "English"

    musician_id = models.CharField(max_length=20, unique=True, editable=False)
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    # Stored as entered (trimmed); uniqueness is case-insensitive (constraint below).
    email = models.EmailField(_("e-mail"), max_length=254)
    # E.164 (+46701234567) or empty; see roster.phones.
    phone = models.CharField(_("phone"), max_length=20, blank=True, default="")
    preferred_language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.SWEDISH
    )
    local_residence = models.BooleanField(_("local resident"), default=False)
    notes = models.TextField(_("internal notes"), blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    archived_at = models.DateTimeField(null=True, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    qualifications = models.ManyToManyField(
        Position, through="Qualification", related_name="musicians", blank=True
    )

    class Meta:
        ordering = ["first_name", "last_name"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="musician_email_unique_ci"),
            models.UniqueConstraint(
                fields=["phone"], condition=~models.Q(phone=""), name="musician_phone_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Qualification(models.Model):
    musician = models.ForeignKey(
        Musician, on_delete=models.CASCADE, related_name="qualification_links"
    )
    # PROTECT: a position that musicians hold cannot be deleted.
    position = models.ForeignKey(
        Position, on_delete=models.PROTECT, related_name="qualification_links"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["musician", "position"], name="qualification_unique")
        ]

    def __str__(self) -> str:
        return f"{self.musician} – {self.position}"


class Unavailability(models.Model):
    """Days a musician said they cannot play (from their personal page): selection skips them
    for projects overlapping these days. Kept in the roster because it is a fact about the
    musician that selection reads beside their status, and goes with the musician on erasure."""

    musician = models.ForeignKey(
        Musician, on_delete=models.CASCADE, related_name="unavailabilities"
    )
    first_day = models.DateField(_("first day"))
    last_day = models.DateField(_("last day"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["first_day", "last_day", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last_day__gte=models.F("first_day")),
                name="unavailability_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.musician} {self.first_day}–{self.last_day}"

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class DatabaseStamp(models.Model):
    """The identity stamp: which orchestra this database belongs to. Exactly one row (id = 1).

    Written once when the database is provisioned; every process checks it before it first uses
    a connection (stagesub.tenancy.connections), and isolation checks compare it.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    orchestra_id = models.UUIDField()
    subdomain = models.CharField(max_length=40)
    stamped_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="single_stamp_row")]

    def __str__(self) -> str:
        return f"stamp {self.subdomain} {self.orchestra_id}"


class IdSequence(models.Model):
    """Counters behind readable ids (MUS001, PROJ001, ...): they only ever grow.

    Deleting or archiving never gives a number back; see stagesub.orchestra.ids.
    """

    prefix = models.CharField(max_length=10, unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}: {self.last_number}"


class OrchestraSettings(models.Model):
    """The orchestra's own settings (one row, id = 1; created with defaults when first read)."""

    class ConflictRule(models.TextChoices):
        SIMPLE = "simple", _("Simple: the first need processed wins")
        SMART = "smart", _("Smart: keep a musician for the need where they are ranked best")

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    reminder_percentage = models.PositiveSmallIntegerField(
        _("reminder after (% of the response time)"),
        default=75,
        validators=[MinValueValidator(10), MaxValueValidator(90)],
    )
    conflict_rule = models.CharField(
        _("musicians on several lists"),
        max_length=10,
        choices=ConflictRule.choices,
        default=ConflictRule.SIMPLE,
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="single_settings_row"),
            models.CheckConstraint(
                condition=models.Q(reminder_percentage__gte=10, reminder_percentage__lte=90),
                name="reminder_percentage_range",
            ),
        ]

    def __str__(self) -> str:
        return "settings"

    @classmethod
    def current(cls) -> OrchestraSettings:
        return cls.objects.get_or_create(pk=1)[0]

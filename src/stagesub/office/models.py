"""What the office records itself: only what no domain app keeps a row for."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from stagesub.projects.models import Need


class NeedAlert(models.Model):
    """A need found with seats open, nobody waiting for an answer and nobody more to ask.

    One row per need, ever (unique need): inserting it is the claim that makes the staff
    e-mail go out exactly once, however many workers find the need at the same time.
    """

    need = models.OneToOneField(Need, on_delete=models.CASCADE, related_name="office_alert")
    found_at = models.DateTimeField()
    # Staff addresses the e-mail was queued to (the outbox delivers it).
    recipients = models.JSONField(default=list)

    class Meta:
        ordering = ["-found_at"]

    def __str__(self) -> str:
        return f"{self.need.need_id} ran out at {self.found_at:%Y-%m-%d %H:%M}"


class ActivityEvent(models.Model):
    """A line of the activity feed that no other table records (settings changes so far)."""

    class Kind(models.TextChoices):
        SETTINGS_CHANGED = "settings_changed", _("Settings changed")

    kind = models.CharField(max_length=30, choices=Kind.choices)
    at = models.DateTimeField(db_index=True)
    by = models.CharField(max_length=150, blank=True, default="")
    detail = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"

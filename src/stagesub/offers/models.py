"""Offers: one musician asked for one need (a "förfrågan" in the Swedish UI)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from stagesub.offers import engine
from stagesub.projects.models import Need, Project
from stagesub.roster.models import Musician


class Offer(models.Model):
    class Status(models.TextChoices):
        PENDING = engine.PENDING, _("Waiting for an answer")
        ACCEPTED = engine.ACCEPTED, _("Accepted")
        DECLINED = engine.DECLINED, _("Declined")
        TIMED_OUT = engine.TIMED_OUT, _("No answer in time")
        WITHDRAWN = engine.WITHDRAWN, _("Withdrawn")

    offer_id = models.CharField(max_length=20, unique=True, editable=False)
    need = models.ForeignKey(Need, on_delete=models.PROTECT, related_name="offers")
    # Kept beside the need so the database itself can enforce one live offer per musician
    # and project (the constraint below), whatever races happen above it.
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="offers")
    musician = models.ForeignKey(Musician, on_delete=models.PROTECT, related_name="offers")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sent_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "musician"],
                condition=models.Q(status__in=sorted(engine.BLOCKING)),
                name="one_live_offer_per_musician_and_project",
            )
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} {self.musician} ({self.status})"

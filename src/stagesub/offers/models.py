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
    reminder_due_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sent_at", "pk"]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="offer_expiry"),
            models.Index(fields=["status", "reminder_due_at"], name="offer_reminder"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "musician"],
                condition=models.Q(status__in=sorted(engine.BLOCKING)),
                name="one_live_offer_per_musician_and_project",
            )
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} {self.musician} ({self.status})"


class OfferEvent(models.Model):
    """The communication log of one offer: what happened, when, and who did it."""

    class Kind(models.TextChoices):
        SENT = "sent", _("Request sent")
        REMINDED = "reminded", _("Reminder sent")
        ACCEPTED = "accepted", _("Answered yes")
        DECLINED = "declined", _("Answered no")
        TIMED_OUT = "timed_out", _("No answer in time")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        FILLED = "filled", _("Withdrawn: the seats were filled")
        RESENT = "resent", _("Message sent again")
        LATE_ANSWER = "late_answer", _("Answered after the seats were filled")

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    # Who acted: empty for the musician's own link and the scheduler, else the staff user.
    by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.offer.offer_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"

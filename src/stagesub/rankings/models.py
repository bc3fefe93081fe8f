"""Standard ranking lists: up to one A, one B and one C list per position."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from stagesub.roster.models import Musician, Position


class RankingList(models.Model):
    class ListType(models.TextChoices):
        A = "A", "A"
        B = "B", "B"
        C = "C", "C"

    ranking_list_id = models.CharField(max_length=20, unique=True, editable=False)
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="ranking_lists")
    list_type = models.CharField(_("list"), max_length=1, choices=ListType.choices)
    description = models.CharField(_("description"), max_length=300, blank=True, default="")
    # Bumped by every change of membership or order: a reorder based on an older version is
    # refused ("the list changed, reload") instead of silently mixing two people's edits.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position__instrument__display_order", "position__hierarchy_level", "list_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["position", "list_type"], name="one_list_per_type_and_position"
            )
        ]

    def __str__(self) -> str:
        return gettext("%(type)s list, %(position)s") % {
            "type": self.list_type,
            "position": self.position,
        }

    def candidate_musicians(self):
        """Qualified for the position and not archived (inactive ones may wait on the list)."""
        return Musician.objects.filter(qualifications=self.position).exclude(
            status=Musician.Status.ARCHIVED
        )


class RankingEntry(models.Model):
    ranking_list = models.ForeignKey(RankingList, on_delete=models.CASCADE, related_name="entries")
    musician = models.ForeignKey(Musician, on_delete=models.PROTECT, related_name="ranking_entries")
    rank = models.PositiveIntegerField()

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["ranking_list", "musician"], name="musician_once_per_list"
            ),
            models.UniqueConstraint(fields=["ranking_list", "rank"], name="rank_unique_per_list"),
        ]

    def __str__(self) -> str:
        return f"{self.rank}. {self.musician}"

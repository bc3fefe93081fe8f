"""Projects, needs and project lists (the orchestra's own database)."""

from __future__ import annotations

import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from stagesub.projects.weeks import iso_week, period_label
from stagesub.rankings.models import RankingList
from stagesub.roster.models import Musician, Position


class Project(models.Model):
    project_id = models.CharField(max_length=20, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    start_date = models.DateField(_("start date"))
    # The last day (inclusive). A project given as a week runs Monday–Sunday; musicians booked
    # in another project whose days overlap these are not asked (offers.selection).
    end_date = models.DateField(_("end date"))
    rehearsal_schedule = models.TextField(_("rehearsal schedule"), blank=True, default="")
    concert_info = models.TextField(_("concert information"), blank=True, default="")
    notes = models.TextField(_("notes"), blank=True, default="")
    is_archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start_date", "name"]
        constraints = [
            models.CheckConstraint(
                name="project_ends_after_it_starts",
                condition=models.Q(end_date__gte=models.F("start_date")),
            )
        ]
        indexes = [models.Index(fields=["start_date", "end_date"], name="project_period")]

    def __str__(self) -> str:
        return f"V. {self.week} {self.name}"

    @property
    def week(self) -> int:
        return iso_week(self.start_date)[1]

    @property
    def period_label(self) -> str:
        return period_label(self.start_date, self.end_date)

    def is_upcoming(self, today: datetime.date) -> bool:
        """Upcoming until its last day ends."""
        return today <= self.end_date


class ProjectList(models.Model):
    """A project's own ranking list for one position ("V. 12 Beethoven 5"), optionally a template."""

    list_id = models.CharField(max_length=20, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="lists")
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="project_lists")
    name = models.CharField(_("name"), max_length=200)
    is_template = models.BooleanField(_("save as template"), default=False)
    template_name = models.CharField(_("template name"), max_length=200, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position__instrument__display_order", "position__hierarchy_level"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "position"], name="one_project_list_per_position"
            )
        ]

    def __str__(self) -> str:
        return self.name

    list_type = "P"  # shown where A/B/C would be

    def candidate_musicians(self):
        """Qualified for the position and active: a project list is built for sending now."""
        return Musician.objects.filter(qualifications=self.position, status=Musician.Status.ACTIVE)


class ProjectListEntry(models.Model):
    project_list = models.ForeignKey(ProjectList, on_delete=models.CASCADE, related_name="entries")
    musician = models.ForeignKey(
        Musician, on_delete=models.PROTECT, related_name="project_list_entries"
    )
    rank = models.PositiveIntegerField()

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["project_list", "musician"], name="musician_once_per_project_list"
            ),
            models.UniqueConstraint(
                fields=["project_list", "rank"], name="rank_unique_per_project_list"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rank}. {self.musician}"


class Need(models.Model):
    class Strategy(models.TextChoices):
        SEQUENTIAL = "sequential", _("One at a time")
        PARALLEL = "parallel", _("Several in parallel")
        FIRST_COME = "first_come", _("First come")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Filled")
        ARCHIVED = "archived", _("Archived")

    need_id = models.CharField(max_length=20, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="needs")
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="needs")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    ranking_list = models.ForeignKey(
        RankingList, on_delete=models.PROTECT, null=True, blank=True, related_name="needs"
    )
    project_list = models.ForeignKey(
        ProjectList, on_delete=models.PROTECT, null=True, blank=True, related_name="needs"
    )
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices)
    max_recipients = models.PositiveIntegerField(_("max recipients"), null=True, blank=True)
    response_time_hours = models.PositiveIntegerField(_("response time (hours)"), default=48)
    require_local_residence = models.BooleanField(_("local residents only"), default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position__instrument__display_order", "position__hierarchy_level", "pk"]
        constraints = [
            models.CheckConstraint(
                name="need_uses_exactly_one_list",
                condition=(
                    models.Q(ranking_list__isnull=False, project_list__isnull=True)
                    | models.Q(ranking_list__isnull=True, project_list__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="need_quantity_positive", condition=models.Q(quantity__gte=1)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.need_id} {self.position} × {self.quantity}"

    @property
    def chosen_list(self):
        return self.project_list or self.ranking_list


class StoredFile(models.Model):
    """The bytes of an uploaded file, kept once under the orchestra's storage root."""

    key = models.CharField(max_length=64, unique=True)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.original_name


class ProjectFile(models.Model):
    """A file attached to a project (and maybe a need); several may share one StoredFile."""

    class FileType(models.TextChoices):
        GENERAL = "general_info", _("General information")
        SHEET_MUSIC = "sheet_music", _("Sheet music")

    class SendTiming(models.TextChoices):
        ON_REQUEST = "on_request", _("With the request")
        ON_ACCEPT = "on_accept", _("When accepted")

    file_id = models.CharField(max_length=20, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="files")
    need = models.ForeignKey(
        Need, on_delete=models.CASCADE, null=True, blank=True, related_name="files"
    )
    stored = models.ForeignKey(StoredFile, on_delete=models.PROTECT, related_name="links")
    display_name = models.CharField(_("name"), max_length=200)
    file_type = models.CharField(
        _("type"), max_length=20, choices=FileType.choices, default=FileType.GENERAL
    )
    send_timing = models.CharField(
        _("send"), max_length=20, choices=SendTiming.choices, default=SendTiming.ON_REQUEST
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return self.display_name


class CalendarFeed(models.Model):
    """The secret in the orchestra's calendar-feed URL (calendar apps cannot log in). One row."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return "calendar feed"

"""The project list's search, filters and orders, applied in the database (django-filter)."""

from __future__ import annotations

import datetime

import django_filters
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from stagesub.projects.services import with_staffing
from stagesub.roster.collation import swedish_order

SHOW = [
    ("upcoming", _("Upcoming")),
    ("past", _("Past")),
    ("all", _("All")),
    ("archived", _("Archived")),
]
SORT = [
    ("date", _("Date")),
    ("created", _("Newest")),
    ("name", _("Name")),
    ("staffing", _("Staffing")),
]
DEFAULTS = {"show": "upcoming", "sort": "date"}


class ProjectFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    show = django_filters.ChoiceFilter(
        label=_("Show"), choices=SHOW, method="by_state", empty_label=None
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort"), choices=SORT, method="by_order", empty_label=None
    )

    def __init__(self, data=None, *args, today: datetime.date, **kwargs):
        data = data.copy() if data is not None else {}
        for key, choices in (("show", SHOW), ("sort", SORT)):
            # A bare /projects/ shows what is coming, soonest first; so does an unknown value.
            if data.get(key) not in dict(choices):
                data[key] = DEFAULTS[key]
        super().__init__(data, *args, **kwargs)
        self.today = today
        for name in ("show", "sort"):
            self.form.fields[name].widget.attrs["data-autosubmit"] = ""

    def search(self, queryset: QuerySet, _name, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(project_id__iexact=value))

    def by_state(self, queryset: QuerySet, _name, value: str) -> QuerySet:
        if value == "archived":
            return queryset.filter(is_archived=True)
        if value == "all":  # archived ones too, with their badge
            return queryset
        live = queryset.filter(is_archived=False)
        if value == "past":
            return live.filter(end_date__lt=self.today)
        return live.filter(end_date__gte=self.today)

    def by_order(self, queryset: QuerySet, _name, value: str) -> QuerySet:
        if value == "name":
            return queryset.order_by(swedish_order("name"), "pk")
        if value == "created":
            return queryset.order_by("-created_at", "-pk")
        if value == "staffing":  # best staffed first; projects without needs last
            return with_staffing(queryset).order_by(
                F("staffing_share").desc(nulls_last=True), "start_date", "pk"
            )
        # Upcoming first, soonest first; then past ones, most recent first.
        upcoming = Q(end_date__gte=self.today)
        return queryset.annotate(
            is_past=Case(
                When(upcoming, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        ).order_by(
            "is_past",
            Case(When(upcoming, then=F("start_date"))).asc(nulls_last=True),
            F("start_date").desc(),
            "pk",
        )

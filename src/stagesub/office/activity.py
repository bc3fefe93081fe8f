"""The orchestra's activity feed, read from the rows each app already keeps.

Offers' communication log (OfferEvent), projects' created/archived times, musicians' created
times, filled needs and the office's own NeedAlert and ActivityEvent rows are each shaped into
the same columns and combined with one UNION ALL, so filtering, ordering and paging happen in
the database (django-filter's FilterSet applied to every part, Django's Paginator on the union).
"""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.db.models import (
    CharField,
    DateTimeField,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stagesub.offers.models import OfferEvent
from stagesub.office.models import ActivityEvent, NeedAlert
from stagesub.orchestra.models import OrchestraSettings
from stagesub.projects.models import Need, Project
from stagesub.roster.models import Musician
from stagesub.web import observability

PROJECT_CREATED = "project_created"
PROJECT_ARCHIVED = "project_archived"
MUSICIAN_ADDED = "musician_added"
NEED_FILLED = "need_filled"
NEED_EXHAUSTED = "need_exhausted"

KINDS: dict[str, str] = {
    **{k.value: k.label for k in OfferEvent.Kind},
    NEED_FILLED: _("Need filled"),
    NEED_EXHAUSTED: _("Ran out of people to ask"),
    PROJECT_CREATED: _("Project created"),
    PROJECT_ARCHIVED: _("Project archived"),
    MUSICIAN_ADDED: _("Musician added"),
    **{k.value: k.label for k in ActivityEvent.Kind},
}

COLUMNS = (
    "a_at",
    "a_kind",
    "a_project",
    "a_project_ref",
    "a_project_name",
    "a_musician",
    "a_musician_ref",
    "a_first_name",
    "a_last_name",
    "a_position",
    "a_ref",
    "a_by",
    "a_detail",
)


def _text(value: str | None = "") -> Value:
    return Value(value, output_field=CharField())


def _no_id() -> Value:
    return Value(None, output_field=IntegerField())


def _position(prefix: str) -> Concat:
    return Concat(
        F(f"{prefix}position__instrument__name"),
        _text(" – "),
        F(f"{prefix}position__name"),
        output_field=CharField(),
    )


def _shape(query: QuerySet, **columns) -> QuerySet:
    """The part with every column of COLUMNS (empty where it has none), in COLUMNS' order."""
    empty = {
        "a_project": _no_id(),
        "a_musician": _no_id(),
        **{name: _text() for name in COLUMNS if name not in ("a_at", "a_project", "a_musician")},
    }
    # No ORDER BY inside a part of a UNION (the models' default ordering): the union orders.
    return query.annotate(**{**empty, **columns}).values(*COLUMNS).order_by()


def _project_columns(prefix: str = "") -> dict:
    return {
        "a_project": F(f"{prefix}pk" if not prefix else f"{prefix}id"),
        "a_project_ref": F(f"{prefix}project_id"),
        "a_project_name": F(f"{prefix}name"),
    }


def _musician_columns(prefix: str = "") -> dict:
    return {
        "a_musician": F(f"{prefix}pk" if not prefix else f"{prefix}id"),
        "a_musician_ref": F(f"{prefix}musician_id"),
        "a_first_name": F(f"{prefix}first_name"),
        "a_last_name": F(f"{prefix}last_name"),
    }


def parts() -> list[QuerySet]:
    """One query per source, all with the same columns."""
    filled_at = (
        OfferEvent.objects.filter(offer__need=OuterRef("pk"), kind=OfferEvent.Kind.ACCEPTED)
        .order_by("-at")
        .values("at")[:1]
    )
    return [
        _shape(
            OfferEvent.objects.all(),
            a_at=F("at"),
            a_kind=F("kind"),
            **_project_columns("offer__project__"),
            **_musician_columns("offer__musician__"),
            a_position=_position("offer__need__"),
            a_ref=F("offer__offer_id"),
            a_by=F("by"),
        ),
        _shape(
            # A need filled when its last yes came (or when it was created, if its seats were
            # lowered to those already accepted before any yes was logged).
            Need.objects.filter(status=Need.Status.COMPLETED),
            a_at=Coalesce(Subquery(filled_at), F("created_at"), output_field=DateTimeField()),
            a_kind=_text(NEED_FILLED),
            **_project_columns("project__"),
            a_position=_position(""),
            a_ref=F("need_id"),
        ),
        _shape(
            NeedAlert.objects.all(),
            a_at=F("found_at"),
            a_kind=_text(NEED_EXHAUSTED),
            **_project_columns("need__project__"),
            a_position=_position("need__"),
            a_ref=F("need__need_id"),
        ),
        _shape(
            Project.objects.all(),
            a_at=F("created_at"),
            a_kind=_text(PROJECT_CREATED),
            **_project_columns(),
        ),
        _shape(
            Project.objects.filter(archived_at__isnull=False),
            a_at=F("archived_at"),
            a_kind=_text(PROJECT_ARCHIVED),
            **_project_columns(),
        ),
        _shape(
            Musician.objects.all(),
            a_at=F("created_at"),
            a_kind=_text(MUSICIAN_ADDED),
            **_musician_columns(),
        ),
        _shape(
            ActivityEvent.objects.all(),
            a_at=F("at"),
            a_kind=F("kind"),
            a_by=F("by"),
            a_detail=F("detail"),
        ),
    ]


class ReadableIdField(forms.ModelChoiceField):
    """A row named by readable id (MUS001, PROJ001), in any case and with stray spaces.

    Anything that cannot be a readable id (a NUL byte, which PostgreSQL refuses in a query,
    other control characters, spaces inside) is an unknown choice before any query is made.
    """

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().upper()
            if not re.fullmatch(r"[A-Z0-9]{1,20}", value) and value not in self.empty_values:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice"
                )
        return super().to_python(value)


class ReadableIdFilter(django_filters.ModelChoiceFilter):
    field_class = ReadableIdField


class ActivityFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(
        field_name="a_kind", choices=list(KINDS.items()), label=_("What"), empty_label=_("All")
    )
    project = ReadableIdFilter(
        queryset=Project.objects.order_by("-start_date", "name"),
        to_field_name="project_id",
        method="filter_project",
        label=_("Project"),
        empty_label=_("All"),
        error_messages={"invalid_choice": _("No project has that id.")},
    )
    # Named by readable id (MUS001): a select of every musician would not scale.
    musician = ReadableIdFilter(
        queryset=Musician.objects.all(),
        to_field_name="musician_id",
        method="filter_musician",
        label=_("Musician (id)"),
        widget=forms.TextInput(attrs={"placeholder": "MUS001", "size": 10}),
        error_messages={"invalid_choice": _("No musician has that id.")},
    )
    since = django_filters.DateFilter(
        field_name="a_at",
        lookup_expr="date__gte",
        label=_("From"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="a_at",
        lookup_expr="date__lte",
        label=_("To"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def filter_project(self, queryset, _name, project):
        return queryset.filter(a_project=project.pk)

    def filter_musician(self, queryset, _name, musician):
        return queryset.filter(a_musician=musician.pk)


def feed(data) -> tuple[ActivityFilter, QuerySet | None]:
    """The filter form for `data` (request.GET) and the filtered feed, newest first; no feed
    when the form is invalid (its errors say why)."""
    shaped = parts()
    filters = ActivityFilter(data or None, queryset=shaped[0])
    if filters.is_bound:
        if not filters.is_valid():
            return filters, None
        shaped = [filters.filter_queryset(part) for part in shaped]
    filtered = shaped
    combined = filtered[0].union(*filtered[1:], all=True)
    return filters, combined.order_by("-a_at", "a_kind", "a_ref")


def label(kind: str) -> str:
    return str(KINDS.get(kind, kind))


def is_offer_event(kind: str) -> bool:
    """Whether a row of that kind came from an offer's log (its reference is the offer's)."""
    return kind in OfferEvent.Kind.values


@receiver(post_save, sender=OrchestraSettings, dispatch_uid="office.settings_changed")
def _settings_changed(sender, instance, created, **kwargs) -> None:
    if created:
        return  # the defaults, written the first time the settings are read
    request = observability.current_request()
    user = getattr(request, "user", None)
    ActivityEvent.objects.create(
        kind=ActivityEvent.Kind.SETTINGS_CHANGED,
        at=timezone.now(),
        by=user.get_username() if user is not None and user.is_authenticated else "",
    )

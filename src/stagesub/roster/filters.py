"""The musician list's search, filters and orders, applied in the database (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from stagesub.roster.collation import swedish_order
from stagesub.roster.models import Instrument, Musician, Position, Qualification
from stagesub.validation import parse_id
from stagesub.widgets import LongSelect

ORDERS = {
    "first": ("first_name", "last_name"),
    "last": ("last_name", "first_name"),
}


class MusicianFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    instrument = django_filters.ModelChoiceFilter(
        label=_("Instrument"),
        queryset=Instrument.objects.filter(is_archived=False),
        method="by_instrument",
        empty_label=_("All"),
        widget=LongSelect,
    )
    position = django_filters.ModelChoiceFilter(
        label=_("Position"),
        queryset=Position.objects.select_related("instrument").filter(
            instrument__is_archived=False
        ),
        method="by_position",
        empty_label=_("All"),
        widget=LongSelect,
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[*Musician.Status.choices, ("all", _("Everyone"))],
        empty_label=_("Active and inactive"),
        method="by_status",
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort"),
        choices=[("first", _("First name")), ("last", _("Last name")), ("newest", _("Newest"))],
        empty_label=None,
        method="by_order",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instrument = parse_id(self.data.get("instrument"))
        if instrument is not None:  # the positions of the chosen instrument only
            field = self.form.fields["position"]
            field.queryset = field.queryset.filter(instrument_id=instrument)

    def search(self, queryset: QuerySet, _name, value: str) -> QuerySet:
        for word in value.split():  # every word matches somewhere
            queryset = queryset.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email__icontains=word)
                | Q(phone__icontains=word.lstrip("0"))
                | Q(musician_id__iexact=word)
            )
        return queryset

    def by_instrument(self, queryset: QuerySet, _name, instrument) -> QuerySet:
        if self.form.cleaned_data.get("position"):
            return queryset  # the position says more
        qualified = Qualification.objects.filter(
            musician=OuterRef("pk"), position__instrument=instrument
        )
        return queryset.filter(Exists(qualified))

    def by_position(self, queryset: QuerySet, _name, position) -> QuerySet:
        return queryset.filter(
            Exists(Qualification.objects.filter(musician=OuterRef("pk"), position=position))
        )

    def by_status(self, queryset: QuerySet, _name, value: str) -> QuerySet:
        return queryset if value == "all" else queryset.filter(status=value)

    def by_order(self, queryset: QuerySet, _name, value: str) -> QuerySet:
        if value == "newest":
            return queryset.order_by("-pk")
        return queryset.order_by(*(swedish_order(f) for f in ORDERS[value]), "pk")

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        chosen = self.form.cleaned_data
        # Empty choices are not filters to django-filter; here they mean the defaults.
        if not chosen.get("status"):
            queryset = queryset.exclude(status=Musician.Status.ARCHIVED)
        if not chosen.get("sort"):
            queryset = self.by_order(queryset, "sort", "first")
        return queryset

"""The ranking-list overview's search and filter over positions, in the database."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from stagesub.roster.models import Instrument
from stagesub.widgets import LongSelect


class PositionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    instrument = django_filters.ModelChoiceFilter(
        label=_("Instrument"),
        queryset=Instrument.objects.filter(is_archived=False),
        empty_label=_("All"),
        widget=LongSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.fields["instrument"].widget.attrs["data-autosubmit"] = ""

    def search(self, queryset: QuerySet, _name, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(instrument__name__icontains=value))

"""The mailbox's search and filters, applied in the database (django-filter); newest first."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from stagesub.messaging.models import Kind, Message


class MailboxFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Message.Status.choices, empty_label=_("All")
    )
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=Kind.choices, empty_label=_("All"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("status", "kind"):
            self.form.fields[name].widget.attrs["data-autosubmit"] = ""

    def search(self, queryset: QuerySet, _name, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(Q(to_email__icontains=value) | Q(subject__icontains=value))

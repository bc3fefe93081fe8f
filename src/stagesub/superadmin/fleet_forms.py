from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stagesub.superadmin.fleet import AuditFilter
from stagesub.validation import single_line


class AuditFilterForm(forms.Form):
    orchestra = forms.CharField(
        label=_("Orchestra (subdomain)"), max_length=40, required=False, validators=[single_line]
    )
    user = forms.CharField(
        label=_("User"), max_length=150, required=False, validators=[single_line]
    )
    event = forms.ChoiceField(label=_("Event"), required=False)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To (inclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, events: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        groups = sorted({e.split(".")[0] + "." for e in events if "." in e})
        self.fields["event"].choices = [
            ("", _("All events")),
            (_("Groups"), [(g, g + "*") for g in groups]),
            (_("Events"), [(e, e) for e in events]),
        ]

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end is before the start."))
        return cleaned

    def audit_filter(self) -> AuditFilter:
        d = self.cleaned_data

        def start_of(day) -> datetime | None:
            return timezone.make_aware(datetime.combine(day, time.min)) if day else None

        return AuditFilter(
            orchestra=d["orchestra"].strip().lower(),
            user=d["user"].strip(),
            event=d["event"],
            since=start_of(d["since"]),
            until=start_of(d["until"] + timedelta(days=1)) if d["until"] else None,
        )


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("What was done"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept with the incident and in the audit log."),
    )

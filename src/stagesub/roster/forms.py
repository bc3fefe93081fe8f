from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from stagesub.roster.models import Instrument, Musician
from stagesub.roster.services import MusicianData
from stagesub.validation import email_address, single_line


def grouped_positions(include_archived_instruments: bool = False):
    """[(instrument, [positions...])] by display order and hierarchy."""
    instruments = Instrument.objects.prefetch_related("positions").order_by("display_order", "name")
    if not include_archived_instruments:
        instruments = instruments.filter(is_archived=False)
    return [
        (i, sorted(i.positions.all(), key=lambda p: (p.hierarchy_level, p.name)))
        for i in instruments
    ]


class MusicianForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100, validators=[single_line])
    last_name = forms.CharField(label=_("Last name"), max_length=100, validators=[single_line])
    # The same check as the service (and the import), so the message is the same everywhere.
    email = forms.CharField(
        label=_("E-mail"), max_length=254, validators=[email_address], widget=forms.EmailInput
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        help_text=_("Swedish numbers may be written without +46."),
    )
    preferred_language = forms.ChoiceField(
        label=_("Language for messages"), choices=Musician.Language.choices
    )
    local_residence = forms.BooleanField(label=_("Local resident"), required=False)
    notes = forms.CharField(
        label=_("Internal notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    position_ids = forms.TypedMultipleChoiceField(
        label=_("Qualifications"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, musician: Musician | None = None, **kwargs):
        if musician is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "first_name": musician.first_name,
                "last_name": musician.last_name,
                "email": musician.email,
                "phone": musician.phone,
                "preferred_language": musician.preferred_language,
                "local_residence": musician.local_residence,
                "notes": musician.notes,
                "position_ids": list(
                    musician.qualification_links.values_list("position_id", flat=True)
                ),
            }
        super().__init__(*args, **kwargs)
        held = set(self.initial.get("position_ids") or [])
        self.position_groups = [
            (instrument, positions)
            for instrument, positions in grouped_positions(include_archived_instruments=True)
            if not instrument.is_archived or held & {p.pk for p in positions}
        ]
        self.fields["position_ids"].choices = [
            (p.pk, str(p)) for _, positions in self.position_groups for p in positions
        ]

    def to_data(self) -> MusicianData:
        d = self.cleaned_data
        return MusicianData(
            first_name=d["first_name"],
            last_name=d["last_name"],
            email=d["email"],
            phone=d["phone"],
            preferred_language=d["preferred_language"],
            local_residence=d["local_residence"],
            notes=d["notes"],
            position_ids=d["position_ids"],
        )

    def add_service_errors(self, error) -> None:
        """Show a service's ValidationError next to the fields it names."""
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, error)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File (.csv or .xlsx)"))


class NameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)

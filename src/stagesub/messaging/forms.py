from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stagesub.messaging import group
from stagesub.messaging.models import SenderSettings
from stagesub.messaging.rendering import VARIABLES, check
from stagesub.projects.models import Need, Project, ProjectFile
from stagesub.rankings.models import RankingList
from stagesub.roster.models import Instrument, Musician, Position
from stagesub.validation import email_address, parse_id, single_line

BODY_LIMIT = 10_000


class TemplateForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200, validators=[single_line])
    body = forms.CharField(
        label=_("Text"),
        max_length=BODY_LIMIT,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text=_("Plain text. Variables are written {{name}}; the ones you can use are listed."),
    )

    def clean_subject(self):
        subject = self.cleaned_data["subject"]
        check(subject, VARIABLES)
        return subject

    def clean_body(self):
        body = self.cleaned_data["body"].replace("\r\n", "\n")
        check(body, VARIABLES)
        return body


class SenderForm(forms.ModelForm):
    class Meta:
        model = SenderSettings
        fields = ["sender_name", "reply_to", "signature"]
        widgets = {"signature": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "sender_name": _("The name musicians see as the sender. Empty: the orchestra's name."),
            "reply_to": _("Where answers to the orchestra's e-mails go. Empty: nowhere."),
            "signature": _("Added at the end of every e-mail, after a “-- ” line. Plain text."),
        }

    def clean_sender_name(self):
        name = self.cleaned_data["sender_name"]
        # A line break in a header would let the name add headers (header injection).
        single_line(name)
        return name

    def clean_reply_to(self):
        address = self.cleaned_data["reply_to"]
        return email_address(address) if address else ""

    def clean_signature(self):
        signature = self.cleaned_data["signature"].replace("\r\n", "\n")
        check(signature, ())  # no variables are filled in a signature, and no HTML
        return signature


class _FilesField(forms.ModelMultipleChoiceField):
    def _check_values(self, value):
        # An id beyond the column's range would fail in the database (SQLite: OverflowError).
        for pk in value:
            if parse_id(str(pk)) is None:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


def _position_label(position: Position) -> str:
    return f"{position.instrument.name} – {position.name}"


class GroupEmailForm(forms.Form):
    project = forms.ModelChoiceField(
        label=_("Booked in project"), queryset=Project.objects.none(), required=False
    )
    need = forms.ModelChoiceField(
        label=_("Booked for need"), queryset=Need.objects.none(), required=False
    )
    instrument = forms.ModelChoiceField(
        label=_("Instrument"), queryset=Instrument.objects.none(), required=False
    )
    position = forms.ModelChoiceField(
        label=_("Position"), queryset=Position.objects.none(), required=False
    )
    ranking_list = forms.ModelChoiceField(
        label=_("On ranking list"), queryset=RankingList.objects.none(), required=False
    )
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("Active or inactive"))]
        + [(c.value, c.label) for c in (Musician.Status.ACTIVE, Musician.Status.INACTIVE)],
        required=False,
        initial=Musician.Status.ACTIVE,
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("Any language")), *list(Musician.Language.choices)],
        required=False,
    )
    subject = forms.CharField(label=_("Subject"), max_length=200, validators=[single_line])
    body = forms.CharField(
        label=_("Message"),
        max_length=BODY_LIMIT,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10}),
    )
    files = _FilesField(
        label=_("Attach project files"),
        queryset=ProjectFile.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Files of the chosen project."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("project", "need", "instrument", "position", "ranking_list"):
            self.fields[name].empty_label = _("All")
        # Projects still worth writing about: not archived, not over more than a month ago.
        recent = timezone.localdate() - datetime.timedelta(days=31)
        projects = Project.objects.filter(is_archived=False, start_date__gte=recent).order_by(
            "start_date", "name"
        )
        self.fields["project"].queryset = projects
        self.fields["need"].queryset = (
            Need.objects.filter(project__in=projects)
            .exclude(status=Need.Status.ARCHIVED)
            .select_related("project", "position__instrument")
            .order_by("project__start_date", "project__name", "pk")
        )
        self.fields["need"].label_from_instance = lambda n: (
            f"{n.project} – {_position_label(n.position)} ({n.need_id})"
        )
        self.fields["instrument"].queryset = Instrument.objects.filter(is_archived=False)
        self.fields["position"].queryset = Position.objects.select_related("instrument").order_by(
            "instrument__display_order", "hierarchy_level"
        )
        self.fields["position"].label_from_instance = _position_label
        self.fields["ranking_list"].queryset = RankingList.objects.select_related(
            "position__instrument"
        ).order_by("position__instrument__display_order", "position__hierarchy_level", "list_type")
        self.fields["files"].queryset = ProjectFile.objects.filter(
            project__in=projects
        ).select_related("project")
        self.fields["files"].label_from_instance = lambda f: f"{f.project} – {f.display_name}"

    def clean_body(self):
        return self.cleaned_data["body"].replace("\r\n", "\n")

    def clean(self):
        data = super().clean()
        need, project = data.get("need"), data.get("project")
        if need and project and need.project_id != project.pk:
            self.add_error("need", _("This need belongs to another project."))
            return data
        if self.errors:
            return data
        audience = self.audience()
        allowed = group.variables(audience)
        for name in ("subject", "body"):
            try:
                check(data[name], allowed)
            except ValidationError as exc:
                if audience.booked_in is None and any(
                    f"{{{{{v}}}}}" in data[name] for v in group.PROJECT_VARIABLES
                ):
                    exc = ValidationError(
                        [*exc.messages, _("Project variables need a project (or need) chosen.")]
                    )
                self.add_error(name, exc)
        try:
            group.check_attachments(audience, [f.pk for f in data.get("files") or []])
        except ValidationError as exc:
            self.add_error(None, exc)  # (names the files field)
        return data

    def audience(self) -> group.Audience:
        data = self.cleaned_data
        return group.Audience(
            project=data.get("project"),
            need=data.get("need"),
            instrument=data.get("instrument"),
            position=data.get("position"),
            ranking_list=data.get("ranking_list"),
            status=data.get("status") or "",
            language=data.get("language") or "",
        )

    def attachment_ids(self) -> list[int]:
        return sorted(f.pk for f in self.cleaned_data.get("files") or [])

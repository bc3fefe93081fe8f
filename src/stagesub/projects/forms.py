from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stagesub.projects.models import Need
from stagesub.projects.services import NeedData, ProjectData
from stagesub.projects.weeks import next_monday_of_week, week_end
from stagesub.validation import single_line
from stagesub.widgets import LongSelect


class ProjectForm(forms.Form):
    # One line: the name is a calendar event's summary and an e-mail's subject.
    name = forms.CharField(label=_("Name"), max_length=200, validators=[single_line])
    start_date = forms.DateField(
        label=_("Start date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Or give a week number below."),
    )
    end_date = forms.DateField(
        label=_("End date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The last day. Empty: the Sunday of the start week."),
    )
    week = forms.IntegerField(
        label=_("Week"),
        required=False,
        min_value=1,
        max_value=53,
        help_text=_(
            "Sets the project to Monday–Sunday of the coming week with this number "
            "(used when no start date is given)."
        ),
    )
    rehearsal_schedule = forms.CharField(
        label=_("Rehearsal schedule"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    concert_info = forms.CharField(
        label=_("Concert information"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        cleaned = super().clean()
        start, week = cleaned.get("start_date"), cleaned.get("week")
        if start is None and week:
            try:
                monday = next_monday_of_week(week, timezone.localdate())
            except ValueError:
                self.add_error("week", _("There is no such week in the coming years."))
            else:  # a week is Monday–Sunday, whatever end date was typed
                cleaned["start_date"], cleaned["end_date"] = monday, week_end(monday)
        elif start is None and not self.errors:
            self.add_error("start_date", _("Give a start date or a week number."))
        end = cleaned.get("end_date")
        if cleaned.get("start_date") and end and end < cleaned["start_date"]:
            self.add_error("end_date", _("The project cannot end before it starts."))
        return cleaned

    def to_data(self) -> ProjectData:
        d = self.cleaned_data
        return ProjectData(
            name=d["name"],
            start_date=d["start_date"],
            end_date=d["end_date"],
            rehearsal_schedule=d["rehearsal_schedule"],
            concert_info=d["concert_info"],
            notes=d["notes"],
        )

    @staticmethod
    def initial_for(project) -> dict:
        return {
            "name": project.name,
            "start_date": project.start_date,
            "end_date": project.end_date,
            "rehearsal_schedule": project.rehearsal_schedule,
            "concert_info": project.concert_info,
            "notes": project.notes,
        }


class NeedForm(forms.Form):
    position = forms.TypedChoiceField(label=_("Position"), coerce=int, widget=LongSelect)
    chosen_list = forms.ChoiceField(label=_("Ranking list"), widget=LongSelect)
    strategy = forms.ChoiceField(label=_("How to ask"), choices=[("", "—"), *Need.Strategy.choices])
    quantity = forms.IntegerField(label=_("Seats"), min_value=1, max_value=100, initial=1)
    max_recipients = forms.IntegerField(
        label=_("Max recipients (first come)"), min_value=1, required=False
    )
    response_time = forms.IntegerField(label=_("Response time"), min_value=1, initial=48)
    response_unit = forms.ChoiceField(
        label=_("Unit"), choices=[("hours", _("hours")), ("days", _("days"))]
    )
    require_local_residence = forms.BooleanField(label=_("Local residents only"), required=False)

    def __init__(self, *args, positions=(), lists=(), lists_url="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["position"].choices = [("", "—"), *[(p.pk, str(p)) for p in positions]]
        # `lists` are the chosen position's: a list of another position is not a valid choice.
        self.fields["chosen_list"].choices = [("", "—"), *lists]
        if lists_url:  # choosing a position fetches its lists (htmx: no inline script)
            self.fields["position"].widget.attrs.update(
                {
                    "hx-get": lists_url,
                    "hx-trigger": "change",
                    "hx-target": "#id_chosen_list",
                    "hx-swap": "outerHTML",
                }
            )

    @staticmethod
    def initial_for(need) -> dict:
        days = need.response_time_hours % 24 == 0
        chosen = (
            f"rank:{need.ranking_list_id}"
            if need.ranking_list_id
            else f"project:{need.project_list_id}"
        )
        return {
            "position": need.position_id,
            "chosen_list": chosen,
            "strategy": need.strategy,
            "quantity": need.quantity,
            "max_recipients": need.max_recipients,
            "response_time": need.response_time_hours // 24 if days else need.response_time_hours,
            "response_unit": "days" if days else "hours",
            "require_local_residence": need.require_local_residence,
        }

    def to_data(self) -> NeedData:
        d = self.cleaned_data
        kind, _sep, pk = d["chosen_list"].partition(":")
        hours = d["response_time"] * (24 if d["response_unit"] == "days" else 1)
        return NeedData(
            position_id=d["position"],
            quantity=d["quantity"],
            strategy=d["strategy"],
            response_time_hours=hours,
            ranking_list_id=int(pk) if kind == "rank" and pk.isdigit() else None,
            project_list_id=int(pk) if kind == "project" and pk.isdigit() else None,
            max_recipients=d["max_recipients"],
            require_local_residence=d["require_local_residence"],
        )

    def add_service_errors(self, error) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        mapping = {
            "position_id": "position",
            "list": "chosen_list",
            "response_time_hours": "response_time",
        }
        for field, errors in error.error_dict.items():
            name = mapping.get(field, field)
            self.add_error(name if name in self.fields else None, errors)


def today() -> datetime.date:
    return timezone.localdate()


class FileForm(forms.Form):
    file = forms.FileField(label=_("File"))
    display_name = forms.CharField(label=_("Name shown"), max_length=200, required=False)
    file_type = forms.ChoiceField(
        label=_("Type"),
        choices=[("general_info", _("General information")), ("sheet_music", _("Sheet music"))],
    )
    send_timing = forms.ChoiceField(
        label=_("Send"),
        choices=[("on_request", _("With the request")), ("on_accept", _("When accepted"))],
    )
    need = forms.ChoiceField(label=_("For the need"), required=False)

    def __init__(self, *args, needs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["need"].choices = [
            ("", _("The whole project")),
            *[(n.need_id, f"{n.need_id} {n.position}") for n in needs],
        ]

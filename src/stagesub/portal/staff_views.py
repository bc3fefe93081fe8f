"""The staff's side of a musician's data rights (admins only): export, erasure, retention."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from stagesub.accounts.roles import admin_required
from stagesub.portal import rights
from stagesub.portal.models import Retention
from stagesub.roster.models import Musician


def _musician(musician_id: str) -> Musician:
    return get_object_or_404(Musician, musician_id=musician_id.upper())


def json_download(musician: Musician) -> HttpResponse:
    response = HttpResponse(rights.export_json(musician), content_type="application/json")
    name = f"{musician.musician_id.lower()}-data.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@admin_required
def musician_data_json(request, musician_id: str):
    return json_download(_musician(musician_id))


@admin_required
def musician_data(request, musician_id: str):
    """Everything stored about the musician, readable: the same data as the JSON."""
    musician = _musician(musician_id)
    data = rights.export(musician)
    tables = [(label, [list(r.items()) for r in rows]) for label, rows in data["related"].items()]
    return render(
        request,
        "portal/musician_data.html",
        {"musician": musician, "fields": data["musician"], "tables": tables},
    )


class EraseForm(forms.Form):
    confirm = forms.CharField(label=gettext_lazy("Type the musician's id to confirm"))

    def __init__(self, *args, musician_id: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.musician_id = musician_id

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip().upper()
        if value != self.musician_id:
            raise forms.ValidationError(_("Type %(id)s exactly.") % {"id": self.musician_id})
        return value


@admin_required
def musician_erase(request, musician_id: str):
    musician = _musician(musician_id)
    if hasattr(musician, "erasure"):
        return render(
            request,
            "portal/musician_erase.html",
            {"musician": musician, "erased": True},
            status=409,
        )
    form = EraseForm(request.POST or None, musician_id=musician.musician_id)
    if request.method == "POST":
        if form.is_valid():
            rights.erase(musician, actor=request.user, request=request)
            messages.success(request, _("%(id)s was erased.") % {"id": musician.musician_id})
            return redirect("roster:musician", musician.musician_id)
        status = 400
    else:
        status = 200
    return render(
        request,
        "portal/musician_erase.html",
        {"musician": musician, "form": form, "error_forms": [form] if form.errors else []},
        status=status,
    )


class RetentionForm(forms.ModelForm):
    class Meta:
        model = Retention
        fields = ["message_body_days", "archived_erase_months"]


@admin_required
def retention_settings(request):
    form = RetentionForm(request.POST or None, instance=Retention.current())
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, _("The retention settings were saved."))
            return redirect("portal:retention")
        status = 400
    else:
        status = 200
    return render(
        request,
        "portal/retention.html",
        {"form": form, "error_forms": [form] if form.errors else []},
        status=status,
    )

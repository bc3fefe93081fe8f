from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from stagesub.accounts.roles import admin_required
from stagesub.orchestra.models import OrchestraSettings


class SettingsForm(forms.ModelForm):
    class Meta:
        model = OrchestraSettings
        fields = ["reminder_percentage", "conflict_rule"]
        widgets = {
            "reminder_percentage": forms.NumberInput(attrs={"min": 10, "max": 90, "step": 5})
        }
        help_texts = {
            "reminder_percentage": _(
                "A musician who has not answered gets one reminder when this share of the response time has passed (10–90)."
            ),
            "conflict_rule": _(
                "How a musician on the lists of several needs in one project is handled. They get at most one request per project either way."
            ),
        }


@admin_required
def orchestra_settings(request):
    current = OrchestraSettings.current()
    form = SettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("The settings were saved."))
        return redirect("settings")
    return render(
        request, "orchestra/settings.html", {"form": form}, status=400 if form.errors else 200
    )

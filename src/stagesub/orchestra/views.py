from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from stagesub.accounts.roles import admin_required, staff_required
from stagesub.orchestra.models import OrchestraSettings
from stagesub.projects.models import Project
from stagesub.rankings.models import RankingList
from stagesub.roster.models import Instrument, Musician
from stagesub.tenancy.plans import usage_report


@staff_required
def home(request):
    counts = Musician.objects.aggregate(
        total=Count("pk", filter=~Q(status="archived")),
        active=Count("pk", filter=Q(status="active")),
    )
    counts["lists"] = RankingList.objects.count()
    counts["instruments"] = Instrument.objects.filter(is_archived=False).count()
    counts["projects"] = Project.objects.filter(is_archived=False).count()
    return render(
        request,
        "orchestra/home.html",
        {
            "counts": counts,
            "usage": usage_report(request.orchestra),
            "platform_contact": settings.PLATFORM_CONTACT,
        },
    )


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

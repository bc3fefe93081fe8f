from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import render

from stagesub.projects.models import Project
from stagesub.rankings.models import RankingList
from stagesub.roster.models import Instrument, Musician


@login_required
def home(request):
    counts = Musician.objects.aggregate(
        total=Count("pk", filter=~Q(status="archived")),
        active=Count("pk", filter=Q(status="active")),
    )
    counts["lists"] = RankingList.objects.count()
    counts["instruments"] = Instrument.objects.filter(is_archived=False).count()
    counts["projects"] = Project.objects.filter(is_archived=False).count()
    return render(request, "orchestra/home.html", {"counts": counts})

"""The fleet dashboard's rows, filters, sort and totals: control database only.

Everything here reads Orchestra rows joined with their StatsSnapshot (superadmin.stats); no
orchestra database is ever opened, so the page costs the same few queries for 1,000
orchestras as for one.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from stagesub.superadmin.models import StatsSnapshot
from stagesub.superadmin.stats import WEEKS, week_start
from stagesub.tenancy.models import DatabaseServer, Orchestra

# Sort keys offered on the page → the column they order by.
SORTS: dict[str, str] = {
    "name": "name",
    "subdomain": "subdomain",
    "status": "status",
    "plan": "plan",
    "server": "server__name",
    "musicians": "stats__musicians",
    "projects": "stats__projects",
    "open": "stats__open_requests",
    "latency": "stats__latency_ms",
    "size": "stats__database_bytes",
    "backup": "stats__last_backup_at",
    "activity": "stats__last_activity_at",
    "snapshot": "stats__taken_at",
}
SORT_CHOICES = [("", _("Name"))] + [
    (key, label)
    for key, label in (
        ("-musicians", _("Most musicians")),
        ("-projects", _("Most projects")),
        ("-open", _("Most open requests")),
        ("-latency", _("Slowest database")),
        ("-size", _("Largest database")),
        ("backup", _("Oldest backup")),
        ("-activity", _("Latest activity")),
        ("activity", _("Least recent activity")),
        ("snapshot", _("Oldest snapshot")),
        ("status", _("Status")),
        ("plan", _("Plan")),
        ("server", _("Server")),
    )
]


class DashboardFilters(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *Orchestra.Status.choices]
    )
    plan = forms.ChoiceField(
        label=_("Plan"), required=False, choices=[("", _("All")), *Orchestra.Plan.choices]
    )
    server = forms.ChoiceField(label=_("Server"), required=False)
    problems = forms.BooleanField(label=_("Problems only"), required=False)
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=SORT_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["server"].choices = [("", _("All"))] + [
            (name, name) for name in DatabaseServer.objects.values_list("name", flat=True)
        ]


def stale_before(now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(seconds=settings.STATS_INTERVAL)


def problem_filter(now: datetime.datetime) -> Q:
    """A snapshot flagged as a problem, a failed orchestra, or an active one without a
    current snapshot (the worker has not read it: nothing shown about it can be trusted)."""
    unread = Q(stats__isnull=True) | Q(stats__taken_at__lt=stale_before(now))
    return (
        Q(stats__problem=True)
        | Q(status=Orchestra.Status.FAILED)
        | (Q(status=Orchestra.Status.ACTIVE) & unread)
    )


def dashboard_rows(filters: dict, now: datetime.datetime) -> QuerySet[Orchestra]:
    """Orchestras with their server and snapshot, filtered and sorted as `filters` say."""
    rows = Orchestra.objects.select_related("server", "stats")
    if query := filters.get("q"):
        rows = rows.filter(
            Q(name__icontains=query)
            | Q(subdomain__icontains=query)
            | Q(contact_email__icontains=query)
            | Q(contact_name__icontains=query)
        )
    if filters.get("status"):
        rows = rows.filter(status=filters["status"])
    if filters.get("plan"):
        rows = rows.filter(plan=filters["plan"])
    if filters.get("server"):
        rows = rows.filter(server__name=filters["server"])
    if filters.get("problems"):
        rows = rows.filter(problem_filter(now))
    sort = filters.get("sort") or "name"
    column = F(SORTS[sort.lstrip("-")])
    ordered = column.desc(nulls_last=True) if sort.startswith("-") else column.asc(nulls_last=True)
    return rows.order_by(ordered, "subdomain")


@dataclass(frozen=True)
class Totals:
    by_status: list[tuple[str, int]]
    orchestras: int
    musicians: int
    projects: int
    sent_30d: int
    answered_30d: int
    median_answer_seconds: int | None
    per_week: list[tuple[datetime.date, int]]

    @property
    def per_week_max(self) -> int:
        return max((n for _, n in self.per_week), default=0)

    @property
    def answer_rate(self) -> int | None:
        return round(self.answered_30d * 100 / self.sent_30d) if self.sent_30d else None


def weighted_median(pairs: list[tuple[int, int]]) -> int | None:
    """The median of values each counted `weight` times: (value, weight) pairs."""
    pairs = sorted((v, w) for v, w in pairs if v is not None and w)
    total = sum(w for _, w in pairs)
    if not total:
        return None
    seen = 0
    for value, weight in pairs:
        seen += weight
        if seen * 2 >= total:
            return value
    return pairs[-1][0]


def fleet_totals(now: datetime.datetime) -> Totals:
    """Totals over every orchestra's snapshot (archived ones excluded from the sums).

    The sums over the snapshots are kept in the cache under a key that changes whenever a
    snapshot is written or an orchestra row changes (two indexed aggregates), so the page
    adds them up again only after the worker or an operator changed something.
    """
    labels = dict(Orchestra.Status.choices)
    by_status = [
        (labels.get(row["status"], row["status"]), row["n"])
        for row in Orchestra.objects.values("status").annotate(n=Count("pk")).order_by("status")
    ]
    this_week = week_start(timezone.localdate(now))
    snapshots = StatsSnapshot.objects.aggregate(n=Count("pk"), last=Max("taken_at"))
    changed = Orchestra.objects.aggregate(last=Max("updated_at"))["last"]
    version = f"{this_week}|{snapshots['n']}|{snapshots['last']}|{changed}"
    key = "superadmin:totals:" + hashlib.sha256(version.encode()).hexdigest()[:32]
    sums = cache.get(key)
    if sums is None:
        sums = _snapshot_sums(this_week)
        cache.set(key, sums, timeout=settings.STATS_INTERVAL)
    first = this_week - datetime.timedelta(weeks=WEEKS - 1)
    return Totals(
        by_status=by_status,
        orchestras=sum(n for _, n in by_status),
        per_week=[(first + datetime.timedelta(weeks=i), n) for i, n in enumerate(sums["weeks"])],
        **{k: v for k, v in sums.items() if k != "weeks"},
    )


def _snapshot_sums(this_week: datetime.date) -> dict:
    live = StatsSnapshot.objects.exclude(orchestra__status=Orchestra.Status.ARCHIVED)
    sums = live.aggregate(
        musicians=Sum("musicians"),
        projects=Sum("projects"),
        sent=Sum("sent_30d"),
        answered=Sum("answered_30d"),
    )
    zone = timezone.get_current_timezone()
    weeks = [0] * WEEKS
    medians = []
    for taken_at, per_week, median, answered in live.values_list(
        "taken_at", "requests_per_week", "median_answer_seconds", "answered_30d"
    ):
        # A snapshot's last bucket is the week it was taken in: shift older ones into place.
        shift = (this_week - week_start(taken_at.astimezone(zone).date())).days // 7
        for index, count in enumerate(per_week or [], start=-shift):
            if 0 <= index < WEEKS:
                weeks[index] += count
        medians.append((median, answered))
    return {
        "musicians": sums["musicians"] or 0,
        "projects": sums["projects"] or 0,
        "sent_30d": sums["sent"] or 0,
        "answered_30d": sums["answered"] or 0,
        # Each orchestra's median weighted by its answers: the fleet's exact median would need
        # every answer time, which the snapshots do not keep.
        "median_answer_seconds": weighted_median(medians),
        "weeks": weeks,
    }


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    week: datetime.date
    count: int

    @property
    def label(self) -> str:
        return gettext("wk %(n)s") % {"n": self.week.isocalendar().week}


CHART_WIDTH, CHART_HEIGHT, BAR_WIDTH = 240, 110, 16


def chart_bars(per_week: list[tuple[datetime.date, int]]) -> list[Bar]:
    """Bars of the requests-per-week chart, in SVG units (drawn by the template, no script)."""
    top = max((n for _, n in per_week), default=0) or 1
    width = CHART_WIDTH // max(1, len(per_week))
    bars = []
    for index, (week, count) in enumerate(per_week):
        height = round(count * (CHART_HEIGHT - 30) / top)
        bars.append(Bar(index * width, CHART_HEIGHT - 16 - height, height, week, count))
    return bars


def duration_label(seconds: int | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"

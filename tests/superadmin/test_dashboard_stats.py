"""Statistics snapshots: the numbers match counts taken directly in each orchestra's database;
the worker refreshes them periodically, soon after activity, and within its time budget."""

import datetime
import statistics

from django.db import connections as django_connections
from django.utils import timezone

from stagesub.offers import scheduler
from stagesub.offers import services as offers
from stagesub.offers.models import Offer
from stagesub.superadmin.models import StatsSnapshot
from stagesub.superadmin.stats import WEEKS, due_for_refresh, is_stale, refresh_due, week_start
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import current_binding
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.seeding import run_demo_steps


def _aware(value: datetime.datetime) -> datetime.datetime:
    return timezone.make_aware(value, datetime.UTC) if timezone.is_naive(value) else value


def _direct(orchestra) -> dict:
    """Counts by plain SQL in the orchestra's own database, independent of the snapshot code."""
    now = timezone.now()
    since = now - datetime.timedelta(days=30)
    with use_orchestra(orchestra), django_connections[current_binding().alias].cursor() as cursor:

        def one(sql, *params):
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

        counts = {
            "musicians": one("SELECT count(*) FROM roster_musician WHERE status <> 'archived'"),
            "projects": one("SELECT count(*) FROM projects_project WHERE NOT is_archived"),
            "open_requests": one("SELECT count(*) FROM offers_offer WHERE status = 'pending'"),
            "sent_30d": one("SELECT count(*) FROM offers_offer WHERE sent_at >= %s", since),
            "answered_30d": one(
                "SELECT count(*) FROM offers_offer WHERE sent_at >= %s AND answered_at IS NOT NULL",
                since,
            ),
        }
        cursor.execute(
            "SELECT sent_at, answered_at FROM offers_offer "
            "WHERE sent_at >= %s AND answered_at IS NOT NULL",
            [since],
        )
        waits = [(a - s).total_seconds() for s, a in cursor.fetchall()]
        cursor.execute("SELECT sent_at FROM offers_offer")
        # SQLite gives naive UTC datetimes to raw SQL.
        sent = [_aware(row[0]) for row in cursor.fetchall()]
    counts["median_answer_seconds"] = round(statistics.median(waits)) if waits else None
    this_week = week_start(timezone.localdate(now))
    counts["requests_per_week"] = [
        sum(
            1
            for s in sent
            if week_start(timezone.localdate(s))
            == this_week - datetime.timedelta(weeks=WEEKS - 1 - i)
        )
        for i in range(WEEKS)
    ]
    return counts


def test_snapshot_matches_counts_taken_in_each_database(make_orchestra):
    busy, quiet = make_orchestra("busy"), make_orchestra("quiet")
    with use_orchestra(busy):
        run_demo_steps(busy)  # musicians, projects, requests sent and answered
    report = refresh_due(budget=60)
    assert sorted(report.refreshed) == ["busy", "quiet"] and not report.failed

    for orchestra in (busy, quiet):
        snapshot = StatsSnapshot.objects.get(orchestra=orchestra)
        taken = {name: getattr(snapshot, name) for name in _direct(orchestra)}
        assert taken == _direct(orchestra), orchestra.subdomain
        assert snapshot.reachable and snapshot.stamp_ok and snapshot.pending_migrations == 0
        assert snapshot.database_bytes > 0 and snapshot.latency_ms is not None
        assert snapshot.staff_users == 1 and not snapshot.problem
    busy_snapshot = StatsSnapshot.objects.get(orchestra=busy)
    # The demo has the numbers a dashboard needs (a test of nothing would pass on zeros).
    assert busy_snapshot.musicians and busy_snapshot.projects and busy_snapshot.answered_30d
    assert busy_snapshot.open_requests and busy_snapshot.last_activity_at is not None
    assert sum(busy_snapshot.requests_per_week) == busy_snapshot.sent_30d


def test_activity_brings_a_snapshot_back_soon_and_quiet_ones_wait_for_their_interval(
    make_orchestra, settings
):
    settings.STATS_MIN_AGE = 0
    orchestra = make_orchestra("aktiv")
    with use_orchestra(orchestra):
        run_demo_steps(orchestra)
    scheduler.run_due()  # the worker delivers what the demo queued; next due: a reminder
    refresh_due(budget=60)
    assert not due_for_refresh(timezone.now()).exists()  # fresh, nothing happened

    # A musician's answer moves the orchestra's next-due time (its confirmation is due now):
    # that is the trigger, with no write of its own.
    with use_orchestra(orchestra):
        offer = Offer.objects.filter(status="pending").first()
        offers.answer(offer, accepted=True)
    assert list(due_for_refresh(timezone.now())) == [Orchestra.objects.get(pk=orchestra.pk)]
    refresh_due(budget=60)
    snapshot = StatsSnapshot.objects.get(orchestra=orchestra)
    assert snapshot.answered_30d == _direct(orchestra)["answered_30d"]

    # Without activity it comes back only once stale.
    assert not due_for_refresh(timezone.now()).exists()
    later = timezone.now() + datetime.timedelta(seconds=settings.STATS_INTERVAL + 1)
    assert is_stale(snapshot, later) and not is_stale(snapshot)
    assert due_for_refresh(later).count() == 1


def test_a_pass_stops_at_its_budget_and_the_rest_come_first_next_time(make_orchestra):
    for name in ("ett", "tva", "tre"):
        make_orchestra(name)
    first = refresh_due(budget=0)  # always one, then the budget is spent
    assert len(first.refreshed) == 1 and first.left == 2
    second = refresh_due(budget=0)
    assert second.refreshed[0] not in first.refreshed
    refresh_due(budget=60)
    assert StatsSnapshot.objects.count() == 3


def test_pending_migrations_and_an_unreachable_database_are_problems(make_orchestra, backend):
    behind, gone = make_orchestra("behind"), make_orchestra("gone")
    with use_orchestra(behind), django_connections[current_binding().alias].cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE id = (SELECT max(id) FROM django_migrations "
            "WHERE app = 'roster')"
        )
    # Point the other at a database that does not exist (a file moved away, a dropped database).
    Orchestra.objects.filter(pk=gone.pk).update(database_name="missing_database_x")
    refresh_due(budget=60)
    behind_snapshot = StatsSnapshot.objects.get(orchestra=behind)
    assert behind_snapshot.pending_migrations == 1 and behind_snapshot.problem
    gone_snapshot = StatsSnapshot.objects.get(orchestra=gone)
    assert not gone_snapshot.reachable and gone_snapshot.problem and gone_snapshot.error
    assert set(StatsSnapshot.objects.filter(problem=True).values_list("orchestra", flat=True)) == {
        behind.pk,
        gone.pk,
    }

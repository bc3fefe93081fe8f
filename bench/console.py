"""Console benchmark: the fleet dashboard over 1,000 orchestras, and one snapshot refresh pass.

    python bench/console.py [--orchestras 1000] [--repeats 15] [--markdown OUT]

Run from the repository root in an environment with `pip install -e .[test]`. Everything runs
in a temporary directory with a PostgreSQL server started here (stagesub.devtools.localpg) that
holds the control database, as in production; the orchestras are SQLite databases provisioned
for real (template copy, stamp, admin). The JSON result goes to stdout, progress to stderr.
Not a test: each figure is reported against its target.

* refresh: `superadmin.stats.refresh_due` with no budget over every orchestra (each database
  opened, its stamp checked, counts, migrations, size read, its snapshot written), and once with
  the worker's default budget (STATS_PASS_BUDGET) to show how long a pass keeps the worker
  from its other work. Target: the full pass under 60 s.
* dashboard: `GET /superadmin/` through the whole middleware stack (Django's test client in
  this process, logged in as a superadmin): the first page, a filtered one, a sorted one and a
  search. Server time per request, median and worst of `--repeats`. Target: under 300 ms.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from offers import log, start_environment, stop_postgres

DASHBOARD_TARGET_MS = 300
REFRESH_TARGET_S = 60
QUERIES = {
    "first page": "/superadmin/",
    "filtered (status, plan, problems)": "/superadmin/?status=active&plan=medium&problems=on",
    "sorted (most musicians)": "/superadmin/?sort=-musicians",
    "search": "/superadmin/?q=bench-07",
}


def provision_fleet(count: int) -> float:
    from django.conf import settings

    from stagesub.tenancy.backends import embedded_server
    from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra

    # The admins' password hashing is not what is measured: a fast hasher for the set-up.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    server = embedded_server().name
    started = time.perf_counter()
    for i in range(count):
        create_orchestra(
            ProvisionRequest(
                subdomain=f"bench-{i:04d}",
                name=f"Bench {i:04d}",
                admin_email=f"admin@bench-{i:04d}.example.org",
                admin_password="bench-password-1",
                plan=("small", "medium", "enterprise")[i % 3],
                server_name=server,
            )
        )
        if i % 100 == 99:
            log(f"provisioned {i + 1}")
    return time.perf_counter() - started


def refresh(budget: float | None):
    from stagesub.superadmin.stats import refresh_due

    started = time.perf_counter()
    report = refresh_due(budget=budget if budget is not None else float("inf"))
    return time.perf_counter() - started, report


def dashboard(repeats: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user = get_user_model().objects.create_user(
        "bench-root", email="root@bench.example.org", password="x", role="superadmin"
    )
    client = Client(HTTP_HOST="stagesub.test")
    client.force_login(user)
    results = {}
    for label, url in QUERIES.items():
        client.get(url)  # warm: templates compiled, connections open
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        results[label] = {
            "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1),
            "queries": len(queries.captured_queries),
        }
        log(f"{label}: {results[label]}")
    return results


def markdown(result: dict) -> str:
    lines = [
        "## Console: fleet dashboard and statistics snapshots",
        "",
        f"Measured {result['date']} with `python bench/console.py` on {result['machine']}. "
        f"{result['orchestras']} SQLite orchestras provisioned for real, control database on "
        "PostgreSQL (as in production); the machine was shared with other work. Not a test.",
        "",
        "| what | median | worst | queries | target |",
        "|---|---|---|---|---|",
    ]
    for label, row in result["dashboard"].items():
        met = "met" if row["median_ms"] < DASHBOARD_TARGET_MS else "NOT met"
        lines.append(
            f"| dashboard, {label} | {row['median_ms']} ms | {row['max_ms']} ms | "
            f"{row['queries']} | < {DASHBOARD_TARGET_MS} ms {met} |"
        )
    full = result["refresh_full"]
    met = "met" if full["seconds"] < REFRESH_TARGET_S else "NOT met"
    lines.append(
        f"| snapshot refresh, full pass over {full['refreshed']} orchestras | "
        f"{full['seconds']} s | | | < {REFRESH_TARGET_S} s {met} |"
    )
    budgeted = result["refresh_budgeted"]
    lines += [
        "",
        f"- With the worker's budget (STAGESUB_STATS_PASS_BUDGET = {budgeted['budget']} s) one "
        f"pass refreshed {budgeted['refreshed']} stale snapshots in {budgeted['seconds']} s and "
        f"left {budgeted['left']} for the next passes, so the worker returns to its task queue "
        "and its other jobs within the budget plus one orchestra.",
        "- The dashboard reads Orchestra rows joined with their snapshot: the same handful of "
        "queries for any number of orchestras (the totals aggregate over the snapshot table).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orchestras", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    # Static files from the finders: nothing here runs collectstatic.
    os.environ["STAGESUB_STATIC_MANIFEST"] = "0"
    with tempfile.TemporaryDirectory(prefix="stagesub-bench-console-") as tmp:
        start_environment(Path(tmp))
        try:
            from django.conf import settings
            from django.utils import timezone

            from stagesub.superadmin.models import StatsSnapshot

            log(f"provisioning {args.orchestras} SQLite orchestras")
            provisioned = provision_fleet(args.orchestras)
            log(f"provisioned in {provisioned:.0f} s; full refresh pass")
            full_seconds, full = refresh(None)
            log(f"full pass: {full.summary()} ({full_seconds:.1f} s)")
            # Every snapshot stale again: what the worker meets after an interval.
            StatsSnapshot.objects.update(
                taken_at=timezone.now() - datetime.timedelta(seconds=settings.STATS_INTERVAL + 1)
            )
            budget = settings.STATS_PASS_BUDGET
            budgeted_seconds, budgeted = refresh(budget)
            log(f"budgeted pass: {budgeted.summary()}")
            refresh(None)  # all fresh for the dashboard
            result = {
                "date": datetime.date.today().isoformat(),
                "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
                "orchestras": args.orchestras,
                "provision_seconds": round(provisioned, 1),
                "refresh_full": {
                    "seconds": round(full_seconds, 1),
                    "refreshed": len(full.refreshed),
                    "failed": len(full.failed),
                },
                "refresh_budgeted": {
                    "budget": budget,
                    "seconds": round(budgeted_seconds, 1),
                    "refreshed": len(budgeted.refreshed),
                    "left": budgeted.left,
                },
                "dashboard": dashboard(args.repeats),
            }
        finally:
            stop_postgres()
    print(json.dumps(result, indent=2))
    if args.markdown:
        args.markdown.write_text(markdown(result))


if __name__ == "__main__":
    main()

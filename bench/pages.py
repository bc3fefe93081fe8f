"""Staff pages through the production server, against a floor measured in the same run.

    python bench/pages.py [--quick] [--json OUT] [--clients 8]

Run from the repository root. A PostgreSQL 16 server (pgserver) and a data directory are made
in a temporary directory, `stagesub demo` fills them (three orchestras with their demo data),
and the production server (bench/serving.py: `stagesub serve`, or gunicorn gthread 2 × 4 when
this checkout has no `serve` yet) serves them on 127.0.0.1 only. Everything is removed at the
end. The JSON result goes to stdout (and OUT); progress to stderr.

What is measured
----------------
Göteborg's administrator logs in through the login form. Then, with --clients keep-alive
clients (threads of this process), each phase makes a bounded number of requests (and stops
after --seconds at the latest), after a few warm-up requests per client:

The two loads take turns in 4 slices each (floor, pages, floor, pages, ...), so a change in
the machine's other work during the run weighs on both.

1. floor: `GET /login/` with the staff session: the whole middleware stack (host routing,
   session, language, CSRF, authentication, membership) and a redirect, no page rendered.
2. staff pages: `/`, `/musicians/`, `/rankings/`, `/projects/` and the project page of the
   demo project with the most requests, round-robin.

Reported: requests per second over the phase, p50 and p95 latency, per page as well. Targets
(issue 10): staff pages ≥ 25 % of the floor's throughput, p95 ≤ 100 ms, no status but 200.
The clients share the machine's cores with the server, as they do with any load generator
run on the same host; the ratio to the floor is measured under the same conditions.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import offers
from bench.serving import Call, Run, Server, drive, login

PASSWORD = "bench-demo-password-0123"
TARGETS = {"share_of_floor": 0.25, "p95_ms": 100.0}
SLICES = 4  # the floor and the staff pages take turns, this many times each


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def demo() -> tuple[str, list[str]]:
    """The demo on the bench's PostgreSQL; Göteborg's host and its staff pages."""
    import io
    import os

    from django.core.management import call_command
    from django.db.models import Count

    os.environ["STAGESUB_ADMIN_PASSWORD"] = PASSWORD
    call_command("demo", verbosity=0, stdout=io.StringIO())  # its URLs and logins
    from django.conf import settings

    from stagesub.projects.models import Project
    from stagesub.tenancy import use_orchestra

    with use_orchestra("goteborg"):
        project = Project.objects.annotate(n=Count("offers")).order_by("-n", "pk").first()
    pages = ["/", "/musicians/", "/rankings/", "/projects/", f"/projects/{project.project_id}/"]
    return f"goteborg.{settings.BASE_DOMAIN}", pages


def measure(quick: bool, clients: int, seconds: float, workdir: Path) -> dict:
    host, pages = demo()
    from django.db import connections

    connections.close_all()  # the server's processes open their own
    requests = 300 if quick else 2000
    with Server(workdir / "server.log", ready_host=host) as server:
        log(f"server: {server.kind} on 127.0.0.1:{server.port}")
        cookie = login(server.port, host, "goteborg-admin", PASSWORD)
        floor_call = [Call(host, "/login/", cookie=cookie, name="floor")]
        staff_calls = [Call(host, p, cookie=cookie) for p in pages]
        # Alternate slices of the two loads, so the other work on this machine, which comes
        # and goes, weighs on both sides of the ratio alike.
        floors, staffs = [], []
        cpu = {"floor": 0.0, "staff": 0.0}
        for _ in range(SLICES):
            before = server.cpu_seconds()
            floors.append(
                drive(
                    server.port,
                    floor_call,
                    clients=clients,
                    requests=requests * 2 // SLICES,
                    max_seconds=seconds / SLICES,
                    warmup=5,
                )
            )
            cpu["floor"] += server.cpu_seconds() - before
            before = server.cpu_seconds()
            staffs.append(
                drive(
                    server.port,
                    staff_calls,
                    clients=clients,
                    requests=requests // SLICES,
                    max_seconds=seconds / SLICES,
                    warmup=len(pages),
                )
            )
            cpu["staff"] += server.cpu_seconds() - before
        floor, staff = Run.merged(floors), Run.merged(staffs)
        log(f"floor: {json.dumps(floor.summary())}")
        log(f"staff pages: {json.dumps(staff.summary())}")
        kind = server.kind
    floor_summary, staff_summary = floor.summary(), staff.summary()
    share = staff_summary["per_second"] / floor_summary["per_second"]
    # The server's CPU per request (warm-up requests included on both sides, a few per client):
    # the cost behind the rates, far less swayed by the machine's other work.
    warm = {"floor": 5 * clients * SLICES, "staff": len(pages) * clients * SLICES}
    cpu_ms = {
        side: round(1000 * cpu[side] / (run.requests + warm[side]), 2)
        for side, run in (("floor", floor), ("staff", staff))
    }
    ok_statuses = set(staff_summary["statuses"]) == {"200"} and set(floor_summary["statuses"]) == {
        "302"
    }
    return {
        "server": kind,
        "clients": clients,
        "floor": floor_summary,
        "staff_pages": staff_summary,
        "staff_pages_by_page": staff.by_name(),
        "share_of_floor": round(share, 3),
        "server_cpu_ms_per_request": cpu_ms,
        # The share the floor's CPU cost makes of a staff page's: the ratio of throughputs a
        # CPU-bound server reaches, measured by cost instead of by rate.
        "cpu_share_of_floor": round(cpu_ms["floor"] / cpu_ms["staff"], 3),
        "met": {
            "share_of_floor": share >= TARGETS["share_of_floor"],
            "p95_ms": staff_summary["p95_ms"] <= TARGETS["p95_ms"],
            "statuses": ok_statuses,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (300 per phase)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="time limit per phase")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="stagesub-bench-pages-"))
    started = time.perf_counter()
    try:
        offers.start_environment(workdir)
        result = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            **measure(args.quick, args.clients, args.seconds, workdir),
            "targets": TARGETS,
        }
    finally:
        offers.stop_postgres()
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"done in {time.perf_counter() - started:.1f} s")
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()

"""Musicians answering across 40 orchestras at once, through the production server.

    python bench/answers_fleet.py [--quick] [--json OUT] [--orchestras 40] [--clients 32]

Run from the repository root. A PostgreSQL 16 server (pgserver, default max_connections) is
started in a temporary directory; --orchestras orchestras are provisioned on it, each with
--offers musicians on an A list and one project whose first-come need (3 seats) asks them all,
so every orchestra has that many open requests. The production server (bench/serving.py)
serves them on 127.0.0.1. Everything is removed at the end. JSON to stdout (and OUT).

--clients threads take the answer links from one queue, interleaved across orchestras (the
worst case for connections: consecutive requests need different databases), and POST yes
(30 %) or no to each, as a musician's browser does. A 503 with Retry-After is what the
server answers when its connection budget is full: the client waits (Retry-After, at most
1 s) and tries again, at most 5 times, as the page asks the musician to. Every 0.1 s the
server's connections are counted in pg_stat_activity (client backends; this bench's own
sampling connection excluded), split into orchestra databases and the rest.

Reported: status codes of the first attempts and of the final ones, answers that got no
recorded outcome, 500s, the peak connection counts, and the budget: the per-process setting
(STAGESUB_MAX_ORCHESTRA_CONNECTIONS when this checkout has it, else the per-thread
STAGESUB_MAX_ORCHESTRA_CONNECTIONS) × the server's worker processes. Targets (issue
10): 0 errors (no 500, no dropped connection, no lost answer) and peak orchestra connections
≤ that budget.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import offers as env
from bench.serving import Server, percentile

YES_SHARE = 0.3
MAX_ATTEMPTS = 5


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def provision_fleet(count: int, per_orchestra: int) -> tuple[list, list[tuple[str, str, int]]]:
    """`count` orchestras with `per_orchestra` open requests each; returns (orchestras, links)
    with links as (host, path, offer pk), interleaved across orchestras."""
    from django.conf import settings

    from stagesub.offers import services, tokens
    from stagesub.projects import services as projects
    from stagesub.projects.services import NeedData, ProjectData
    from stagesub.rankings import services as rankings
    from stagesub.roster.models import Position
    from stagesub.tenancy import use_orchestra

    fleet, links = [], []
    for i in range(count):
        orchestra = env.provision(f"fleet{i:02d}", f"Orkester {i}")
        with use_orchestra(orchestra):
            position = Position.objects.order_by("pk").first()
            musicians = env.create_musicians(position, per_orchestra, "F")
            a_list = rankings.create_list(position, "A")
            rankings.add_musicians(a_list, [m.pk for m in musicians])
            project = projects.create_project(
                ProjectData(name="Fleet", start_date=datetime.date(2031, 3, 3)), max_projects=10
            )
            need = projects.create_need(
                project,
                NeedData(
                    position_id=position.pk,
                    quantity=3,
                    strategy="first_come",
                    response_time_hours=48,
                    ranking_list_id=a_list.pk,
                    max_recipients=per_orchestra,
                ),
            )
            created = services.send(need).created
        host = f"{orchestra.subdomain}.{settings.BASE_DOMAIN}"
        links.append(
            [(host, f"/r/{tokens.make(orchestra.pk, o)}/", o.pk, orchestra) for o in created]
        )
        fleet.append(orchestra)
        if (i + 1) % 10 == 0:
            log(f"provisioned {i + 1}/{count}")
    interleaved = [link for group in zip(*links, strict=True) for link in group]
    return fleet, interleaved


class ConnectionSampler:
    """Peak client backends on the server, on orchestra databases and in all."""

    def __init__(self, orchestra_databases: list[str]):
        from stagesub.tenancy.backends import backend_for, default_server

        self._conn = backend_for(default_server()).connect_admin()
        self._names = orchestra_databases
        self.peak_orchestra = self.peak_total = 0
        self.samples = 0

    def __call__(self) -> None:
        total, orchestra = self._conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE datname = ANY(%s)) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
            [self._names],
        ).fetchone()
        self.peak_total = max(self.peak_total, total)
        self.peak_orchestra = max(self.peak_orchestra, orchestra)
        self.samples += 1

    def close(self) -> None:
        self._conn.close()


def answer_all(port: int, links: list, clients: int, max_seconds: float, sampler) -> dict:
    work: queue.SimpleQueue = queue.SimpleQueue()
    rng = random.Random(40)
    for link in links:
        work.put((link, rng.random() < YES_SHARE))
    first: dict[str, int] = {}
    final: dict[str, int] = {}
    recorded: set[tuple] = set()  # (orchestra pk, offer pk) whose answer the server took (302)
    times: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    barrier = threading.Barrier(clients + 1)

    def count(table: dict, status: int, retry: str | None) -> None:
        key = f"503 (Retry-After {'yes' if retry else 'MISSING'})" if status == 503 else str(status)
        table[key] = table.get(key, 0) + 1

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        while time.monotonic() < deadline:
            try:
                (host, path, offer_pk, orchestra), yes = work.get_nowait()
            except queue.Empty:
                break
            body = f"answer={'yes' if yes else 'no'}"
            for attempt in range(MAX_ATTEMPTS):
                started = time.perf_counter()
                try:
                    conn.request(
                        "POST",
                        path,
                        body=body,
                        headers={
                            "Host": host,
                            "Content-Type": "application/x-www-form-urlencoded",
                        },
                    )
                    response = conn.getresponse()
                    response.read()
                    status, retry = response.status, response.getheader("Retry-After")
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    status, retry = 0, None
                elapsed = time.perf_counter() - started
                with lock:
                    times.append(elapsed)
                    if attempt == 0:
                        count(first, status, retry)
                if status == 503 and retry and attempt < MAX_ATTEMPTS - 1:
                    time.sleep(min(float(retry), 1.0))
                    continue
                break
            with lock:
                count(final, status, retry)
                if status in (302, 303):
                    recorded.add((orchestra.pk, offer_pk))
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    while any(t.is_alive() for t in threads):
        sampler()
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    times.sort()
    return {
        "answers": len(links),
        "seconds": round(seconds, 2),
        "requests": len(times),
        "requests_per_second": round(len(times) / seconds, 1),
        "p50_ms": round(percentile(times, 50) * 1000, 1),
        "p95_ms": round(percentile(times, 95) * 1000, 1),
        "first_attempt_statuses": first,
        "final_statuses": final,
        "recorded": recorded,
    }


def lost_answers(links: list, recorded: set[tuple]) -> int:
    """Answers the server acknowledged (302) whose offer is still pending: lost."""
    from stagesub.offers.models import Offer
    from stagesub.tenancy import use_orchestra

    by_orchestra: dict = {}
    for _host, _path, offer_pk, orchestra in links:
        pks = by_orchestra.setdefault(orchestra.pk, (orchestra, set()))[1]
        if (orchestra.pk, offer_pk) in recorded:
            pks.add(offer_pk)
    lost = 0
    for orchestra, pks in by_orchestra.values():
        with use_orchestra(orchestra):
            lost += Offer.objects.filter(pk__in=pks, status="pending").count()
    return lost


def budget(workers: int) -> dict:
    """The documented bound on orchestra connections for this server, from the settings."""
    from django.conf import settings

    per_process = settings.MAX_ORCHESTRA_CONNECTIONS
    rule = f"{workers} processes × STAGESUB_MAX_ORCHESTRA_CONNECTIONS {per_process}"
    return {"per_process": per_process, "bound": workers * per_process, "rule": rule}


def measure(orchestras: int, per_orchestra: int, clients: int, seconds: float, workdir) -> dict:
    from django.db import connections

    log(f"provisioning {orchestras} orchestras with {per_orchestra} open requests each")
    fleet, links = provision_fleet(orchestras, per_orchestra)
    connections.close_all()
    max_connections = int(env.pg_setting("max_connections"))
    sampler = ConnectionSampler([o.database_name for o in fleet])
    try:
        with Server(workdir / "server.log", ready_host=links[0][0]) as server:
            workers = server.worker_count()
            log(f"server: {server.kind}, {workers} worker processes, port {server.port}")
            run = answer_all(server.port, links, clients, seconds, sampler)
            kind = server.kind
    finally:
        sampler.close()
    recorded = run.pop("recorded")
    lost = lost_answers(links, recorded)
    allowed = budget(workers)
    final = run["final_statuses"]
    errors = sum(n for status, n in final.items() if not status.startswith(("302", "303")))
    return {
        "server": kind,
        "worker_processes": workers,
        "orchestras": orchestras,
        "open_requests_per_orchestra": per_orchestra,
        "clients": clients,
        **run,
        "errors": errors,
        "errors_500": final.get("500", 0),
        "lost_answers": lost,
        "postgresql_max_connections": max_connections,
        "peak_orchestra_connections": sampler.peak_orchestra,
        "peak_all_connections": sampler.peak_total,
        "connection_samples": sampler.samples,
        "budget": allowed,
        "met": {
            "errors": errors == 0 and lost == 0,
            # Within the budget, and the budget itself fits the server (the sizing rule).
            "connections": sampler.peak_orchestra <= allowed["bound"] < max_connections,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 open requests per orchestra")
    parser.add_argument("--orchestras", type=int, default=40)
    parser.add_argument("--offers", type=int, default=20, help="open requests per orchestra")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=180.0, help="time limit of the load")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    per_orchestra = 10 if args.quick else args.offers
    workdir = Path(tempfile.mkdtemp(prefix="stagesub-bench-fleet-"))
    started = time.perf_counter()
    try:
        env.start_environment(workdir)
        result = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            **measure(args.orchestras, per_orchestra, args.clients, args.seconds, workdir),
        }
    finally:
        env.stop_postgres()
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"done in {time.perf_counter() - started:.1f} s")
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()

"""Benchmark: the maintenance window of `move_orchestra` for one large orchestra.

    python bench/move.py [--backend postgresql|sqlite|both] [--musicians N] [--projects N]
                         [--offers N] [--json OUT]

Run from the repository root. Everything happens in a temporary directory (PostgreSQL: two
servers started here with stagesub.devtools.localpg, the source at wal_level=logical), removed
at the end. Nothing asserts speed: each number is reported beside its target.

What is measured
----------------
One orchestra with N musicians (10,000), P projects (500) with one need each, and O offers
(50,000: O / P per project, each with its "sent" event and its request message), written with
bulk_create inside use_orchestra. A writer thread answers pending offers ("no") through the
orchestra's host (Django's test client, the real middleware and views) the whole time; a 503
maintenance page makes it wait 50 ms and try again, as a browser would.

* PostgreSQL, logical replication: move_orchestra from server a (wal_level=logical) to b.
* PostgreSQL, dump and restore (the fallback): move it back with force_dump.
* SQLite: from the data folder to a second folder (copy under the write lock).

For each: the maintenance window (maintenance page on to off), split into the wait for every
process's routing cache (`settle`: one poll of the routing generation,
STAGESUB_ROUTING_POLL_SECONDS, 0.2 s, the same for any size; another web process also sees the
end of the window up to one poll later, `window_other_processes_s`) and the
time writes were paused for catch-up/copy, verification and the switch (`paused`; the target
of "under 1 s" is about this part, which is what grows with the database); the whole move; the
answers the writer got acknowledged before, during and after; and whether every acknowledged
answer is in the moved database (`lost` must be 0).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SECRET_KEY = "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def setup(backend: str, work: Path) -> dict:
    os.environ.update(
        {
            "STAGESUB_DATA_DIR": str(work / "data"),
            "STAGESUB_SECRET_KEY": SECRET_KEY,
            "STAGESUB_BASE_DOMAIN": "bench.test",
            "STAGESUB_SSL_REDIRECT": "0",
            # Pages link to the source static files (nothing is collected here).
            "STAGESUB_STATIC_MANIFEST": "0",
            "DJANGO_SETTINGS_MODULE": "stagesub.settings",
        }
    )
    urls = {}
    if backend == "postgresql":
        import psycopg

        from stagesub.devtools.localpg import start_server

        urls["a"] = start_server(work / "pg-a", cleanup="stop", wal_level="logical")
        urls["b"] = start_server(work / "pg-b", cleanup="stop")
        with psycopg.connect(urls["a"], autocommit=True) as conn:
            conn.execute("CREATE DATABASE stagesub_control")
        os.environ["STAGESUB_DATABASE_URL"] = urls["a"].replace("/postgres?", "/stagesub_control?")
        os.environ["STAGESUB_TENANT_SERVER_URL"] = urls["a"]
    else:
        (work / "data-b").mkdir(parents=True)
        urls["b"] = str(work / "data-b")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return urls


def generate(orchestra, musicians: int, projects: int, offers: int) -> list[tuple[int, str]]:
    """The large orchestra's rows; returns (pk, offer_id) of every pending offer."""
    from django.utils import timezone

    from stagesub.messaging.models import Message
    from stagesub.offers.models import Offer, OfferEvent
    from stagesub.projects.models import Need, Project
    from stagesub.rankings import services as rankings
    from stagesub.roster.models import Musician, Position
    from stagesub.tenancy import use_orchestra

    now = timezone.now()
    batch = 5000
    with use_orchestra(orchestra):
        position = Position.objects.order_by("pk").first()
        ranking = rankings.create_list(position, "A")
        people = Musician.objects.bulk_create(
            [
                Musician(
                    musician_id=f"BM{i:06d}",
                    first_name=f"Förnamn{i}",
                    last_name=f"Efternamn{i}",
                    email=f"musiker{i}@example.se",
                    preferred_language="sv",
                )
                for i in range(musicians)
            ],
            batch_size=batch,
        )
        plays = Project.objects.bulk_create(
            [
                Project(
                    project_id=f"BP{i:05d}",
                    name=f"Projekt {i}",
                    start_date=datetime.date(2027, 1, 1) + datetime.timedelta(days=i % 300),
                )
                for i in range(projects)
            ],
            batch_size=batch,
        )
        needs = Need.objects.bulk_create(
            [
                Need(
                    need_id=f"BN{i:05d}",
                    project=project,
                    position=position,
                    quantity=offers // projects,
                    ranking_list=ranking,
                    strategy="parallel",
                )
                for i, project in enumerate(plays)
            ],
            batch_size=batch,
        )
        per_project = offers // projects
        made = Offer.objects.bulk_create(
            [
                Offer(
                    offer_id=f"BO{p * per_project + k:07d}",
                    need=need,
                    project=need.project,
                    musician=people[(p * per_project + k) % musicians],
                    sent_at=now,
                    expires_at=now + datetime.timedelta(days=2),
                )
                for p, need in enumerate(needs)
                for k in range(per_project)
            ],
            batch_size=batch,
        )
        OfferEvent.objects.bulk_create(
            [OfferEvent(offer=o, kind="sent", at=now) for o in made], batch_size=batch
        )
        Message.objects.bulk_create(
            [
                Message(
                    kind="request",
                    offer=o,
                    musician=o.musician,
                    to_email=o.musician.email,
                    language="sv",
                    subject="Förfrågan",
                    body="Hej! Kan du spela? " * 10,
                    status="sent",
                    next_attempt_at=now,
                    created_at=now,
                    sent_at=now,
                )
                for o in made
            ],
            batch_size=batch,
        )
    return [(o.pk, o.offer_id) for o in made]


class Writer(threading.Thread):
    """Answers pending offers through the host until stopped; counts acknowledged answers."""

    def __init__(self, orchestra, pending: list[tuple[int, str]]):
        super().__init__(daemon=True)
        self.orchestra, self.pending = orchestra, list(pending)
        self.acknowledged = 0
        self.refused_503 = 0
        self.stop = threading.Event()
        self.hold, self.idle = threading.Event(), threading.Event()
        self.error = ""

    def pause(self) -> None:
        self.hold.set()
        self.idle.wait(30)

    def resume(self) -> None:
        self.idle.clear()
        self.hold.clear()

    def run(self) -> None:
        from django.db import connections
        from django.test import Client

        from stagesub.offers import tokens

        client = Client(HTTP_HOST=f"{self.orchestra.subdomain}.bench.test")
        try:
            while self.pending and not self.stop.is_set():
                if self.hold.is_set():
                    self.idle.set()
                    while self.hold.is_set() and not self.stop.is_set():
                        time.sleep(0.01)
                    continue
                pk, offer_id = self.pending[-1]

                class _Offer:  # what tokens.make reads
                    pass

                offer = _Offer()
                offer.pk, offer.offer_id = pk, offer_id
                path = f"/r/{tokens.make(self.orchestra.id, offer)}/"
                response = client.post(path, {"answer": "no"})
                if response.status_code == 302 and response["Location"].endswith("answered=1"):
                    self.acknowledged += 1
                    self.pending.pop()
                elif response.status_code == 503:
                    self.refused_503 += 1
                    time.sleep(0.05)
                else:
                    self.error = f"unexpected answer {response.status_code} for offer {pk}"
                    return
                time.sleep(0.005)
        except Exception as exc:  # reported in the result
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()


def declined(subdomain: str) -> int:
    from stagesub.offers.models import Offer
    from stagesub.tenancy import use_orchestra

    with use_orchestra(subdomain):
        return Offer.objects.filter(status="declined").count()


def size_bytes(orchestra) -> int:
    from stagesub.tenancy.backends import backend_for
    from stagesub.tenancy.models import Orchestra

    orchestra = Orchestra.objects.select_related("server").get(pk=orchestra.pk)
    backend = backend_for(orchestra.server)
    if orchestra.server.kind == "sqlite":
        path = backend.path(orchestra.database_name)
        return path.stat().st_size + (
            Path(f"{path}-wal").stat().st_size if Path(f"{path}-wal").exists() else 0
        )
    with backend.connect_admin() as conn:
        return conn.execute("SELECT pg_database_size(%s)", [orchestra.database_name]).fetchone()[0]


def one_move(orchestra, target, writer: Writer, *, force_dump: bool = False) -> dict:
    from stagesub.tenancy.binding import directory
    from stagesub.tenancy.move import move_orchestra

    before = writer.acknowledged
    marks = {}
    result = move_orchestra(
        orchestra,
        target,
        force_dump=force_dump,
        step=lambda key: marks.setdefault(key, writer.acknowledged),
    )
    time.sleep(1.0)  # the writer goes on against the new database
    writer.pause()  # between two answers: every acknowledged one must be in the database now
    after = writer.acknowledged
    in_database = declined(orchestra.subdomain)
    writer.resume()
    return {
        "method": result.method,
        "fallback_reason": result.fallback_reason,
        "window_s": round(result.window_seconds, 3),
        "settle_s": round(result.settle_seconds, 3),
        "paused_s": round(result.paused_seconds, 3),
        "window_other_processes_s": round(result.window_seconds + directory.settle_seconds, 3),
        "move_total_s": round(result.total_seconds, 2),
        "rows": sum(result.rows.values()),
        "answers_during_move": marks.get("maintenance", after) - before,
        "answers_acknowledged_total": after,
        "declined_in_moved_database": in_database,
        # an answer the writer was told was taken, missing from the moved database
        "lost": after - in_database,
        "target_paused_under_1s": result.paused_seconds < 1.0,
        "target_window_under_1s": result.window_seconds + directory.settle_seconds < 1.0,
    }


def child(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="stagesub-bench-move-"))
    try:
        urls = setup(args.backend, work)
        from stagesub.tenancy import servers
        from stagesub.tenancy.backends import default_server
        from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra

        source = default_server()
        target, _ = servers.add_server("server-b", urls["b"], region=source.region or "local")
        orchestra = create_orchestra(
            ProvisionRequest(
                subdomain="stor",
                name="Stora Orkestern",
                admin_email="admin@stor.example.se",
                admin_password="bench-password-0123",
            )
        ).orchestra
        started = time.perf_counter()
        pending = generate(orchestra, args.musicians, args.projects, args.offers)
        generated = time.perf_counter() - started
        log(f"{args.backend}: generated in {generated:.1f} s, {size_bytes(orchestra) / 1e6:.1f} MB")
        writer = Writer(orchestra, pending)
        writer.start()
        time.sleep(1.0)
        out = {
            "backend": args.backend,
            "musicians": args.musicians,
            "projects": args.projects,
            "offers": args.offers,
            "generate_s": round(generated, 1),
            "database_mb": round(size_bytes(orchestra) / 1e6, 1),
            "moves": [],
        }
        if args.backend == "postgresql":
            out["moves"].append(one_move(orchestra, target, writer))
            log(f"logical: {out['moves'][-1]}")
            out["moves"].append(one_move(orchestra, source, writer, force_dump=True))
            log(f"dump: {out['moves'][-1]}")
        else:
            out["moves"].append(one_move(orchestra, target, writer))
            log(f"sqlite: {out['moves'][-1]}")
        writer.stop.set()
        writer.join(30)
        out["writer_error"] = writer.error
        out["writer_503_retries"] = writer.refused_503
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--musicians", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--offers", type=int, default=50_000)
    parser.add_argument("--json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    if args.child:
        print(json.dumps(child(args)))
        return
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "runs": [],
    }
    for backend in ("postgresql", "sqlite") if args.backend == "both" else (args.backend,):
        # Django settings are process-wide: one process per backend.
        run = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--backend",
                backend,
                "--musicians",
                str(args.musicians),
                "--projects",
                str(args.projects),
                "--offers",
                str(args.offers),
            ],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        results["runs"].append(json.loads(run.stdout.strip().splitlines()[-1]))
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()

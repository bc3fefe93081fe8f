"""Offer-engine benchmark: answers under concurrency, outbox delivery, and a quiet scheduler pass.

    python bench/offers.py [--quick] [--json OUT] [--workers N]

Run from the repository root. Everything happens in a temporary directory with a PostgreSQL 16
server started here (stagesub.devtools.localpg); both are removed at the end, also on error.
The JSON result goes to stdout (and to OUT); progress goes to stderr. Nothing here asserts
speed: every number is reported next to its target, and `met` says whether it was reached.

What is measured, and how
-------------------------
1. answers_per_second (PostgreSQL). One orchestra; 20 positions with 10 qualified musicians
   each on the position's A list, so 200 distinct musicians. Per run a fresh project gets one
   first_come need per position (quantity 3, max_recipients 10) and every need is sent: 200
   pending offers. Two forked processes (--processes, as two web worker processes on this
   2-core machine) of 16 threads each (--workers; not 200 threads: the server's
   max_connections is about 100 and each thread holds an orchestra and a control connection)
   take the 200 answers, in a seeded random order and about half of them yes, from a shared
   queue and calls services.answer() for each. Every worker binds the orchestra and opens its
   connections before a barrier (a web process keeps its connections open too); the clock runs
   from the barrier's release to the last worker's last answer. answers/s = 200 / that time.
   After each run, accepted offers per need are compared with the need's quantity: the sum of
   the excess is `overbooked` and must be 0. The reported rate is the median over the runs
   (3; 1 with --quick). Mail is only queued in the outbox here, never delivered.
2. outbox_messages_per_second (PostgreSQL). A second orchestra gets N queued request e-mails
   (500; 100 with --quick), rendered by the real outbox.queue(); then one call of
   messaging.delivery.deliver_due() hands them to an aiosmtpd server on loopback that runs in
   its own process (as a real mail server would, so it does not compete for this process's
   GIL). Timed: that call only. The same is done on an SQLite orchestra for comparison
   (stderr only).
3. scheduler_pass_seconds. 1,000 orchestra rows in the control database only (no databases),
   all active, half with next_due_at NULL and half in the future: nothing is due. Timed:
   offers.scheduler.run_due(now), median of several passes, and again with every next_due_at
   NULL. None of these orchestras may get a connection alias (they have no database, and a
   quiet pass must not open one): `scheduler_opened_connections` counts those that did.
   This phase runs first, while no real orchestra has work due, and its rows are deleted after.

`met` is true when the target is reached; for answers also only with zero overbooking, and
for the scheduler only when no orchestra connection was opened.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import queue
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

SECRET_KEY = "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
ADMIN_PASSWORD = "bench-password-0123"
TARGETS = {
    "answers_per_second": 400,  # issue 10
    "outbox_messages_per_second": 100,
    "scheduler_pass_seconds": 2.0,
}

POSITIONS = 20  # needs per run, one per position
MUSICIANS_PER_POSITION = 10  # = max_recipients: every musician gets exactly one offer per run
QUANTITY = 3
YES_SHARE = 0.5
ANSWER_WORKERS = 16  # threads per process; each holds two connections (orchestra + control)
# Processes answering at once, as a web server's worker processes would (one per core here);
# one Python process cannot use more than one core for this work (the GIL).
ANSWER_PROCESSES = 2
QUIET_ORCHESTRAS = 1000


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


# --- environment ----------------------------------------------------------------------------


def start_environment(workdir: Path) -> None:
    """STAGESUB_* settings, a PostgreSQL server with an empty control database, Django set up."""
    import warnings

    import psycopg

    # pgserver's lock directory falls back to /tmp without XDG_RUNTIME_DIR; harmless, and
    # pyproject.toml silences the same warning for the tests.
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs.*")

    from stagesub.devtools.localpg import start_server

    # cleanup="delete": stopping the server also removes its data directory (see stop_postgres).
    url = start_server(workdir / "pg", cleanup="delete")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS stagesub_control")
        conn.execute("CREATE DATABASE stagesub_control")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "stagesub.settings",
            "STAGESUB_DATA_DIR": str(workdir / "data"),
            "STAGESUB_SECRET_KEY": SECRET_KEY,
            "STAGESUB_BASE_DOMAIN": "stagesub.test",
            "STAGESUB_SSL_REDIRECT": "0",
            "STAGESUB_SPARE_DATABASES": "0",
            "STAGESUB_DATABASE_URL": url.replace("/postgres?", "/stagesub_control?"),
            "STAGESUB_TENANT_SERVER_URL": url,
        }
    )
    os.environ.setdefault("STAGESUB_LOG_LEVEL", "WARNING")  # keep provisioning chatter out
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def stop_postgres() -> None:
    """Close this process's connections and stop every server localpg started here."""
    try:
        from django.db import connections

        connections.close_all()
    except Exception as exc:  # Django may never have been set up
        log(f"closing connections: {exc}")
    from stagesub.devtools import localpg

    while localpg._servers:
        localpg._servers.pop().cleanup()


def pg_setting(name: str) -> str:
    from stagesub.tenancy.backends import backend_for, default_server

    with backend_for(default_server()).connect_admin() as conn:
        return conn.execute(f"SHOW {name}").fetchone()[0]


def provision(subdomain: str, name: str, server_name: str | None = None):
    from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra

    request = ProvisionRequest(
        subdomain=subdomain,
        name=name,
        admin_email=f"admin@{subdomain}.example.org",
        admin_password=ADMIN_PASSWORD,
        server_name=server_name,
    )
    return create_orchestra(request).orchestra


def create_musicians(position, count: int, prefix: str) -> list:
    """`count` musicians qualified for `position` (in the bound orchestra)."""
    from stagesub.roster.services import MusicianData, create_musician

    return [
        create_musician(
            MusicianData(
                first_name=f"{prefix}{i:03d}",
                last_name="Bench",
                email=f"{prefix.lower()}{i:03d}@example.se",
                position_ids=[position.pk],
            ),
            max_musicians=10_000,
        )
        for i in range(count)
    ]


# --- 1. answers under concurrency -----------------------------------------------------------


def build_roster(orchestra) -> list[tuple]:
    """(position, A list) for POSITIONS positions, each list holding its own 10 musicians."""
    from stagesub.rankings import services as rankings
    from stagesub.roster.models import Position
    from stagesub.tenancy import use_orchestra

    lists = []
    with use_orchestra(orchestra):
        for n, position in enumerate(Position.objects.order_by("pk")[:POSITIONS]):
            musicians = create_musicians(position, MUSICIANS_PER_POSITION, f"P{n:02d}M")
            a_list = rankings.create_list(position, "A")
            rankings.add_musicians(a_list, [m.pk for m in musicians])
            lists.append((position, a_list))
    return lists


def open_needs(orchestra, lists, run: int) -> tuple[list, list]:
    """A fresh project with one first_come need per list, all sent: (needs, pending offers).

    A fresh project per run, because a musician may hold only one offer per project."""
    from stagesub.offers import services
    from stagesub.projects import services as projects
    from stagesub.projects.services import NeedData, ProjectData
    from stagesub.tenancy import use_orchestra

    with use_orchestra(orchestra):
        project = projects.create_project(
            ProjectData(name=f"Bench run {run}", start_date=datetime.date(2031, 1, 6 + run)),
            max_projects=100,
        )
        needs, offers = [], []
        for position, a_list in lists:
            need = projects.create_need(
                project,
                NeedData(
                    position_id=position.pk,
                    quantity=QUANTITY,
                    strategy="first_come",
                    response_time_hours=48,
                    ranking_list_id=a_list.pk,
                    max_recipients=MUSICIANS_PER_POSITION,
                ),
            )
            needs.append(need)
            offers.extend(services.send(need).created)
    expected = POSITIONS * MUSICIANS_PER_POSITION
    if len(offers) != expected:
        raise SystemExit(f"expected {expected} pending offers, the sends created {len(offers)}")
    return needs, offers


def answer_threads(orchestra, answers: list[tuple], workers: int, barrier, started) -> float:
    """Answer every (offer, yes) with `workers` threads that start at `barrier`; returns the
    time the last one finished (time.perf_counter: CLOCK_MONOTONIC, comparable across
    processes). `started` is set by the barrier's action."""
    from django.db import connections

    from stagesub.offers import services
    from stagesub.offers.models import Offer
    from stagesub.tenancy import use_orchestra
    from stagesub.tenancy.context import current_binding
    from stagesub.tenancy.models import Orchestra

    work: queue.SimpleQueue = queue.SimpleQueue()
    for item in answers:
        work.put(item)
    finished: list[float] = []
    errors: list[BaseException] = []
    cpu: list[float] = []  # each thread's own CPU seconds from the start to its last answer
    pg_cpu: list[float] = []  # and that of its two PostgreSQL backends (orchestra, control)

    def worker() -> None:
        try:
            with use_orchestra(orchestra):  # a new thread starts unbound
                # Open both connections now (orchestra database, and the control database that
                # note_due() writes to after commit), not inside the timed part.
                Offer.objects.exists()
                Orchestra.objects.filter(pk=orchestra.pk).exists()
                backends = [
                    connections[alias].connection.info.backend_pid
                    for alias in (current_binding().alias, "default")
                ]
                barrier.wait()
                started_cpu = time.thread_time()
                started_pg = backend_cpu_seconds(backends)
                while True:
                    try:
                        offer, yes = work.get_nowait()
                    except queue.Empty:
                        break
                    services.answer(offer, accepted=yes)
                finished.append(time.perf_counter())
                cpu.append(time.thread_time() - started_cpu)
                pg_cpu.append(backend_cpu_seconds(backends) - started_pg)
        except threading.BrokenBarrierError:
            pass  # another worker failed before the start; its error is reported
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, name=f"answer-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return (max(finished) if finished else 0.0), sum(cpu), sum(pg_cpu)


def backend_cpu_seconds(pids: list[int]) -> float:
    """CPU seconds (user + system) the given PostgreSQL backends have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def answer_concurrently(
    orchestra, answers: list[tuple], processes: int, workers: int
) -> tuple[float, float, float]:
    """Answer with `processes` forked processes of `workers` threads each (as web worker
    processes would); seconds from the common start to the last answer, and the CPU seconds
    the answering threads and their PostgreSQL backends used."""
    from django.db import connections

    if processes == 1:
        started: list[float] = []
        barrier = threading.Barrier(workers, action=lambda: started.append(time.perf_counter()))
        done, cpu, pg_cpu = answer_threads(orchestra, answers, workers, barrier, started)
        return done - started[0], cpu, pg_cpu
    context = multiprocessing.get_context("fork")
    connections.close_all()  # children open their own; a forked socket must not be shared
    start = context.Value("d", 0.0)

    def mark_start() -> None:
        start.value = time.perf_counter()

    barrier = context.Barrier(processes * workers, action=mark_start)
    results = context.Queue()

    def child(share: list[tuple]) -> None:
        try:
            results.put(("ok", answer_threads(orchestra, share, workers, barrier, None)))
        except BaseException as exc:
            results.put(("error", repr(exc)))

    children = [
        context.Process(target=child, args=(answers[i::processes],)) for i in range(processes)
    ]
    for process in children:
        process.start()
    outcomes = [results.get(timeout=300) for _ in children]
    for process in children:
        process.join()
    failed = [detail for status, detail in outcomes if status != "ok"]
    if failed:
        raise SystemExit(f"an answering process failed: {failed[0]}")
    done = max(detail[0] for _status, detail in outcomes)
    cpu = sum(detail[1] for _status, detail in outcomes)
    return done - start.value, cpu, sum(detail[2] for _status, detail in outcomes)


def tally(orchestra, needs) -> dict:
    """Offer statuses of the run, and the seats accepted beyond each need's quantity."""
    from django.db.models import Count

    from stagesub.offers.models import Offer, OfferEvent
    from stagesub.projects.models import Need
    from stagesub.tenancy import use_orchestra

    pks = [n.pk for n in needs]
    with use_orchestra(orchestra):
        statuses = dict(
            Offer.objects.filter(need__in=pks)
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        accepted = dict(
            Offer.objects.filter(need__in=pks, status="accepted")
            .values_list("need_id")
            .annotate(n=Count("pk"))
            .values_list("need_id", "n")
        )
        quantities = dict(Need.objects.filter(pk__in=pks).values_list("pk", "quantity"))
        late = OfferEvent.objects.filter(offer__need__in=pks, kind="late_answer").count()
    overbooked = sum(max(0, accepted.get(pk, 0) - quantities[pk]) for pk in pks)
    return {"offers": statuses, "late_yes": late, "overbooked": overbooked}


def answers_phase(runs: int, workers: int, processes: int) -> dict:
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # A slot of the process's connection budget per thread, as docs/operations.md sizes a web
    # process; with fewer, threads past the budget would get ConnectionBudgetExhausted.
    settings.MAX_ORCHESTRA_CONNECTIONS = max(settings.MAX_ORCHESTRA_CONNECTIONS, workers)
    log("answers: provisioning an orchestra and 200 musicians on 20 lists")
    orchestra = provision("answers", "Svarsorkestern")
    lists = build_roster(orchestra)
    rng = random.Random(2031)
    results = []
    for run in range(1, runs + 1):
        needs, offers = open_needs(orchestra, lists, run)
        answers = [(offer, rng.random() < YES_SHARE) for offer in offers]
        rng.shuffle(answers)  # needs interleave, as real answers would
        seconds, python_cpu, pg_cpu = answer_concurrently(orchestra, answers, processes, workers)
        result = {
            "answers": len(answers),
            "yes": sum(1 for _, yes in answers if yes),
            "seconds": round(seconds, 4),
            "answers_per_second": round(len(answers) / seconds, 1),
            # CPU per answer: the answering threads' Python (ORM, engine, psycopg) and the
            # PostgreSQL backends. On a shared machine these move far less than the rate.
            "python_cpu_ms_per_answer": round(1000 * python_cpu / len(answers), 2),
            "postgres_cpu_ms_per_answer": round(1000 * pg_cpu / len(answers), 2),
            **tally(orchestra, needs),
        }
        log(f"answers run {run}: {json.dumps(result)}")
        results.append(result)
    return {
        "answers_per_second": statistics.median(r["answers_per_second"] for r in results),
        "python_cpu_ms_per_answer": statistics.median(
            r["python_cpu_ms_per_answer"] for r in results
        ),
        "postgres_cpu_ms_per_answer": statistics.median(
            r["postgres_cpu_ms_per_answer"] for r in results
        ),
        "answers_runs": results,
        "answers_total": sum(r["answers"] for r in results),
        "overbooked": sum(r["overbooked"] for r in results),
        "answer_workers": workers,
        "answer_processes": processes,
    }


# --- 2. outbox delivery to a real SMTP server -------------------------------------------------


def _smtp_sink(port: int, ready, stop, received, sessions) -> None:
    """Child process: an aiosmtpd server on loopback that accepts and counts every message."""
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            received.value += 1
            if not getattr(session, "counted", False):  # one session per SMTP connection
                session.counted = True
                sessions.value += 1
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class SmtpSink:
    """The SMTP server of _smtp_sink in its own process, so it does not share our GIL."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # spawn, not fork: this process has threads and open database connections.
        context = multiprocessing.get_context("spawn")
        self._ready, self._stop = context.Event(), context.Event()
        self._received, self._sessions = context.Value("i", 0), context.Value("i", 0)
        self._process = context.Process(
            target=_smtp_sink,
            args=(self.port, self._ready, self._stop, self._received, self._sessions),
            daemon=True,
        )

    @property
    def received(self) -> int:
        return self._received.value

    @property
    def sessions(self) -> int:
        return self._sessions.value

    def __enter__(self) -> SmtpSink:
        self._process.start()
        if not self._ready.wait(30):
            self._process.kill()
            raise SystemExit("the SMTP server did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


def queue_messages(orchestra, count: int, now) -> None:
    """`count` request e-mails in the orchestra's outbox, rendered as the engine renders them."""
    from stagesub.messaging import outbox
    from stagesub.messaging.rendering import VARIABLES
    from stagesub.roster.models import Musician, Position
    from stagesub.tenancy import use_orchestra
    from stagesub.tenancy.context import orchestra_atomic

    values = {name: f"{name} value" for name in VARIABLES}
    values["responseUrl"] = f"{orchestra.public_url()}r/0123456789abcdefghij/"
    with use_orchestra(orchestra):
        musicians = list(Musician.objects.order_by("pk")[:10]) or create_musicians(
            Position.objects.order_by("pk").first(), 10, "Mail"
        )
        with orchestra_atomic():
            for i in range(count):
                outbox.queue(kind="request", musician=musicians[i % 10], values=values, now=now)


def deliver(orchestra, count: int, sink: SmtpSink) -> dict:
    """Queue `count` messages, then time one deliver_due() call that sends them all."""
    from stagesub.messaging import delivery
    from stagesub.messaging.models import Message
    from stagesub.tenancy import use_orchestra

    queued_at = timezone_now()
    queue_messages(orchestra, count, queued_at)
    before = sink.received
    with use_orchestra(orchestra):
        seconds, report = timed(
            lambda: delivery.deliver_due(
                orchestra_name=orchestra.name,
                now=queued_at + datetime.timedelta(seconds=1),
                limit=count,
            )
        )
        left = Message.objects.filter(status="queued").count()
    received = sink.received - before
    if report.sent != count or received != count or left:
        raise SystemExit(
            f"delivery incomplete: sent {report.sent}, failed {report.failed}, "
            f"server received {received}, still queued {left} (of {count})"
        )
    return {"messages": count, "seconds": seconds, "per_second": count / seconds}


def timezone_now():
    from django.utils import timezone

    return timezone.now()


def outbox_phase(count: int) -> dict:
    from django.conf import settings

    from stagesub.tenancy.backends import embedded_server

    log(f"outbox: {count} messages to aiosmtpd on loopback")
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 10
        postgres = deliver(provision("outbox", "Utkorgsorkestern"), count, sink)
        log(f"outbox on PostgreSQL: {json.dumps(postgres)}; SMTP connections: {sink.sessions}")
        # For comparison only: the same delivery from an SQLite orchestra database.
        sessions = sink.sessions
        embedded_server()  # registers the SQLite data directory as a server
        sqlite = deliver(provision("outbox-sqlite", "Utkorg SQLite", "embedded"), count, sink)
        log(f"outbox on SQLite: {json.dumps(sqlite)}; SMTP connections: {sink.sessions - sessions}")
    return {
        "outbox_messages": count,
        "outbox_messages_per_second": postgres["per_second"],
    }


# --- 3. a scheduler pass over quiet orchestras ------------------------------------------------


def median_pass(now, repeats: int) -> float:
    from stagesub.offers import scheduler

    scheduler.run_due(now)  # warm-up: first query compilation, imports
    times = []
    for _ in range(repeats):
        seconds, report = timed(lambda: scheduler.run_due(now))
        if report.orchestras or report.broken:
            raise SystemExit(f"a quiet pass found work: {report.summary()}")
        times.append(seconds)
    return statistics.median(times)


def count_queries(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def scheduler_phase(repeats: int) -> dict:
    from stagesub.offers import scheduler
    from stagesub.tenancy import connections
    from stagesub.tenancy.models import Orchestra

    log(f"scheduler: {QUIET_ORCHESTRAS} quiet orchestras (control rows only)")
    now = timezone_now()
    Orchestra.objects.bulk_create(
        Orchestra(
            subdomain=f"quiet-{i:04d}",
            name=f"Tyst orkester {i}",
            status=Orchestra.Status.ACTIVE,
            # Half nothing scheduled, half scheduled later (1 to 7 days ahead).
            next_due_at=None if i % 2 else now + datetime.timedelta(days=1 + i % 7),
        )
        for i in range(QUIET_ORCHESTRAS)
    )
    quiet = Orchestra.objects.filter(subdomain__startswith="quiet-")
    aliases = {connections.alias_for(pk) for pk in quiet.values_list("pk", flat=True)}
    try:
        mixed = median_pass(now, repeats)
        mixed_queries = count_queries(lambda: scheduler.run_due(now))
        quiet.update(next_due_at=None)
        all_null = median_pass(now, repeats)
        null_queries = count_queries(lambda: scheduler.run_due(now))
        opened = len(aliases & set(connections.registered_aliases()))
        log(
            f"scheduler: pass {mixed * 1000:.2f} ms ({mixed_queries} queries), all NULL "
            f"{all_null * 1000:.2f} ms ({null_queries} queries), aliases opened {opened}"
        )
    finally:
        quiet.delete()  # the other phases' orchestras are then the only ones
    return {
        "scheduler_orchestras": QUIET_ORCHESTRAS,
        "scheduler_pass_seconds": mixed,
        "scheduler_pass_all_null_seconds": all_null,
        "scheduler_opened_connections": opened,
    }


# --- putting it together --------------------------------------------------------------------


def machine() -> dict:
    import django

    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "django": django.__version__,
        "postgresql": pg_setting("server_version"),
        "postgresql_max_connections": int(pg_setting("max_connections")),
    }


def verdicts(out: dict) -> dict:
    return {
        "answers_per_second": out["answers_per_second"] >= TARGETS["answers_per_second"]
        and out["overbooked"] == 0,
        "outbox_messages_per_second": out["outbox_messages_per_second"]
        >= TARGETS["outbox_messages_per_second"],
        "scheduler_pass_seconds": out["scheduler_pass_seconds"] < TARGETS["scheduler_pass_seconds"]
        and out["scheduler_opened_connections"] == 0,
    }


def run(quick: bool, workers: int, processes: int) -> dict:
    out: dict = {
        "machine": machine(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    # Two connections per worker thread; leave room for this thread and the server's own needs.
    workers = min(workers, (out["machine"]["postgresql_max_connections"] - 10) // (2 * processes))
    out.update(scheduler_phase(repeats=3 if quick else 7))  # first: nothing else is due yet
    out.update(answers_phase(runs=1 if quick else 3, workers=workers, processes=processes))
    out.update(outbox_phase(100 if quick else 500))
    out["targets"] = dict(TARGETS)
    out["met"] = verdicts(out)
    keys = [
        "machine", "date", "answers_per_second", "python_cpu_ms_per_answer",
        "postgres_cpu_ms_per_answer", "answers_runs", "answers_total", "overbooked",
        "answer_workers", "answer_processes", "outbox_messages", "outbox_messages_per_second", "scheduler_orchestras",
        "scheduler_pass_seconds", "scheduler_pass_all_null_seconds",
        "scheduler_opened_connections", "targets", "met",
    ]  # fmt: skip
    return {key: out[key] for key in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 answer run, 100 messages")
    parser.add_argument("--json", metavar="OUT", help="also write the result to this file")
    parser.add_argument(
        "--workers", type=int, default=ANSWER_WORKERS, help="threads per process (default 16)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=ANSWER_PROCESSES,
        help="answering processes, as web worker processes (default 2: one per core here)",
    )
    args = parser.parse_args()
    if args.workers < 1 or args.processes < 1:
        parser.error("--workers and --processes must be at least 1")
    workdir = Path(tempfile.mkdtemp(prefix="stagesub-bench-offers-"))
    started = time.perf_counter()
    try:
        start_environment(workdir)
        result = run(args.quick, args.workers, args.processes)
    finally:
        stop_postgres()
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"done in {time.perf_counter() - started:.1f} s")
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()

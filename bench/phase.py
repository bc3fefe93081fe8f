"""One benchmark phase of StageSub in its own process (Django settings are process-wide).

    python bench/phase.py --backend postgresql|sqlite --n N --workdir DIR --src SRC_DIR

Run by bench/run.py; prints one JSON object on the last line of stdout. Nothing here asserts
speed: every number is reported, the verdicts are made by run.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SECRET_KEY = "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
ADMIN_PASSWORD = "bench-password-0123"

# The "one new migration": a new table in every orchestra database, like the anchor's `Extra`.
MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orchestra", "{latest}")]
    operations = [
        migrations.CreateModel(
            name="BenchExtra",
            fields=[("id", models.BigAutoField(primary_key=True)), ("note", models.TextField(blank=True))],
        )
    ]
"""


def log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def setup_environment(args) -> dict:
    """STAGESUB_* for this process and its children; PostgreSQL: a pgserver started here."""
    work = Path(args.workdir)
    env = {
        "STAGESUB_DATA_DIR": str(work / "data"),
        "STAGESUB_SECRET_KEY": SECRET_KEY,
        "STAGESUB_BASE_DOMAIN": "bench.test",
        "STAGESUB_SSL_REDIRECT": "0",
        "DJANGO_SETTINGS_MODULE": "stagesub.settings",
    }
    if args.backend == "postgresql":
        import psycopg

        from stagesub.devtools.localpg import start_server

        url = start_server(work / "pg", cleanup="stop")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS stagesub_control")
            conn.execute("CREATE DATABASE stagesub_control")
        env["STAGESUB_DATABASE_URL"] = url.replace("/postgres?", "/stagesub_control?")
        env["STAGESUB_TENANT_SERVER_URL"] = url
    os.environ.update(env)
    return env


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {
        "n": len(ordered),
        "median_s": statistics.median(ordered),
        "p95_s": ordered[max(0, round(0.95 * len(ordered)) - 1)],
        "min_s": ordered[0],
        "max_s": ordered[-1],
    }


def run_cli(args: list[str], pythonpath: str | None = None) -> tuple[float, str]:
    """Time `stagesub ARGS` as a fresh process (start-up included, as for manage.py)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "stagesub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"stagesub {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return seconds, result.stdout


def fleet_counts(output: str) -> dict:
    match = re.search(
        r"(\d+) orchestras: (\d+) migrated, (\d+) already up to date, (\d+) recorded up to date, "
        r"(\d+) failed",
        output,
    )
    if match is None:
        raise SystemExit(f"unexpected migrate_orchestras output:\n{output[-2000:]}")
    total, migrated, up_to_date, skipped, failed = map(int, match.groups())
    return {
        "total": total,
        "migrated": migrated,
        "up_to_date": up_to_date,
        "skipped": skipped,
        "failed": failed,
    }


class Provisioner:
    """Calls create_orchestra as an operator would, recording each step's duration."""

    def __init__(self):
        self.count = 0
        self.steps: dict[str, list[float]] = {}

    def __call__(self, record_steps: bool = True) -> float:
        from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra

        i = self.count
        self.count += 1
        marks: list[tuple[str, float]] = []
        started = time.perf_counter()
        create_orchestra(
            ProvisionRequest(
                subdomain=f"orch{i}",
                name=f"Orkester {i}",
                admin_email=f"admin{i}@example.org",
                admin_password=ADMIN_PASSWORD,
            ),
            progress=lambda step: marks.append((step, time.perf_counter())),
        )
        ended = time.perf_counter()
        if record_steps:
            for (step, at), (_, until) in zip(marks, [*marks[1:], ("end", ended)], strict=True):
                self.steps.setdefault(step, []).append(until - at)
        return ended - started

    def step_medians_ms(self) -> dict:
        return {k: statistics.median(v) * 1000 for k, v in self.steps.items()}


def pg_raw_costs(samples: int = 7) -> dict:
    """The bare PostgreSQL operations provisioning is made of, on this server, right now."""
    from psycopg import sql

    from stagesub.tenancy import schema
    from stagesub.tenancy.backends import backend_for, default_server

    backend = backend_for(default_server())
    template = schema.pg_template(backend)
    create, role = [], []
    with backend.connect_admin() as conn:
        for i in range(samples):
            name = f"bench_raw_{i}"
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            create.append(
                timed(
                    lambda name=name: conn.execute(
                        sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY WAL_LOG").format(
                            sql.Identifier(name), sql.Identifier(template)
                        )
                    )
                )[0]
            )
            role.append(
                timed(
                    lambda name=name: conn.execute(
                        sql.SQL(
                            "CREATE ROLE {r} LOGIN PASSWORD 'bench-raw-password';"
                            "REVOKE ALL ON DATABASE {d} FROM PUBLIC;"
                            "GRANT CONNECT, TEMPORARY ON DATABASE {d} TO {r}"
                        ).format(r=sql.Identifier(name), d=sql.Identifier(name))
                    )
                )[0]
            )
        for i in range(samples):
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(f"bench_raw_{i}")))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(f"bench_raw_{i}")))
        size = conn.execute("SELECT pg_database_size(%s)", [template]).fetchone()[0]
    return {
        "create_database_median_s": statistics.median(create),
        "role_and_grants_median_s": statistics.median(role),
        "template_size_mb": size / 1e6,
    }


def startup_seconds(samples: int = 3) -> float:
    """A fresh Python process that only runs django.setup(): the floor of any CLI command."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def fleet_phase(out: dict, src: str, workdir: Path) -> None:
    parallel = str(len(os.sched_getaffinity(0)))
    out["fleet_parallel"] = int(parallel)
    out["process_startup_s"] = startup_seconds()
    log("migrate_orchestras, nothing pending")
    seconds, text = run_cli(["migrate_orchestras", "--parallel", parallel])
    out["migrate_noop_s"], out["migrate_noop_counts"] = seconds, fleet_counts(text)
    from stagesub.tenancy.fleet import migrate_orchestras

    # The same call inside this (warm) process: what is left once start-up is taken away.
    out["migrate_noop_in_process_s"] = timed(lambda: migrate_orchestras(parallel=int(parallel)))[0]

    # A scratch copy of the source with one new orchestra migration; the repository is untouched.
    copy = workdir / "src-with-new-migration"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    migrations_dir = copy / "stagesub" / "orchestra" / "migrations"
    latest = sorted(p.stem for p in migrations_dir.glob("0*.py"))[-1]
    (migrations_dir / "0999_bench_extra.py").write_text(MIGRATION.format(latest=latest))
    log("migrate_orchestras, one new migration")
    seconds, text = run_cli(["migrate_orchestras", "--parallel", parallel], pythonpath=str(copy))
    out["migrate_one_new_s"], out["migrate_one_new_counts"] = seconds, fleet_counts(text)
    if out["migrate_one_new_counts"]["migrated"] != out["migrate_one_new_counts"]["total"]:
        raise SystemExit(f"the new migration was not applied everywhere:\n{text[-2000:]}")
    seconds, text = run_cli(["migrate_orchestras", "--parallel", parallel], pythonpath=str(copy))
    out["migrate_noop_after_s"], out["migrate_noop_after_counts"] = seconds, fleet_counts(text)


def connections_phase(out: dict, backend_kind: str) -> None:
    from django.conf import settings

    from stagesub.orchestra.models import DatabaseStamp
    from stagesub.tenancy import connections, use_orchestra
    from stagesub.tenancy.models import Orchestra

    orchestras = list(Orchestra.objects.select_related("server").order_by("subdomain"))
    peak = 0
    started = time.perf_counter()
    for orchestra in orchestras:
        with use_orchestra(orchestra):
            DatabaseStamp.objects.count()
        peak = max(peak, len(connections.open_orchestra_connections()))
    out["touch_all_s"] = time.perf_counter() - started
    out["orchestras_touched"] = len(orchestras)
    out["open_connections"] = len(connections.open_orchestra_connections())
    out["open_connections_peak"] = peak
    out["open_connections_limit"] = settings.MAX_ORCHESTRA_CONNECTIONS
    if backend_kind == "postgresql":
        from stagesub.tenancy.backends import backend_for, default_server

        names = [o.database_name for o in orchestras]
        with backend_for(default_server()).connect_admin() as conn:
            out["pg_backends_on_orchestra_databases"] = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY(%s)", [names]
            ).fetchone()[0]


def page_phase(out: dict, requests: dict[str, int]) -> None:
    """`/` and `/musicians/` through host routing vs. the same views with the database pinned.

    Both clients run the same settings, session, user, middleware (except routing) and views,
    so they issue the same queries; only the routed one parses the Host header, looks the
    orchestra up in the host directory and binds it per request. The pinned one runs in a
    handler without the routing middleware (bench/pinned.py sets request.orchestra and the
    orchestra urlconf as constants); the orchestra is bound once, around the whole run, with
    use_orchestra() (the routed requests bind it again themselves, as always). Requests
    alternate one by one in ABBA order, so drift and garbage collection hit both sides alike.
    """
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client, override_settings

    from bench import pinned
    from stagesub.roster.models import Musician
    from stagesub.tenancy import use_orchestra
    from stagesub.tenancy.models import Orchestra
    from stagesub.tenancy.seeding import run_demo_steps

    # As production runs (`stagesub serve` collects before its workers start): the pages link
    # to the hashed names in the manifest, which exists only after collectstatic.
    call_command("collectstatic", interactive=False, verbosity=0)
    orchestra = Orchestra.objects.select_related("server").get(subdomain="orch1")
    with use_orchestra(orchestra):
        if not Musician.objects.exists():
            run_demo_steps(orchestra)
        out["page_musicians_in_roster"] = Musician.objects.count()
    host = f"{orchestra.subdomain}.{settings.BASE_DOMAIN}"
    routed = Client(HTTP_HOST=host)
    response = routed.post("/login/", {"username": "orch1-admin", "password": ADMIN_PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"bench login failed: {response.status_code}")
    pinned_client = Client(HTTP_HOST=host)
    pinned_client.cookies = routed.cookies
    pinned.ORCHESTRA = orchestra
    pinned_middleware = [
        "bench.pinned.PinnedOrchestraMiddleware" if m.endswith("OrchestraRoutingMiddleware") else m
        for m in settings.MIDDLEWARE
    ]
    if pinned_middleware == list(settings.MIDDLEWARE):
        raise SystemExit("OrchestraRoutingMiddleware not found in settings.MIDDLEWARE")

    def one(client, path) -> float:
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
        return elapsed

    pages = {}
    with use_orchestra(orchestra):  # the pinned side's binding, once for the whole run
        # The test client builds its middleware chain on its first request and keeps it: build
        # the pinned one under the override once, then leave the settings alone while timing.
        with override_settings(MIDDLEWARE=pinned_middleware):
            one(pinned_client, "/")
        for path, count in requests.items():
            for _ in range(20):  # warm-up
                one(routed, path)
                one(pinned_client, path)
            routed_times, pinned_times = [], []
            for i in range(count):
                if i % 2 == 0:
                    routed_times.append(one(routed, path))
                    pinned_times.append(one(pinned_client, path))
                else:
                    pinned_times.append(one(pinned_client, path))
                    routed_times.append(one(routed, path))
            routed_median = statistics.median(routed_times)
            pinned_median = statistics.median(pinned_times)
            pages[path] = {
                "requests_each": count,
                "routed_median_ms": routed_median * 1000,
                "pinned_median_ms": pinned_median * 1000,
                "ratio": routed_median / pinned_median,
                "routed_mean_ms": statistics.fmean(routed_times) * 1000,
                "pinned_mean_ms": statistics.fmean(pinned_times) * 1000,
            }
    out["pages"] = pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--n", type=int, required=True, help="orchestras for the fleet phase")
    parser.add_argument("--touch", type=int, default=0, help="orchestras for the connection test")
    parser.add_argument("--variants", type=int, default=20, help="PostgreSQL variant samples")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--home-requests", type=int, default=1000)
    parser.add_argument("--roster-requests", type=int, default=400)
    args = parser.parse_args()
    setup_environment(args)

    import django

    django.setup()
    from django.contrib.auth.hashers import get_hasher, make_password
    from django.core.management import call_command

    out: dict = {"backend": args.backend, "n": args.n}
    call_command("migrate", verbosity=0)
    if args.backend == "postgresql":
        from stagesub.tenancy.backends import backend_for, default_server

        with backend_for(default_server()).connect_admin() as conn:
            out["server_version"] = conn.execute("SHOW server_version").fetchone()[0]

    # --- password hashing alone (the default hasher, as provisioning uses it) ------------------
    make_password("warm-up")
    hashes = [timed(lambda: make_password("a-long-enough-password"))[0] for _ in range(7)]
    out["hasher"] = get_hasher().algorithm
    out["password_hash_median_s"] = statistics.median(hashes)

    # --- provisioning: N orchestras, one after another, exactly as create_orchestra does it ----
    provision = Provisioner()
    log(f"provisioning {args.n} orchestras")
    out["provision_first_s"] = provision(record_steps=False)  # also builds the template
    times = [provision() for _ in range(args.n - 1)]
    out["provision"] = summary(times)
    out["provision_first_half_median_s"] = statistics.median(times[: len(times) // 2 or 1])
    out["provision_second_half_median_s"] = statistics.median(times[len(times) // 2 :])
    out["provision_steps_median_ms"] = provision.step_medians_ms()
    if args.backend == "postgresql":
        out["pg_raw"] = pg_raw_costs()

    # --- pages, before the fleet phase: that one leaves the orchestras on a schema with one more
    # migration than this code's, and their hosts then answer the maintenance page (503) --------
    log("pages")
    page_phase(out, {"/": args.home_requests, "/musicians/": args.roster_requests})

    # --- fleet migrations at exactly N orchestras ----------------------------------------------
    fleet_phase(out, args.src, Path(args.workdir))

    # --- more orchestras, up to --touch, for the connection test (and two variants on PG) -------
    extra = max(0, args.touch - args.n)
    if args.backend == "postgresql" and extra:
        from django.test import override_settings

        from stagesub.tenancy.backends import backend_for, default_server
        from stagesub.tenancy.spares import ensure_spares

        backend = backend_for(default_server())
        k = min(args.variants, extra // 3)
        spare = []
        for _ in range(k):  # a spare made by the worker beforehand, untimed: the best case
            ensure_spares(backend, 1)
            spare.append(provision(record_steps=False))
        out["provision_spare_ready"] = summary(spare)
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            cheap = [provision(record_steps=False) for _ in range(k)]
        out["provision_cheap_hash"] = summary(cheap)
        extra -= 2 * k
    if extra:
        log(f"provisioning {extra} more orchestras for the connection test")
        more = [provision(record_steps=False) for _ in range(extra)]
        out["provision_beyond_n"] = summary(more)

    connections_phase(out, args.backend)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

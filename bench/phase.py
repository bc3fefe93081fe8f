"""One benchmark phase of StageSub in its own process (settings are process-wide).

    python bench/phase.py --backend postgresql|sqlite --n N --workdir DIR --src SRC_DIR

Prints one JSON object on the last line of stdout. Run by bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

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


def setup_environment(args) -> dict:
    work = Path(args.workdir)
    env = {
        "STAGESUB_DATA_DIR": str(work / "data"),
        "STAGESUB_SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnop",
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


def run_cli(env: dict, args: list[str], pythonpath: str | None = None) -> float:
    full_env = {**os.environ, **env}
    if pythonpath:
        full_env["PYTHONPATH"] = pythonpath
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "stagesub.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"stagesub {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--page-iterations", type=int, default=400)
    args = parser.parse_args()
    env = setup_environment(args)

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra

    out: dict = {"backend": args.backend, "n": args.n}
    call_command("migrate", verbosity=0)

    # --- provisioning -------------------------------------------------------------------------
    hash_times = [timed(lambda: make_password("a-long-enough-password"))[0] for _ in range(5)]
    out["argon2_hash_median_s"] = statistics.median(hash_times)

    def provision(i: int):
        return create_orchestra(
            ProvisionRequest(
                subdomain=f"orch{i}",
                name=f"Orkester {i}",
                admin_email=f"admin{i}@example.org",
                admin_password="bench-password-0123",
            )
        ).orchestra

    first, _ = timed(lambda: provision(0))
    out["provision_first_s"] = first  # builds the migrated template once
    if args.backend == "postgresql":
        from stagesub.tenancy.backends import backend_for, default_server
        from stagesub.tenancy.spares import ensure_spares

        backend = backend_for(default_server())
        cold_n = min(20, (args.n - 1) // 2)
        # Cold: no spare ready, so each provisioning waits for CREATE DATABASE.
        cold = [timed(lambda i=i: provision(i))[0] for i in range(1, 1 + cold_n)]
        out["provision_cold_median_s"] = statistics.median(cold)
        out["provision_cold_n"] = cold_n
        # Warm: as in production, the worker has a spare ready (refilled here, untimed).
        times = []
        for i in range(1 + cold_n, args.n):
            ensure_spares(backend, 1)
            times.append(timed(lambda i=i: provision(i))[0])
    else:
        times = [timed(lambda i=i: provision(i))[0] for i in range(1, args.n)]
    times.sort()
    out["provision_n"] = len(times)
    out["provision_median_s"] = statistics.median(times)
    out["provision_p95_s"] = times[max(0, int(len(times) * 0.95) - 1)]

    # --- fleet migrations --------------------------------------------------------------------
    out["migrate_noop_s"] = run_cli(env, ["migrate_orchestras"])
    copy = Path(args.workdir) / "src-with-new-migration"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(args.src, copy, ignore=shutil.ignore_patterns("__pycache__"))
    migrations_dir = copy / "stagesub" / "orchestra" / "migrations"
    latest = sorted(p.stem for p in migrations_dir.glob("0*.py"))[-1]
    (migrations_dir / "0999_bench_extra.py").write_text(MIGRATION.format(latest=latest))
    parallel = str(max(2, os.cpu_count() or 2))
    out["migrate_one_new_s"] = run_cli(
        env, ["migrate_orchestras", "--parallel", parallel], pythonpath=str(copy)
    )
    out["migrate_noop_after_s"] = run_cli(env, ["migrate_orchestras"], pythonpath=str(copy))

    # --- connections held after touching every orchestra -------------------------------------
    from stagesub.orchestra.models import DatabaseStamp
    from stagesub.tenancy import connections, use_orchestra
    from stagesub.tenancy.models import Orchestra

    for orchestra in Orchestra.objects.select_related("server"):
        with use_orchestra(orchestra):
            DatabaseStamp.objects.count()
    out["orchestras_touched"] = Orchestra.objects.count()
    out["open_connections"] = len(connections.open_orchestra_connections())
    out["open_connections_limit"] = settings.MAX_OPEN_ORCHESTRA_CONNECTIONS
    if args.backend == "postgresql":
        from stagesub.tenancy.backends import backend_for, default_server

        with backend_for(default_server()).connect_admin() as conn:
            out["pg_backends_on_orchestra_databases"] = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'stagesub\\_orch%%'"
            ).fetchone()[0]

    # --- routed page versus the same view pinned to one database -----------------------------
    out.update(page_ratio(args.page_iterations))
    print(json.dumps(out))


def page_ratio(iterations: int) -> dict:
    """Median time of /musicians/ via host routing vs. the same view with the database pinned."""
    from django.conf import settings
    from django.test import Client, override_settings

    from stagesub.roster.models import Musician
    from stagesub.tenancy import use_orchestra
    from stagesub.tenancy.models import Orchestra
    from stagesub.tenancy.seeding import run_demo_steps

    orchestra = Orchestra.objects.get(subdomain="orch1")
    with use_orchestra(orchestra):
        if not Musician.objects.exists():
            run_demo_steps(orchestra)
    host = f"{orchestra.subdomain}.{settings.BASE_DOMAIN}"
    routed = Client(HTTP_HOST=host)
    assert (
        routed.post(
            "/login/", {"username": "orch1-admin", "password": "bench-password-0123"}
        ).status_code
        == 302
    )
    pinned = Client(HTTP_HOST=host)
    pinned.cookies = routed.cookies
    pinned_middleware = [
        "bench.pinned.PinnedOrchestraMiddleware" if m.endswith("OrchestraRoutingMiddleware") else m
        for m in settings.MIDDLEWARE
    ]

    def one(client) -> float:
        started = time.perf_counter()
        response = client.get("/musicians/")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        return elapsed

    routed_times, pinned_times = [], []
    from bench import pinned as pinned_module

    pinned_module.ORCHESTRA = orchestra
    for _ in range(20):  # warm up both paths
        one(routed)
    with (
        override_settings(MIDDLEWARE=pinned_middleware, ROOT_URLCONF="stagesub.urls_orchestra"),
        use_orchestra(orchestra),
    ):
        for _ in range(20):
            one(pinned)
    for _ in range(iterations):
        routed_times.append(one(routed))
        with (
            override_settings(MIDDLEWARE=pinned_middleware, ROOT_URLCONF="stagesub.urls_orchestra"),
            use_orchestra(orchestra),
        ):
            pinned_times.append(one(pinned))
    routed_median, pinned_median = statistics.median(routed_times), statistics.median(pinned_times)
    return {
        "page_routed_median_ms": routed_median * 1000,
        "page_pinned_median_ms": pinned_median * 1000,
        "page_ratio": routed_median / pinned_median,
    }


if __name__ == "__main__":
    main()

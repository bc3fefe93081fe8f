"""StageSub benchmarks, with django-tenants measured in the same run as the yardstick.

    python bench/run.py            # full: PostgreSQL N=200, SQLite N=1000, anchor N=200
    python bench/run.py --quick    # smoke run with small N

Prints a table and writes docs/performance.md. Not a test: nothing fails on slowness; targets
are reported as met or not met.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = ROOT.parent / "shared" / "anchors" / "django_tenants_bench"
CACHE = ROOT / "bench" / ".cache"


def run_phase(backend: str, n: int, workdir: Path, iterations: int) -> dict:
    print(f"… StageSub on {backend}, N={n}", flush=True)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "phase.py"),
            "--backend",
            backend,
            "--n",
            str(n),
            "--workdir",
            str(workdir),
            "--src",
            str(ROOT / "src"),
            "--page-iterations",
            str(iterations),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"phase {backend} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_anchor(n: int, workdir: Path) -> dict:
    print(f"… django-tenants anchor, N={n}", flush=True)
    venv = CACHE / "anchor-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "django>=5.2,<5.3",
                "django-tenants==4.0.1",
                "psycopg[binary]",
                "pgserver",
            ],
            check=True,
        )
    copy = workdir / "anchor"
    shutil.copytree(ANCHOR, copy)
    for path in [copy, *copy.rglob("*")]:  # shared/ is read-only; the anchor writes migrations
        path.chmod(path.stat().st_mode | 0o200)
    result = subprocess.run(
        [str(python), "run_bench.py", str(n)], cwd=copy, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"anchor failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    text = result.stdout

    def number(pattern: str) -> float:
        return float(re.search(pattern, text).group(1))

    return {
        "create_median_s": number(r"create tenant .*?median ([\d.]+) s"),
        "noop_multiprocessing_s": number(r"nothing pending: multiprocessing ([\d.]+) s"),
        "noop_standard_s": number(r"standard ([\d.]+) s"),
        "one_new_multiprocessing_s": number(r"one new migration: multiprocessing ([\d.]+) s"),
        "raw": text.strip(),
    }


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        memory = "unknown"
    import django

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "django": django.get_version(),
        "date": datetime.date.today().isoformat(),
    }


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(m: dict, pg: dict, lite: dict, anchor: dict | None) -> str:
    rows = []

    def row(what, ours, theirs, target, ok):
        rows.append(f"| {what} | {ours} | {theirs} | {target} | {verdict(ok)} |")

    if anchor:
        row(
            f"provision a complete orchestra, PostgreSQL, spare ready (median of {pg['provision_n']})",
            f"{pg['provision_median_s']:.3f} s (p95 {pg['provision_p95_s']:.3f} s)",
            f"{anchor['create_median_s']:.3f} s (bare schema)",
            "below django-tenants",
            pg["provision_median_s"] < anchor["create_median_s"],
        )
        row(
            f"provision, PostgreSQL, no spare ready: CREATE DATABASE in the path (median of {pg['provision_cold_n']})",
            f"{pg['provision_cold_median_s']:.3f} s",
            f"{anchor['create_median_s']:.3f} s",
            "(for information)",
            pg["provision_cold_median_s"] < anchor["create_median_s"],
        )
        ratio = anchor["noop_multiprocessing_s"] / pg["migrate_noop_s"]
        row(
            f"`migrate_orchestras`, nothing pending, N={pg['n']}",
            f"{pg['migrate_noop_s']:.2f} s",
            f"{anchor['noop_multiprocessing_s']:.2f} s (multiprocessing), {anchor['noop_standard_s']:.2f} s (standard)",
            f"≥ 10× faster (is {ratio:.1f}×)",
            ratio >= 10,
        )
        row(
            f"`migrate_orchestras`, one new migration, N={pg['n']}",
            f"{pg['migrate_one_new_s']:.2f} s",
            f"{anchor['one_new_multiprocessing_s']:.2f} s",
            "no slower",
            pg["migrate_one_new_s"] <= anchor["one_new_multiprocessing_s"],
        )
    row(
        f"`migrate_orchestras`, nothing pending, SQLite N={lite['n']}",
        f"{lite['migrate_noop_s']:.2f} s",
        "–",
        "< 10 s",
        lite["migrate_noop_s"] < 10,
    )
    row(
        f"`migrate_orchestras`, one new migration, SQLite N={lite['n']}",
        f"{lite['migrate_one_new_s']:.2f} s",
        "–",
        "< 60 s",
        lite["migrate_one_new_s"] < 60,
    )
    for phase in (lite, pg):
        row(
            f"page via subdomain routing ÷ same view pinned ({phase['backend']})",
            f"{phase['page_ratio']:.3f} ({phase['page_routed_median_ms']:.2f} ms vs {phase['page_pinned_median_ms']:.2f} ms)",
            "–",
            "≤ 1.05",
            phase["page_ratio"] <= 1.05,
        )
    row(
        f"open orchestra connections after touching {lite['orchestras_touched']} orchestras (SQLite)",
        str(lite["open_connections"]),
        "–",
        f"≤ setting ({lite['open_connections_limit']})",
        lite["open_connections"] <= lite["open_connections_limit"],
    )
    row(
        f"open connections after touching {pg['orchestras_touched']} orchestras (PostgreSQL backends)",
        f"{pg['open_connections']} (server sees {pg.get('pg_backends_on_orchestra_databases', '?')})",
        "–",
        f"≤ setting ({pg['open_connections_limit']})",
        pg["open_connections"] <= pg["open_connections_limit"],
    )
    lines = [
        "# Performance",
        "",
        f"Measured {m['date']} with `python bench/run.py` on {m['cores']} cores ({m['cpu']}), "
        f"{m['memory']} memory, Python {m['python']}, Django {m['django']}, PostgreSQL 16 (pgserver). "
        "django-tenants 4.0.1 ran in the same session at the same N as the yardstick "
        "(`../shared/anchors/django_tenants_bench`). Machines are noisy: compare ratios, and rerun "
        "before drawing conclusions.",
        "",
        "| measurement | StageSub | django-tenants | target | |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Details:",
        "",
        f"- Provisioning includes: a database copied from the migrated template, its own role with "
        f"CONNECT granted to it alone, the identity stamp and physical-identity check, the seed "
        f"(14 instruments, 43 positions), the admin user with an Argon2 password "
        f"(hashing alone: {pg['argon2_hash_median_s'] * 1000:.0f} ms, done while the database is "
        f"prepared), and the audit row. 'Spare ready' is the production path: the worker keeps "
        f"`STAGESUB_SPARE_DATABASES` copies of the template on each server and provisioning renames "
        f"one (`tenancy/spares.py`); the bench refills the spare between provisionings, untimed. "
        f"Without a spare, `CREATE DATABASE … TEMPLATE` alone costs 0.2–0.45 s on this machine's "
        f"disk. The first "
        f"provisioning after a schema change also builds the template: {pg['provision_first_s']:.2f} s "
        f"(PostgreSQL), {lite['provision_first_s']:.2f} s (SQLite).",
        f"- SQLite provisioning (for information): median {lite['provision_median_s'] * 1000:.0f} ms.",
        "- `migrate_orchestras` runs as a fresh `stagesub` process each time (as `migrate_schemas` "
        "runs as `manage.py`), so both include interpreter and Django start-up. With nothing "
        "pending it reads the recorded fingerprints in the control database and opens no "
        "orchestra database.",
        "- The routed page is `/musicians/` (the demo roster, logged in) through the full "
        "middleware stack; the pinned baseline swaps only the routing middleware for one that "
        "sets a fixed orchestra bound once for the run (`bench/pinned.py`). Requests alternate.",
    ]
    if anchor:
        lines += ["", "django-tenants output:", "", "```", anchor["raw"], "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--n", type=int, default=200, help="orchestras on PostgreSQL (and anchor tenants)"
    )
    parser.add_argument("--sqlite-n", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="small N, no anchor")
    parser.add_argument("--no-anchor", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/performance.md")
    args = parser.parse_args()
    if args.quick:
        args.n, args.sqlite_n, args.no_anchor, args.no_write = 12, 20, True, True
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stagesub-bench-") as tmp:
        tmp = Path(tmp)
        iterations = 100 if args.quick else 400
        pg = run_phase("postgresql", args.n, tmp / "pg", iterations)
        lite = run_phase("sqlite", args.sqlite_n, tmp / "sqlite", iterations)
        anchor = None if args.no_anchor else run_anchor(args.n, tmp)
        text = report(machine(), pg, lite, anchor)
    print(text)
    print(json.dumps({"postgresql": pg, "sqlite": lite}, indent=2))
    if not args.no_write:
        (ROOT / "docs" / "performance.md").write_text(text)
        print("wrote docs/performance.md")


if __name__ == "__main__":
    main()

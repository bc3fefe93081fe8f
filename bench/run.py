"""StageSub benchmarks, with django-tenants measured in the same run as the yardstick.

    python bench/run.py              # full: PostgreSQL N=200, SQLite N=1000, django-tenants N=200
    python bench/run.py --n 100      # another N for PostgreSQL and the anchor
    python bench/run.py --quick      # smoke run: N=20 everywhere, docs/performance.md untouched
    python bench/run.py --only pages,fleet   # only those parts; the other sections are kept

Run from the repository root in an environment with `pip install -e .[test]`. Prints a table
and writes docs/performance.md (and bench/results/latest.json). Every part runs by default:
the tenancy phases and django-tenants (this file), then the offer engine (bench/offers.py),
the staff pages (bench/pages.py), answer links over a fleet (bench/answers_fleet.py), moving an
orchestra (bench/move.py) and backups and restores (bench/fleet_ops.py), each written into its
own dated section: one command re-measures every current figure of the document. Only the
sections after the "by hand" marker (comparisons of two versions of the code) are kept as they
are. Not a test: nothing fails on slowness; each target is reported as met or not met.
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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import sections

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = ROOT.parent / "shared" / "anchors" / "django_tenants_bench"
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
PARTS = ["tenancy", *sections.BENCHES]
ANCHOR_REQUIREMENTS = [
    "django>=5.2,<5.3",
    "django-tenants==4.0.1",
    "psycopg[binary]",
    "pgserver",
]


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_phase(backend: str, n: int, touch: int, workdir: Path, quick: bool) -> dict:
    step(f"StageSub on {backend}: N={n}, connection test over {max(n, touch)} orchestras")
    started = time.perf_counter()
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "phase.py"),
            "--backend",
            backend,
            "--n",
            str(n),
            "--touch",
            str(touch),
            "--variants",
            "5" if quick else "20",
            "--workdir",
            str(workdir),
            "--src",
            str(ROOT / "src"),
            "--home-requests",
            "200" if quick else "1000",
            "--roster-requests",
            "100" if quick else "400",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": pythonpath},
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"phase {backend} failed:\n{result.stdout[-4000:]}")
    step(f"  done in {time.perf_counter() - started:.0f} s")
    return json.loads(result.stdout.strip().splitlines()[-1])


def anchor_python() -> Path:
    """The anchor's own venv, created once under bench/.cache/ (gitignored) and reused."""
    venv = CACHE / "anchor-venv"
    python = venv / "bin" / "python"
    probe = "import django, django_tenants, psycopg, pgserver; print(django.get_version())"
    if python.exists():
        check = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
        if check.returncode == 0 and check.stdout.startswith("5.2"):
            return python
        shutil.rmtree(venv)
    step("creating the django-tenants venv in bench/.cache/anchor-venv (once)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *ANCHOR_REQUIREMENTS], check=True
    )
    return python


def run_anchor(n: int, workdir: Path) -> dict:
    python = anchor_python()
    step(f"django-tenants anchor: N={n}")
    started = time.perf_counter()
    copy = workdir / "anchor"
    shutil.copytree(ANCHOR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for path in [copy, *copy.rglob("*")]:  # shared/ is read-only; the anchor writes migrations
        path.chmod(path.stat().st_mode | 0o200)
    result = subprocess.run(
        [str(python), "run_bench.py", str(n)], cwd=copy, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"anchor failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    text = result.stdout
    step(f"  done in {time.perf_counter() - started:.0f} s")

    def number(pattern: str) -> float:
        match = re.search(pattern, text)
        if match is None:
            raise SystemExit(f"cannot read {pattern!r} in the anchor's output:\n{text}")
        return float(match.group(1))

    return {
        "n": n,
        "create_median_s": number(r"create tenant .*?median ([\d.]+) s"),
        "create_max_s": number(r"create tenant .*?max ([\d.]+) s"),
        "noop_multiprocessing_s": number(r"nothing pending: multiprocessing ([\d.]+) s"),
        "noop_standard_s": number(r"standard ([\d.]+) s"),
        "one_new_multiprocessing_s": number(r"one new migration: multiprocessing ([\d.]+) s"),
        "raw": text.strip(),
    }


def machine() -> dict:
    import django

    def first(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "unknown"

    memory = first("/proc/meminfo", "MemTotal")
    if memory.endswith(" kB"):
        memory = f"{int(memory[:-3]) / 1024**2:.1f} GiB"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": first("/proc/cpuinfo", "model name"),
        "memory": memory,
        "python": platform.python_version(),
        "django": django.get_version(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def s(x: float) -> str:
    return f"{x:.3f} s" if x < 1 else f"{x:.2f} s"


def ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


def table(pg: dict, lite: dict, anchor: dict) -> tuple[list[str], list[tuple[str, bool]]]:
    rows: list[str] = []
    verdicts: list[tuple[str, bool]] = []

    def row(number, what, ours, theirs, ratio, target, ok):
        rows.append(
            f"| {number} | {what} | {ours} | {theirs} | {ratio} | {target} | {verdict(ok)} |"
        )
        verdicts.append((f"{number}. {what}", ok))

    prov = pg["provision"]
    row(
        1,
        f"provision a complete orchestra, PostgreSQL, N={pg['n']} (median of {prov['n']}, first excluded)",
        f"{s(prov['median_s'])} (p95 {s(prov['p95_s'])})",
        f"{s(anchor['create_median_s'])} (create tenant)",
        f"{prov['median_s'] / anchor['create_median_s']:.2f}",
        "median below django-tenants",
        prov["median_s"] < anchor["create_median_s"],
    )
    ratio = anchor["noop_multiprocessing_s"] / pg["migrate_noop_s"]
    row(
        2,
        f"`migrate_orchestras`, nothing pending, PostgreSQL N={pg['n']}",
        s(pg["migrate_noop_s"]),
        f"{s(anchor['noop_multiprocessing_s'])} (multiprocessing), {s(anchor['noop_standard_s'])} (standard)",
        f"{pg['migrate_noop_s'] / anchor['noop_multiprocessing_s']:.3f} ({ratio:.1f}× faster)",
        "≥ 10× faster",
        ratio >= 10,
    )
    row(
        2,
        f"`migrate_orchestras --parallel {pg['fleet_parallel']}`, one new migration, PostgreSQL N={pg['n']}",
        s(pg["migrate_one_new_s"]),
        f"{s(anchor['one_new_multiprocessing_s'])} (multiprocessing)",
        f"{pg['migrate_one_new_s'] / anchor['one_new_multiprocessing_s']:.2f}",
        "no slower",
        pg["migrate_one_new_s"] <= anchor["one_new_multiprocessing_s"],
    )
    row(
        3,
        f"`migrate_orchestras`, nothing pending, SQLite N={lite['n']}",
        s(lite["migrate_noop_s"]),
        "–",
        "–",
        "< 10 s",
        lite["migrate_noop_s"] < 10,
    )
    row(
        3,
        f"`migrate_orchestras --parallel {lite['fleet_parallel']}`, one new migration, SQLite N={lite['n']}",
        s(lite["migrate_one_new_s"]),
        "–",
        "–",
        "< 60 s",
        lite["migrate_one_new_s"] < 60,
    )
    for phase in (pg, lite):
        name = "PostgreSQL" if phase["backend"] == "postgresql" else "SQLite"
        for path, page in phase["pages"].items():
            row(
                4,
                f"`{path}` via subdomain routing vs. pinned, {name}",
                f"{page['routed_median_ms']:.2f} ms",
                f"{page['pinned_median_ms']:.2f} ms (pinned)",
                f"{page['ratio']:.3f}",
                "≤ 1.05",
                page["ratio"] <= 1.05,
            )
    for phase in (pg, lite):
        name = "PostgreSQL" if phase["backend"] == "postgresql" else "SQLite"
        held = phase["open_connections"]
        server = phase.get("pg_backends_on_orchestra_databases")
        seen = f"{held} (peak {phase['open_connections_peak']})" + (
            f"; server: {server} backends" if server is not None else ""
        )
        limit = phase["open_connections_limit"]
        row(
            5,
            f"open orchestra connections after touching {phase['orchestras_touched']} orchestras, {name}",
            seen,
            "–",
            "–",
            f"≤ STAGESUB_MAX_ORCHESTRA_CONNECTIONS ({limit}, per process)",
            max(held, phase["open_connections_peak"], server or 0) <= limit,
        )
    return rows, verdicts


def report(m: dict, pg: dict, lite: dict, anchor: dict, command: str) -> str:
    rows, _ = table(pg, lite, anchor)
    steps = pg["provision_steps_median_ms"]
    lite_steps = lite["provision_steps_median_ms"]
    raw = pg["pg_raw"]
    step_text = ", ".join(f"{k} {v:.0f} ms" for k, v in steps.items() if v >= 0.5)
    lite_step_text = ", ".join(f"{k} {v:.0f} ms" for k, v in lite_steps.items() if v >= 0.5)
    lines = [
        "# Performance",
        "",
        f"Measured {m['date']} with `{command}` (the full run took {m['wall_minutes']:.0f} min) on "
        f"a machine with nproc = {m['nproc']} ({m['cpu']}), {m['memory']} memory; "
        f"Python {m['python']}, Django {m['django']}, PostgreSQL {pg['server_version']} "
        "(started from the `pgserver` wheel, Unix socket, default settings). "
        f"django-tenants 4.0.1 ran in the same session at the same N ({anchor['n']} tenants) as "
        "the yardstick (`../shared/anchors/django_tenants_bench`, in its own venv). Machines are "
        "noisy: compare the ratios, and rerun before drawing conclusions.",
        "",
        "| # | measurement | StageSub | django-tenants / baseline | ratio ours/theirs | target | |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "## What was measured",
        "",
        "1. **Provisioning** is `stagesub.tenancy.provisioning.create_orchestra(ProvisionRequest(...))` "
        "called N times in a row in one process, exactly as shipped: a database copied from the "
        "migrated template (`CREATE DATABASE … TEMPLATE … STRATEGY WAL_LOG`), its own role with "
        "CONNECT granted to it alone and the template's objects reassigned to it, the identity "
        "stamp and physical-identity check, the seed, the first administrator with an Argon2 "
        "password, activation and the audit row. No worker runs, so no spare database is ready. "
        f"The first call also builds the template and is left out of the median: {s(pg['provision_first_s'])} "
        f"(SQLite {s(lite['provision_first_s'])}). django-tenants' figure is its `Client.save()` "
        "with `auto_create_schema` plus the domain row (schema creation and its migrations).",
        f"   - Median per step (PostgreSQL): {step_text}. `activate` includes waiting for the "
        "Argon2 hash, which is computed in a thread from the start of the call.",
        f"   - Password hashing alone (`make_password`, hasher `{pg['hasher']}`): median "
        f"{ms(pg['password_hash_median_s'])} (SQLite process: {ms(lite['password_hash_median_s'])}).",
        f"   - Bare PostgreSQL costs on this server with N databases: `CREATE DATABASE … TEMPLATE` "
        f"{ms(raw['create_database_median_s'])}, a role with its grants "
        f"{ms(raw['role_and_grants_median_s'])} (template {raw['template_size_mb']:.1f} MB).",
        f"   - First and second half of the N calls: median {s(pg['provision_first_half_median_s'])} "
        f"and {s(pg['provision_second_half_median_s'])}.",
    ]
    if "provision_spare_ready" in pg:
        spare, cheap = pg["provision_spare_ready"], pg["provision_cheap_hash"]
        lines.append(
            f"   - For information, {spare['n']} calls each: with a spare database made "
            f"beforehand (as the worker's `STAGESUB_SPARE_DATABASES` would, untimed) median "
            f"{s(spare['median_s'])}; with the MD5 hasher instead of Argon2 (never for "
            f"production; shows what hashing costs on the wall clock) median {s(cheap['median_s'])}."
        )
    if "provision_beyond_n" in pg:
        beyond = pg["provision_beyond_n"]
        lines.append(
            f"   - Provisioning orchestras {pg['n'] + 1}…{pg['orchestras_touched']} (for the "
            f"connection test): median {s(beyond['median_s'])}, p95 {s(beyond['p95_s'])}."
        )
    lines += [
        f"   - SQLite (for information, N={lite['n']}): median {s(lite['provision']['median_s'])}, "
        f"p95 {s(lite['provision']['p95_s'])}; per step: {lite_step_text}.",
        "2. **Fleet migrations** run `stagesub migrate_orchestras --parallel "
        f"{pg['fleet_parallel']}` (nproc) as a fresh process each time, as `migrate_schemas` runs "
        "as `manage.py`, so both include interpreter and Django start-up "
        f"(`python -c 'import django; django.setup()'` alone: {s(pg['process_startup_s'])}; "
        "the no-op `migrate_orchestras()` called inside the already running bench process: "
        f"{ms(pg['migrate_noop_in_process_s'])} on PostgreSQL, {ms(lite['migrate_noop_in_process_s'])} on SQLite). "
        "With nothing pending ours reads the recorded fingerprints in the control database and "
        "opens no orchestra database. The new migration (a `CreateModel`, like the anchor's "
        "`Extra`) is added to a scratch copy of `src/` put first on `PYTHONPATH`; the "
        "repository is never modified. It was applied to "
        f"{pg['migrate_one_new_counts']['migrated']}/{pg['migrate_one_new_counts']['total']} "
        f"orchestras on PostgreSQL and {lite['migrate_one_new_counts']['migrated']}/"
        f"{lite['migrate_one_new_counts']['total']} on SQLite; the no-op run right after it took "
        f"{s(pg['migrate_noop_after_s'])} / {s(lite['migrate_noop_after_s'])}. The anchor's "
        "multiprocessing executor uses 2 processes.",
        f"3. SQLite at N = {lite['n']:,} is the same code with the embedded data directory "
        "(`STAGESUB_DATA_DIR`, one file per orchestra).",
        "4. **Routing**: the same logged-in requests through Django's test client: routed = the "
        "full `MIDDLEWARE` (Host header → host directory → binding per request); pinned = the "
        "same stack with the routing middleware replaced by `bench/pinned.py` (request.orchestra "
        "and the orchestra urlconf as constants), inside one `use_orchestra()` for the whole run. Same "
        "session, user and queries. Requests alternate one by one (ABBA); medians over "
        f"{pg['pages']['/']['requests_each']} requests each for `/` and "
        f"{pg['pages']['/musicians/']['requests_each']} for `/musicians/`. `/` is the orchestra home page (5 "
        "small queries), `/musicians/` the roster of the demo orchestra "
        f"({pg['page_musicians_in_roster']} musicians), mostly template rendering.",
        "5. **Connections**: `with use_orchestra(o): DatabaseStamp.objects.count()` for every "
        "orchestra in turn, in one thread; then `len(open_orchestra_connections())`, the peak "
        "seen during the loop, and on PostgreSQL the backends in `pg_stat_activity` on "
        f"orchestra databases. Touching {pg['orchestras_touched']} PostgreSQL orchestras took "
        f"{s(pg['touch_all_s'])}, {lite['orchestras_touched']} SQLite ones {s(lite['touch_all_s'])}.",
        "",
        "django-tenants output:",
        "",
        "```",
        anchor["raw"],
        "```",
    ]
    return "\n".join(lines) + "\n"


def console_table(pg: dict, lite: dict, anchor: dict) -> str:
    rows, _ = table(pg, lite, anchor)
    out = []
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out.append(
            f"{cells[0]:>1} {cells[1][:78]:<78} {cells[2]:<32} {cells[3][:44]:<44} {cells[4]:<20} {cells[6]}"
        )
    header = f"{'#':>1} {'measurement':<78} {'StageSub':<32} {'django-tenants / baseline':<44} {'ours/theirs':<20} target"
    return "\n".join([header, "-" * len(header), *out])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=200, help="orchestras on PostgreSQL and tenants of the anchor"
    )
    parser.add_argument("--sqlite-n", type=int, default=1000, help="orchestras on SQLite")
    parser.add_argument(
        "--touch", type=int, default=1000, help="orchestras touched in the connection test"
    )
    parser.add_argument(
        "--quick", action="store_true", help="N=20 everywhere; does not write docs/performance.md"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write docs/performance.md")
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to measure, of {', '.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--note", default="", help="conditions to state in each section written (a shared machine)"
    )
    args = parser.parse_args()
    parts = [p for p in args.only.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if args.quick:
        args.n = args.sqlite_n = 20
        args.touch = 40
        args.no_write = True
    command = "python bench/run.py" + (f" --n {args.n}" if args.n != 200 else "")
    if args.quick:
        command = "python bench/run.py --quick"
    target = ROOT / "docs" / "performance.md"
    document = sections.split(target.read_text() if target.exists() else "")
    m = machine()
    if "tenancy" in parts:
        document["head"] = measure_tenancy(args, command, m)
    for name in sections.BENCHES:
        if name in parts:
            step(f"{sections.BENCHES[name][1]}")
            started = time.perf_counter()
            result = sections.run_bench(name, args.quick)
            step(f"  done in {time.perf_counter() - started:.0f} s; met: {result.get('met')}")
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
            document[name] = sections.SECTION_WRITERS[name](result, m, args.note)
    if not args.no_write:
        target.write_text(sections.join(document))
        print("wrote docs/performance.md")


def measure_tenancy(args, command: str, m: dict) -> str:
    """Provisioning, fleet migrations, routing and connections, with the anchor; its text."""
    started = time.perf_counter()
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stagesub-bench-") as tmp:
        tmp = Path(tmp)
        anchor = run_anchor(args.n, tmp)
        pg = run_phase("postgresql", args.n, args.touch, tmp / "pg", args.quick)
        lite = run_phase("sqlite", args.sqlite_n, args.touch, tmp / "sqlite", args.quick)
    m["wall_minutes"] = (time.perf_counter() - started) / 60
    print()
    print(console_table(pg, lite, anchor))
    _, verdicts = table(pg, lite, anchor)
    print()
    print(
        f"{sum(ok for _, ok in verdicts)}/{len(verdicts)} targets met"
        + "".join(f"\n  not met: {what}" for what, ok in verdicts if not ok)
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {"machine": m, "postgresql": pg, "sqlite": lite, "django_tenants": anchor}, indent=2
        )
    )
    print(f"raw numbers: {(RESULTS / 'latest.json').relative_to(ROOT)}")
    text = report(m, pg, lite, anchor, command)
    (RESULTS / "latest.md").write_text(text)
    return text


if __name__ == "__main__":
    main()

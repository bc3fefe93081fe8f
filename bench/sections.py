"""The sections of docs/performance.md that bench/run.py writes from the other benches' JSON.

Each section starts with its marker line, so a run that measures only some parts
(`run.py --only ...`) replaces those sections and keeps the others, with their own dates.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name → (marker, script); the order is the order in the document.
BENCHES = {
    "offers": ("<!-- offer engine: bench/offers.py -->", "bench/offers.py"),
    "pages": ("<!-- staff pages: bench/pages.py -->", "bench/pages.py"),
    "fleet": (
        "<!-- answer links over a fleet: bench/answers_fleet.py -->",
        "bench/answers_fleet.py",
    ),
    "move": ("<!-- moving an orchestra: bench/move.py -->", "bench/move.py"),
    "backups": ("<!-- backups and restores: bench/fleet_ops.py -->", "bench/fleet_ops.py"),
}
# What `--quick` means for each bench (the first three take the flag themselves).
QUICK_ARGS = {
    "offers": ["--quick"],
    "pages": ["--quick"],
    "fleet": ["--quick"],
    "move": ["--musicians", "1000", "--projects", "50", "--offers", "5000"],
    "backups": ["--scale", "0.1", "--repeats", "1"],
}
HISTORY_MARKER = "<!-- by hand: comparisons of two versions of the code -->"


def run_bench(name: str, quick: bool) -> dict:
    """Run one bench as its own process (each starts its own PostgreSQL); its JSON result."""
    script = BENCHES[name][1]
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(ROOT / script), *(QUICK_ARGS[name] if quick else [])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": pythonpath},
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{script} failed:\n{result.stdout[-4000:]}")
    text = result.stdout
    return json.loads(text[text.index("{\n") :])


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def split(document: str) -> dict[str, str]:
    """The document cut at the markers: {"head": text before the first, name: its section}."""
    markers = {marker: name for name, (marker, _script) in BENCHES.items()}
    markers[HISTORY_MARKER] = "history"
    found = sorted((document.find(m), m) for m in markers if m in document)
    parts = {"head": document[: found[0][0]] if found else document}
    for (start, marker), following in zip(found, [*found[1:], (len(document), "")], strict=True):
        parts[markers[marker]] = document[start : following[0]]
    return parts


def join(parts: dict[str, str]) -> str:
    order = ["head", *BENCHES, "history"]
    return "\n".join(parts[name].rstrip("\n") + "\n" for name in order if name in parts)


def header(title: str, name: str, result: dict, machine: dict, note: str) -> list[str]:
    lines = [
        BENCHES[name][0],
        f"## {title}",
        "",
        f"Measured {result['date'].replace('T', ' ').replace('+00:00', ' UTC')} with "
        f"`python bench/run.py` (`{BENCHES[name][1]}`) on nproc = {machine['nproc']} "
        f"({machine['cpu']}), Python {machine['python']}, Django {machine['django']}, "
        "PostgreSQL 16 from pgserver started by the bench. Not a test: each number is "
        "reported against its target.",
    ]
    if note:
        lines += ["", f"**Conditions:** {note}"]
    return [*lines, ""]


def offers_section(r: dict, machine: dict, note: str) -> str:
    t = r["targets"]
    runs = ", ".join(f"{x['answers_per_second']:.0f}" for x in r["answers_runs"])
    lines = [
        *header("Offer engine", "offers", r, machine, note),
        "| measurement | result | target | |",
        "|---|---|---|---|",
        f"| answers processed per second, PostgreSQL: 200 musicians answering at once across "
        f"20 needs ({r['answer_processes']} processes × {r['answer_workers']} threads, median "
        f"of {len(r['answers_runs'])} runs) | {r['answers_per_second']:.0f} /s (runs {runs}) | "
        f"≥ {t['answers_per_second']} /s | {verdict(r['met']['answers_per_second'])} |",
        *(
            [
                f"| CPU per answer in those runs (median): the answering threads' Python, and "
                f"PostgreSQL's backends | {r['python_cpu_ms_per_answer']:.2f} ms + "
                f"{r['postgres_cpu_ms_per_answer']:.2f} ms | (for information) | |"
            ]
            if "python_cpu_ms_per_answer" in r
            else []
        ),
        f"| overbooking after those runs (accepted beyond a need's seats) | {r['overbooked']} | 0 "
        f"| {verdict(r['overbooked'] == 0)} |",
        f"| outbox delivery to a local SMTP server (aiosmtpd, own process), "
        f"{r['outbox_messages']} messages, PostgreSQL orchestra | "
        f"{r['outbox_messages_per_second']:.0f} msg/s | ≥ {t['outbox_messages_per_second']} "
        f"msg/s | {verdict(r['met']['outbox_messages_per_second'])} |",
        f"| scheduler pass over {r['scheduler_orchestras']:,} orchestras with nothing due | "
        f"{r['scheduler_pass_seconds'] * 1000:.1f} ms, {r['scheduler_opened_connections']} "
        f"orchestra databases opened | < {t['scheduler_pass_seconds']:.0f} s, none opened | "
        f"{verdict(r['met']['scheduler_pass_seconds'])} |",
        "",
        "- Answers: each run opens a fresh project with 20 first-come needs (3 seats, 10 "
        "recipients each: 200 pending offers) and answers all 200, about half yes, in random "
        "order, from forked processes (as web worker processes, one per core) of threads that "
        "call `offers.services.answer()`. The clock runs from a common barrier to the last "
        "answer. A yes that fills a need withdraws the rest and queues their notices in the "
        "same transaction. These answers create no offers (first come asks everyone at once);"
        " offer creation no longer serialises on a counter row anyway: on PostgreSQL offer "
        "numbers come from a sequence (`orchestra/ids.py`).",
        "- Outbox: one SMTP session per batch, one transaction per message.",
        "- Scheduler: control rows only (no databases); half with nothing scheduled, half later.",
    ]
    return "\n".join(lines) + "\n"


def pages_section(r: dict, machine: dict, note: str) -> str:
    floor, staff = r["floor"], r["staff_pages"]
    t = r["targets"]
    lines = [
        *header("Staff pages through the production server", "pages", r, machine, note),
        f"Server: {r['server']}; {r['clients']} keep-alive clients on the same machine; the "
        "demo data (`stagesub demo`) on PostgreSQL, Göteborg's administrator logged in.",
        "",
        "| measurement | requests | req/s | p50 | p95 | statuses |",
        "|---|---|---|---|---|---|",
        f"| floor: `GET /login/` logged in (whole middleware stack, a redirect) | "
        f"{floor['requests']} | {floor['per_second']:.0f} | {floor['p50_ms']:.0f} ms | "
        f"{floor['p95_ms']:.0f} ms | {floor['statuses']} |",
        f"| staff pages, round-robin | {staff['requests']} | {staff['per_second']:.0f} | "
        f"{staff['p50_ms']:.0f} ms | {staff['p95_ms']:.0f} ms | {staff['statuses']} |",
        *(
            f"| &nbsp;&nbsp;`{path}` | {p['requests']} | – | {p['p50_ms']:.0f} ms | "
            f"{p['p95_ms']:.0f} ms | {p['statuses']} |"
            for path, p in r["staff_pages_by_page"].items()
        ),
        "",
        "| target | result | |",
        "|---|---|---|",
        f"| staff pages ≥ {t['share_of_floor']:.0%} of the floor's throughput | "
        f"{r['share_of_floor']:.1%} | {verdict(r['met']['share_of_floor'])} |",
        f"| staff pages p95 ≤ {t['p95_ms']:.0f} ms | {staff['p95_ms']:.0f} ms | "
        f"{verdict(r['met']['p95_ms'])} |",
        f"| every page 200 (floor 302) | {verdict(r['met']['statuses'])} | |",
        "",
        *(
            [
                f"Server CPU per request (its processes' user + system time over each load): "
                f"floor {r['server_cpu_ms_per_request']['floor']:.1f} ms, staff pages "
                f"{r['server_cpu_ms_per_request']['staff']:.1f} ms; the floor's cost is "
                f"{r['cpu_share_of_floor']:.1%} of a staff page's, the share of the floor's "
                "throughput a CPU-bound server reaches, and much steadier than the rates on a "
                "shared machine.",
                "",
            ]
            if "cpu_share_of_floor" in r
            else []
        ),
        "- The pages: `/`, `/musicians/` (150 musicians), `/rankings/`, `/projects/` and the "
        "page of the demo project with the most requests. Each client cycles through them "
        "from its own offset, so the per-page rows share one rate. The floor and the pages "
        "take turns in 4 slices each, so other work on the machine weighs on both alike.",
        "- Query budgets per page (tests/test_page_queries.py) keep these pages free of N+1: "
        "each page makes as many queries for 50 musicians and projects as for 5.",
    ]
    return "\n".join(lines) + "\n"


def fleet_section(r: dict, machine: dict, note: str) -> str:
    b = r["budget"]
    lines = [
        *header("Answer links over a fleet", "fleet", r, machine, note),
        f"Server: {r['server']}, {r['worker_processes']} worker processes; "
        f"{r['orchestras']} orchestras with {r['open_requests_per_orchestra']} open requests "
        f"each; {r['clients']} clients POST the answers, interleaved across orchestras; a 503 "
        "with Retry-After is retried (at most 5 times), as the page asks the musician to.",
        "",
        "| measurement | result | target | |",
        "|---|---|---|---|",
        f"| answers ({r['requests']} requests in {r['seconds']:.1f} s, p50 "
        f"{r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms) | first attempts "
        f"{r['first_attempt_statuses']}; final {r['final_statuses']} | 0 errors | "
        f"{verdict(r['met']['errors'])} |",
        f"| answers acknowledged but not recorded | {r['lost_answers']} | 0 | "
        f"{verdict(r['lost_answers'] == 0)} |",
        f"| peak connections on orchestra databases (all: {r['peak_all_connections']}; "
        f"server max_connections {r['postgresql_max_connections']}) | "
        f"{r['peak_orchestra_connections']} | ≤ budget {b['bound']} ({b['rule']}), and the "
        f"budget below max_connections | {verdict(r['met']['connections'])} |",
    ]
    return "\n".join(lines) + "\n"


def move_section(r: dict, machine: dict, note: str) -> str:
    first = r["runs"][0]
    lines = [
        *header("Moving an orchestra: the maintenance window", "move", r, machine, note),
        f"One orchestra of {first['musicians']:,} musicians, {first['projects']:,} projects "
        f'(one need each) and {first["offers"]:,} offers with their "sent" events and request '
        "messages, written with bulk_create. A writer thread answered offers through the "
        "orchestra's host the whole time (the maintenance page made it wait 50 ms and retry).",
        "",
        "| backend | database | method | window (503 page) | of which routing-cache settle "
        "| writes paused | whole move | answers lost | writes paused < 1 s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        for move in run["moves"]:
            lines.append(
                f"| {run['backend']} | {run['database_mb']:.0f} MB | {move['method']} | "
                f"{move['window_s']:.2f} s | {move['settle_s']:.2f} s | "
                f"{move['paused_s']:.2f} s | {move['move_total_s']:.1f} s | {move['lost']} | "
                f"{verdict(move['target_paused_under_1s'])} |"
            )
    lines += [
        "",
        "- The window includes the wait for every web process's routing cache to see the "
        "maintenance flag (the HostDirectory TTL, 5 s, the same for any size); the target "
        '"under 1 s" is about the time writes are paused, which grows with the database.',
        "- `answers lost`: answers the writer was told were taken that are missing from the "
        "moved database (checked with the writer paused between answers). Must be 0.",
    ]
    return "\n".join(lines) + "\n"


def backups_section(r: dict, machine: dict, note: str) -> str:
    target = 1.2
    lines = [
        *header("Backups and restores", "backups", r, machine, note),
        "| backend | data | archive | `stagesub backup` | bare tool | ratio | `stagesub restore` "
        "| bare restore + migrate | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, b in r["backends"].items():
        c = b["counts"]
        bare_tool = "`pg_dump -Fc`" if kind == "postgresql" else "SQLite backup API"
        lines.append(
            f"| {kind} | {c['musicians']:,} musicians, {c['projects']:,} projects, "
            f"{c['offers']:,} offers, {c['offer_events']:,} events, {c['messages']:,} messages "
            f"| {b['archive_bytes'] / 1e6:.1f} MB | {statistics.median(b['backup_seconds']):.2f} s "
            f"| {statistics.median(b['bare_backup_seconds']):.2f} s ({bare_tool}) | "
            f"{b['backup_ratio']:.2f}× {verdict(b['backup_ratio'] <= target)} | "
            f"{statistics.median(b['restore_seconds']):.2f} s | "
            f"{statistics.median(b['bare_restore_seconds']):.2f} s | "
            f"{b['restore_ratio']:.2f}× {verdict(b['restore_ratio'] <= target)} |"
        )
    lines += [
        "",
        f"- Medians of {r['repeats']} runs, the bare tool and StageSub alternating, both in one "
        "process (no Django start-up counted). Target for both: at most 1.2× the bare tool.",
        "- `stagesub backup` also writes the stored files and the manifest (row counts, sha256 "
        "of every part) and fsyncs; `stagesub restore` also verifies every checksum, creates "
        "the new role, compares row counts and the stamp, unpacks the files and switches "
        "routing. The maintenance page's settling wait (5 s in production) is not counted.",
    ]
    return "\n".join(lines) + "\n"


SECTION_WRITERS = {
    "offers": offers_section,
    "pages": pages_section,
    "fleet": fleet_section,
    "move": move_section,
    "backups": backups_section,
}

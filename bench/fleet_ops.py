"""Fleet operations benchmark: `stagesub backup` and `stagesub restore` against the bare tools.

    python bench/fleet_ops.py [--backend both|sqlite|postgresql] [--scale 1.0] [--repeats 3]

Run from the repository root in an environment with `pip install -e .[test]`. Everything runs
in a temporary directory with a PostgreSQL 16 server started here (stagesub.devtools.localpg;
it also holds the control database); both are removed at the end. The JSON result goes to
stdout, progress to stderr, and `--markdown OUT` writes a section for docs/performance.md.
Nothing here asserts speed: each ratio is reported next to its target (≤ 1.2×).

What is measured, and how
-------------------------
One large orchestra per backend, generated with bulk_create inside use_orchestra: 10,000
musicians, 500 projects (one need each), 50,000 offers (100 per project, distinct musicians),
each offer with its "sent" event (and an answer event for half of them) and its request
e-mail in the outbox; plus 20 stored files of 100 kB. (`--scale` multiplies the counts.)

* backup: `tenancy.backup.backup_orchestra` (in this process, so Django's start-up is not
  counted on either side) against the bare tool on the same database: PostgreSQL
  `pg_dump -Fc -f FILE` (same binary), SQLite the online backup API into a file (what the
  sqlite3 shell's `.backup` does).
* restore: `tenancy.restore.restore_orchestra` from that archive against the bare way: an
  empty database plus `pg_restore --no-owner --no-acl` of the same dump (SQLite: a copy of the
  file) plus `migrate` on it. The maintenance page's settling wait (one poll of the routing
  generation, STAGESUB_ROUTING_POLL_SECONDS, 0.2 s by default, a deliberate pause so every web
  process sees the page) is set to 0 here and reported beside the figure; everything else a
  restore does (checksums, new role, counts, stamp, files, switch) is in the time.

Each figure is the median of `--repeats` runs, the bare and the StageSub run alternating.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from offers import ADMIN_PASSWORD, log, start_environment, stop_postgres

TARGET = 1.2
MUSICIANS, PROJECTS, OFFERS_PER_PROJECT = 10_000, 500, 100


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def provision(subdomain: str, server_name: str):
    from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra

    return create_orchestra(
        ProvisionRequest(
            subdomain=subdomain,
            name=f"Bench {subdomain}",
            admin_email=f"admin@{subdomain}.example.org",
            admin_password=ADMIN_PASSWORD,
            server_name=server_name,
        )
    ).orchestra


def generate(orchestra, scale: float) -> dict:
    """The large orchestra, written with bulk_create (minutes, not hours)."""
    from django.utils import timezone

    from stagesub.messaging.models import Message
    from stagesub.offers.models import Offer, OfferEvent
    from stagesub.projects.models import Need, Project
    from stagesub.rankings import services as rankings
    from stagesub.roster.models import Musician, Position
    from stagesub.tenancy import use_orchestra

    musicians = int(MUSICIANS * scale)
    projects = int(PROJECTS * scale)
    per_project = min(OFFERS_PER_PROJECT, musicians)
    now = timezone.now()
    batch = 2000
    with use_orchestra(orchestra):
        position = Position.objects.select_related("instrument").first()
        ranking = rankings.create_list(position, "A")
        Musician.objects.bulk_create(
            (
                Musician(
                    musician_id=f"MUS{i:06d}",
                    first_name=f"Förnamn{i}",
                    last_name=f"Efternamn{i}",
                    email=f"musiker{i}@example.se",
                )
                for i in range(musicians)
            ),
            batch_size=batch,
        )
        people = list(Musician.objects.order_by("pk").values_list("pk", "email"))
        Project.objects.bulk_create(
            (
                Project(
                    project_id=f"PROJ{i:05d}",
                    name=f"Projekt {i}",
                    start_date=datetime.date(2027, 1, 1) + datetime.timedelta(days=i % 300),
                )
                for i in range(projects)
            ),
            batch_size=batch,
        )
        project_rows = list(Project.objects.order_by("pk"))
        Need.objects.bulk_create(
            (
                Need(
                    need_id=f"NEED{i:05d}",
                    project=p,
                    position=position,
                    ranking_list=ranking,
                    strategy="sequential",
                )
                for i, p in enumerate(project_rows)
            ),
            batch_size=batch,
        )
        needs = list(Need.objects.order_by("pk"))
        statuses = ["accepted", "declined", "pending", "timed_out"]
        offers = []
        for p_index, (project, need) in enumerate(zip(project_rows, needs, strict=True)):
            for k in range(per_project):
                pk, _email = people[(p_index * 37 + k) % len(people)]
                offers.append(
                    Offer(
                        offer_id=f"REQ{len(offers):06d}",
                        need=need,
                        project=project,
                        musician_id=pk,
                        status=statuses[k % 4],
                        sent_at=now,
                        expires_at=now + datetime.timedelta(hours=48),
                        answered_at=now if k % 2 == 0 else None,
                    )
                )
        Offer.objects.bulk_create(offers, batch_size=batch)
        ids = list(Offer.objects.order_by("pk").values_list("pk", "musician_id", "status"))
        events = [OfferEvent(offer_id=o, kind="sent", at=now, by="") for o, _m, _s in ids]
        events += [
            OfferEvent(offer_id=o, kind=s if s in ("accepted", "declined") else "timed_out", at=now)
            for o, _m, s in ids[::2]
        ]
        OfferEvent.objects.bulk_create(events, batch_size=batch)
        emails = dict(people)
        body = (
            "Hej!\n\nVi söker en vikarie till Mahler 2 (repetitioner mån–ons 10–13, konsert "
            "fredag 19.30). Svara via länken: https://bench.example/r/{o}-{o:032d}/\n\n"
            "Med vänlig hälsning\nOrkesterkansliet\n"
        )
        Message.objects.bulk_create(
            (
                Message(
                    kind="request",
                    offer_id=o,
                    musician_id=m,
                    to_email=emails[m],
                    language="sv",
                    subject="Förfrågan: Mahler 2",
                    body=body.format(o=o),
                    status="sent",
                    next_attempt_at=now,
                    created_at=now,
                    sent_at=now,
                )
                for o, m, _s in ids
            ),
            batch_size=batch,
        )
        counts = {
            "musicians": Musician.objects.count(),
            "projects": Project.objects.count(),
            "offers": Offer.objects.count(),
            "offer_events": OfferEvent.objects.count(),
            "messages": Message.objects.count(),
        }
    from stagesub.tenancy.backup import storage_folder

    folder = storage_folder(orchestra.id) / "scores"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(20):
        (folder / f"part{i:02d}.pdf").write_bytes(os.urandom(100_000))
    return counts


# --- the bare tools -------------------------------------------------------------------------


def bare_backup(orchestra, target: Path) -> None:
    from stagesub.tenancy.backends import backend_for
    from stagesub.tenancy.backup import pg_client, pg_command_environment, server_major

    backend = backend_for(orchestra.server)
    if orchestra.server.kind == "sqlite":
        source = sqlite3.connect(f"file:{backend.path(orchestra.database_name)}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        source.backup(copy)
        copy.close()
        source.close()
        return
    conninfo, env = pg_command_environment(backend, orchestra.database_name)
    pg_dump = pg_client("pg_dump", server_major(backend))
    subprocess.run([str(pg_dump), "-Fc", "-f", str(target), "-d", conninfo], env=env, check=True)


def bare_restore(orchestra, dump: Path, n: int) -> None:
    """An empty database + pg_restore of the dump (SQLite: a file copy) + migrate on it."""
    from django.db import connections as django_connections

    from stagesub.tenancy import connections, schema
    from stagesub.tenancy.backends import backend_for
    from stagesub.tenancy.backup import pg_client, pg_command_environment, server_major
    from stagesub.tenancy.context import Binding, bind

    backend = backend_for(orchestra.server)
    name = f"bench_bare_{n}"
    if orchestra.server.kind == "sqlite":
        shutil.copyfile(dump, backend.path(name))
        database = backend.settings_for_path(backend.path(name))
    else:
        with backend.connect_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        conninfo, env = pg_command_environment(backend, name)
        pg_restore = pg_client("pg_restore", server_major(backend))
        subprocess.run(
            [str(pg_restore), "--no-owner", "--no-acl", "-d", conninfo, str(dump)],
            env=env,
            check=True,
        )
        database = backend.admin_settings_for(name)
    alias = f"{connections.ALIAS_PREFIX}bench_bare_{n}"
    connections.register(alias, database)
    with bind(Binding(orchestra_id=None, subdomain="(bench)", alias=alias, check_stamp=False)):
        schema.migrate(alias)
    connections.forget_in_this_thread(alias)
    del django_connections.settings[alias]


def drop_bare(orchestra, n: int) -> None:
    from stagesub.tenancy.backends import backend_for

    backend = backend_for(orchestra.server)
    backend.drop(f"bench_bare_{n}")


# --- one backend ----------------------------------------------------------------------------


def measure(kind: str, scale: float, repeats: int, workdir: Path) -> dict:
    from stagesub.tenancy import operations
    from stagesub.tenancy.backends import embedded_server
    from stagesub.tenancy.backup import backup_orchestra
    from stagesub.tenancy.binding import directory
    from stagesub.tenancy.models import Orchestra
    from stagesub.tenancy.restore import restore_orchestra

    server_name = "embedded" if kind == "sqlite" else "primary"
    if kind == "sqlite":
        embedded_server()
    else:
        from stagesub.tenancy.backends import configured_tenant_server

        configured_tenant_server()
    subdomain = f"large-{kind}"
    log(f"{kind}: provisioning and generating the large orchestra")
    orchestra = provision(subdomain, server_name)
    generate_seconds, counts = timed(lambda: generate(orchestra, scale))
    log(f"  generated in {generate_seconds:.0f} s: {counts}")
    production_settle = directory.settle_seconds
    directory.ttl = 0.0  # the maintenance page's settling wait, reported separately
    out_dir = workdir / f"archives-{kind}"
    bare_dir = workdir / f"bare-{kind}"
    bare_dir.mkdir()
    backups, bares, restores, bare_restores = [], [], [], []
    archive = None
    for n in range(repeats):
        orchestra = Orchestra.objects.select_related("server").get(pk=orchestra.pk)
        bare_file = bare_dir / f"dump-{n}"
        t_bare, _ = timed(lambda: bare_backup(orchestra, bare_file))  # noqa: B023
        t_ours, result = timed(lambda: backup_orchestra(orchestra, out_dir, encrypt=False))  # noqa: B023
        bares.append(t_bare)
        backups.append(t_ours)
        archive = result.path
        log(f"  backup run {n + 1}: bare {t_bare:.2f} s, stagesub {t_ours:.2f} s")
    size = archive.stat().st_size
    bare_size = bare_file.stat().st_size
    for n in range(repeats):
        orchestra = Orchestra.objects.select_related("server").get(pk=orchestra.pk)
        t_bare, _ = timed(lambda: bare_restore(orchestra, bare_file, n))  # noqa: B023
        drop_bare(orchestra, n)
        t_ours, _ = timed(lambda: restore_orchestra(orchestra, archive, keep_days=0))  # noqa: B023
        bare_restores.append(t_bare)
        restores.append(t_ours)
        operations.drop_due_retired()  # the replaced database, as the worker would
        log(f"  restore run {n + 1}: bare {t_bare:.2f} s, stagesub {t_ours:.2f} s")
    med = statistics.median
    return {
        "counts": counts,
        "generate_seconds": round(generate_seconds, 1),
        "archive_bytes": size,
        "bare_dump_bytes": bare_size,
        "backup_seconds": [round(t, 3) for t in backups],
        "bare_backup_seconds": [round(t, 3) for t in bares],
        "backup_ratio": round(med(backups) / med(bares), 2),
        "restore_seconds": [round(t, 3) for t in restores],
        "bare_restore_seconds": [round(t, 3) for t in bare_restores],
        "restore_ratio": round(med(restores) / med(bare_restores), 2),
        "maintenance_settle_seconds_in_production": production_settle,
    }


def machine() -> dict:
    import django
    from offers import pg_setting

    load = os.getloadavg()
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "django": django.__version__,
        "postgresql": pg_setting("server_version"),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in load],
    }


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "## Backups and restores",
        "",
        f"Measured {result['date'][:10]} with `python bench/fleet_ops.py` on {m['cpu_count']} "
        f"cores (Python {m['python']}, Django {m['django']}, PostgreSQL {m['postgresql']} from "
        f"pgserver, SQLite {m['sqlite']}). The machine was shared with other work during the "
        f"run (load average {m['load_average_at_start'][0]} at the start), so the absolute "
        "times are noisy; the ratios compare runs made back to back. Medians of "
        f"{result['repeats']} runs. Not a test: each ratio is reported against its target.",
        "",
        "| backend | data | archive | `stagesub backup` | bare tool | ratio | `stagesub restore` "
        "| bare restore + migrate | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, r in result["backends"].items():
        c = r["counts"]
        med = statistics.median
        bare_tool = "`pg_dump -Fc`" if kind == "postgresql" else "SQLite backup API"
        lines.append(
            f"| {kind} | {c['musicians']:,} musicians, {c['projects']} projects, "
            f"{c['offers']:,} offers, {c['offer_events']:,} events, {c['messages']:,} "
            f"messages, 2 MB files | {r['archive_bytes'] / 1e6:.1f} MB | "
            f"{med(r['backup_seconds']):.2f} s | {med(r['bare_backup_seconds']):.2f} s "
            f"({bare_tool}) | {r['backup_ratio']:.2f}× "
            f"{'met' if r['backup_ratio'] <= TARGET else 'NOT met'} | "
            f"{med(r['restore_seconds']):.2f} s | {med(r['bare_restore_seconds']):.2f} s | "
            f"{r['restore_ratio']:.2f}× {'met' if r['restore_ratio'] <= TARGET else 'NOT met'} |"
        )
    lines += [
        "",
        "- Both sides run in one process (no Django start-up counted); `stagesub backup` also "
        "writes the stored files, the manifest (row counts read in the dump's own snapshot, "
        "sha256 of every part) and fsyncs; the PostgreSQL dump streams into the archive without "
        "a second copy.",
        "- `stagesub restore` also verifies every checksum, creates the new role, compares row "
        "counts and the stamp, unpacks the files and switches routing. In production it also "
        "waits once for the routing generation's poll (STAGESUB_ROUTING_POLL_SECONDS, "
        f"{result['backends'][next(iter(result['backends']))]['maintenance_settle_seconds_in_production']} s) "
        "so every web process shows the maintenance page before the switch: not counted above.",
        "- Target for both: at most 1.2× the bare tool.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["both", "sqlite", "postgresql"], default="both")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("--markdown", metavar="OUT", help="write the docs section here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="stagesub-bench-fleet-"))
    result: dict = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    try:
        start_environment(workdir)
        result["machine"] = machine()
        result["repeats"] = args.repeats
        result["scale"] = args.scale
        kinds = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        result["backends"] = {k: measure(k, args.scale, args.repeats, workdir) for k in kinds}
    finally:
        stop_postgres()
        shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(result))


if __name__ == "__main__":
    main()

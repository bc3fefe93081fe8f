"""Benchmark: `import_reference` of a large orchestra of the original StageSub (target < 60 s).

    python bench/import_reference.py [--musicians N] [--requests N] [--json OUT]

Run from the repository root. A PostgreSQL server is started in a temporary directory
(stagesub.devtools.localpg) and removed at the end; it holds our control database, the
orchestra's database and the source, built with the original's schema from
tests/postgres/reference_source.py and filled by generate_series: 14 instruments, 42
positions with an A list each, N musicians (2,000) each qualified for and ranked on one
position, 200 projects with two needs each, and R requests (20,000) spread over the needs
(five statuses, no musician twice in a project). Measured: the dry run, the import, and the
second (idempotent) run, each as wall-clock seconds. Nothing asserts speed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

SECRET_KEY = "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
PROJECTS = 200

FILL = """
INSERT INTO "Instrument" ("instrumentId", name, "displayOrder")
  SELECT 'INST' || lpad(i::text, greatest(3, length(i::text)), '0'), 'Instrument ' || i, i FROM generate_series(1, 14) i;
INSERT INTO "Position" ("positionId", "instrumentId", name, "hierarchyLevel")
  SELECT 'POS' || lpad(p::text, greatest(3, length(p::text)), '0'), (p - 1) / 3 + 1, 'Stämma ' || p, (p - 1) % 3 + 1
  FROM generate_series(1, 42) p;
INSERT INTO "RankingList" ("rankingListId", "positionId", "listType")
  SELECT 'RANK' || lpad(p::text, greatest(3, length(p::text)), '0'), p, 'A' FROM generate_series(1, 42) p;
INSERT INTO "Musician" ("musicianId", "firstName", "lastName", email, phone, "preferredLanguage")
  SELECT 'MUS' || lpad(m::text, greatest(3, length(m::text)), '0'), 'Förnamn' || m, 'Efternamn' || m,
         'musiker' || m || '@example.se', '+4670' || lpad(m::text, 7, '0'),
         CASE WHEN m % 7 = 0 THEN 'en' ELSE NULL END
  FROM generate_series(1, {musicians}) m;
INSERT INTO "MusicianQualification"
  SELECT m, (m - 1) % 42 + 1 FROM generate_series(1, {musicians}) m;
INSERT INTO "Ranking" ("rankingId", "listId", "musicianId", rank)
  SELECT 'r' || m, (m - 1) % 42 + 1, m, (m - 1) / 42 + 1 FROM generate_series(1, {musicians}) m;
INSERT INTO "Project" ("projectId", name, "startDate", "weekNumber")
  SELECT 'PROJ' || lpad(p::text, greatest(3, length(p::text)), '0'), 'Projekt ' || p,
         timestamp '2026-01-05' + (p * 7) * interval '1 day',
         extract(week FROM timestamp '2026-01-05' + (p * 7) * interval '1 day')
  FROM generate_series(1, {projects}) p;
INSERT INTO "ProjectNeed" ("projectNeedId", "projectId", "positionId", quantity, "rankingListId",
    "requestStrategy", "responseTimeHours")
  SELECT 'NEED' || lpad(n::text, greatest(3, length(n::text)), '0'), (n + 1) / 2, (n - 1) % 42 + 1, 2, (n - 1) % 42 + 1,
         'parallel', 48
  FROM generate_series(1, {projects} * 2) n;
INSERT INTO "Request" ("requestId", "projectNeedId", "musicianId", status, "sentAt",
    "reminderSentAt", "respondedAt")
  SELECT 'REQ' || lpad(r::text, greatest(3, length(r::text)), '0'), (r - 1) / {per_need} + 1,
         ((r - 1) % ({per_need} * 2) + ((r - 1) / ({per_need} * 2)) * 7) % {musicians} + 1,
         (ARRAY['accepted', 'declined', 'timed_out', 'pending', 'cancelled'])[r % 5 + 1],
         timestamp '2026-01-01 08:00' + r * interval '1 minute',
         CASE WHEN r % 3 = 0 THEN timestamp '2026-01-02 08:00' + r * interval '1 minute' END,
         CASE WHEN r % 5 IN (0, 1, 4) THEN timestamp '2026-01-01 12:00' + r * interval '1 minute' END
  FROM generate_series(1, {requests}) r;
"""


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--musicians", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    per_need = args.requests // (PROJECTS * 2)
    if per_need * 2 > args.musicians:
        sys.exit("too few musicians for the requests per project")
    work = Path(tempfile.mkdtemp(prefix="stagesub-bench-import-"))
    try:
        os.environ.update(
            {
                "STAGESUB_DATA_DIR": str(work / "data"),
                "STAGESUB_SECRET_KEY": SECRET_KEY,
                "STAGESUB_BASE_DOMAIN": "bench.test",
                "STAGESUB_SSL_REDIRECT": "0",
                "DJANGO_SETTINGS_MODULE": "stagesub.settings",
            }
        )
        import psycopg

        from stagesub.devtools.localpg import start_server

        server = start_server(work / "pg", cleanup="stop")
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("CREATE DATABASE stagesub_control")
            conn.execute("CREATE DATABASE reference_source")
        os.environ["STAGESUB_DATABASE_URL"] = server.replace("/postgres?", "/stagesub_control?")
        os.environ["STAGESUB_TENANT_SERVER_URL"] = server
        source = server.replace("/postgres?", "/reference_source?")
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.postgres.reference_source import SCHEMA

        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(SCHEMA)
            conn.execute(
                FILL.format(
                    musicians=args.musicians,
                    requests=per_need * PROJECTS * 2,
                    projects=PROJECTS,
                    per_need=per_need,
                )
            )
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from stagesub.importer.reference import import_reference
        from stagesub.offers.models import Offer
        from stagesub.tenancy import use_orchestra
        from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra

        orchestra = create_orchestra(
            ProvisionRequest(
                subdomain="stor",
                name="Stora Orkestern",
                admin_email="admin@stor.example.se",
                admin_password="bench-password-0123",
            )
        ).orchestra
        timings = {}
        with use_orchestra(orchestra):
            for label, dry in (("dry_run_s", True), ("import_s", False), ("second_run_s", False)):
                started = time.perf_counter()
                report = import_reference(source, dry_run=dry)
                timings[label] = round(time.perf_counter() - started, 2)
                log(f"{label}: {timings[label]} s ({sum(report.created.values())} created)")
            offers = Offer.objects.count()
        out = {
            "date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()} {os.cpu_count()} cpu",
            "musicians": args.musicians,
            "requests": per_need * PROJECTS * 2,
            "offers_imported": offers,
            **timings,
            "target_s": 60,
        }
        print(json.dumps(out, indent=2))
        if args.json:
            args.json.write_text(json.dumps(out, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

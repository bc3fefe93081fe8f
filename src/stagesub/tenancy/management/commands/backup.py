import sqlite3
from pathlib import Path

import psycopg
from django.core.management.base import BaseCommand, CommandError

from stagesub.tenancy.backup import BackupError, backup_orchestra
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.operations import OperationRefused


class Command(BaseCommand):
    help = (
        "Back up orchestras: one self-describing archive each (database, stored files, "
        "manifest), written atomically. `--verify ARCHIVE` runs a restore drill instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("subdomains", nargs="*")
        parser.add_argument("--all", action="store_true", help="every active orchestra")
        parser.add_argument("--to", type=Path, help="folder (default STAGESUB_BACKUP_DIR)")
        crypt = parser.add_mutually_exclusive_group()
        crypt.add_argument("--encrypt", action="store_true", default=None)
        crypt.add_argument("--no-encrypt", dest="encrypt", action="store_false")
        parser.add_argument(
            "--verify",
            metavar="ARCHIVE",
            type=Path,
            help="restore the archive into a scratch database, compare, drop it (exit 0/1)",
        )

    def handle(self, *args, subdomains, all, to, encrypt, verify, **options):
        if verify is not None:
            return self._verify(verify, subdomains)
        if all == bool(subdomains):
            raise CommandError("name orchestras or give --all (not both)", returncode=2)
        query = Orchestra.objects.select_related("server")
        if all:
            orchestras = list(query.filter(status=Orchestra.Status.ACTIVE).order_by("subdomain"))
        else:
            wanted = [s.strip().lower() for s in subdomains]
            found = {o.subdomain: o for o in query.filter(subdomain__in=wanted)}
            missing = [s for s in wanted if s not in found]
            if missing:
                raise CommandError(f"no orchestra named: {', '.join(missing)}", returncode=1)
            orchestras = [found[s] for s in wanted]
        failed = []
        for orchestra in orchestras:
            try:
                result = backup_orchestra(orchestra, to, encrypt=encrypt)
            except (BackupError, OperationRefused, OSError, sqlite3.Error, psycopg.Error) as exc:
                failed.append(orchestra.subdomain)
                self.stderr.write(f"{orchestra.subdomain}: FAILED: {exc}")
                continue
            self.stdout.write(
                f"{orchestra.subdomain}: {result.path} ({result.size} bytes, "
                f"{result.duration:.2f} s)"
            )
        if failed:
            raise CommandError(f"backup failed for: {', '.join(failed)}", returncode=1)

    def _verify(self, archive: Path, subdomains: list[str]) -> None:
        from stagesub.tenancy.restore import RestoreRefused, verify_archive

        if subdomains:
            raise CommandError("--verify takes an archive only", returncode=2)
        try:
            report = verify_archive(archive)
        except (RestoreRefused, BackupError, OperationRefused) as exc:
            raise CommandError(f"{archive}: NOT OK: {exc}", returncode=1) from None
        for line in report:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"{archive}: OK"))

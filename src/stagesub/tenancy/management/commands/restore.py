import sqlite3
from pathlib import Path

import psycopg
from django.core.management.base import BaseCommand, CommandError

from stagesub.tenancy.backup import BackupError
from stagesub.tenancy.binding import UnknownOrchestra, resolve
from stagesub.tenancy.operations import OperationRefused
from stagesub.tenancy.provisioning import ProvisioningRefused
from stagesub.tenancy.restore import RestoreRefused, restore_as_new, restore_orchestra, rollback


class Command(BaseCommand):
    help = (
        "Restore an orchestra from its archive into a new database and switch to it (the "
        "previous one is kept --keep-days); --rollback switches back; --as-new NEWSUB makes a "
        "new orchestra from the archive."
    )

    def add_arguments(self, parser):
        parser.add_argument("subdomain", nargs="?")
        parser.add_argument("archive", nargs="?", type=Path)
        parser.add_argument("--keep-days", type=float, default=7.0)
        parser.add_argument("--rollback", action="store_true")
        parser.add_argument("--as-new", metavar="NEWSUB")
        parser.add_argument("--name", help="with --as-new: the new orchestra's name")
        parser.add_argument("--admin-email", help="with --as-new: its administrator's e-mail")

    def handle(self, *args, subdomain, archive, keep_days, rollback, as_new, **options):
        def progress(step: str) -> None:
            self.stdout.write(f"step: {step}")
            self.stdout.flush()

        if keep_days < 0:
            raise CommandError("--keep-days must not be negative", returncode=2)
        try:
            if rollback:
                if not subdomain or archive:
                    raise CommandError("usage: restore --rollback SUBDOMAIN", returncode=2)
                previous = _rollback(subdomain, keep_days)
                self.stdout.write(
                    f"{subdomain}: switched back to {previous.database_name}; the restored "
                    f"database is kept {keep_days:g} days"
                )
                return
            if as_new:
                archive = archive or (Path(subdomain) if subdomain else None)
                if archive is None:
                    raise CommandError("usage: restore ARCHIVE --as-new NEWSUB", returncode=2)
                result = restore_as_new(
                    archive,
                    as_new,
                    name=options["name"],
                    admin_email=options["admin_email"],
                    progress=progress,
                )
                self.stdout.write(
                    f"{result.orchestra.subdomain}: new orchestra {result.orchestra.id} from "
                    f"{archive} (database {result.database_name})"
                )
                return
            if not subdomain or archive is None:
                raise CommandError("usage: restore SUBDOMAIN ARCHIVE", returncode=2)
            result = restore_orchestra(
                resolve(subdomain), archive, keep_days=keep_days, progress=progress
            )
        except (
            RestoreRefused,
            BackupError,
            OperationRefused,
            UnknownOrchestra,
            ProvisioningRefused,
            OSError,
            sqlite3.Error,
            psycopg.Error,
        ) as exc:
            # Nothing was switched: the orchestra serves from its previous database.
            refused = isinstance(exc, RestoreRefused | BackupError | OperationRefused)
            message = str(exc) if refused else f"{type(exc).__name__}: {exc}"
            raise CommandError(message, returncode=1) from None
        migrated = (
            f", migrated forward: {', '.join(result.applied_migrations)}"
            if (result.applied_migrations)
            else ""
        )
        self.stdout.write(
            f"{subdomain}: restored from {archive} into {result.database_name}{migrated}; "
            f"the previous database is kept {keep_days:g} days "
            f"(`stagesub restore --rollback {subdomain}` switches back)"
        )


def _rollback(subdomain: str, keep_days: float):
    return rollback(resolve(subdomain), keep_days=keep_days)

"""`stagesub decommission SUBDOMAIN [--keep-days N] [--to DIR] [--yes]`, `... --release`."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from stagesub.tenancy import decommission as retirement
from stagesub.tenancy.binding import UnknownOrchestra, resolve
from stagesub.tenancy.operations import OperationRefused


class Command(BaseCommand):
    help = (
        "Retire an orchestra: suspend it at once, take a final backup, archive it; its database "
        "and files are dropped after --keep-days. --release frees the subdomain afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument(
            "--keep-days",
            type=float,
            default=None,
            help="days the database and files are kept (default STAGESUB_DECOMMISSION_KEEP_DAYS)",
        )
        parser.add_argument("--to", type=Path, default=None, help="folder for the final backup")
        parser.add_argument(
            "--release",
            action="store_true",
            help="free the subdomain of an archived orchestra whose data has been dropped",
        )
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, subdomain, keep_days, to, release, yes, **options):
        try:
            orchestra = resolve(subdomain)
        except UnknownOrchestra as exc:
            raise CommandError(str(exc)) from None
        if not yes:
            self._confirm(orchestra.subdomain, release)
        try:
            if release:
                tombstone = retirement.release(orchestra)
                self.stdout.write(
                    f"{subdomain}: subdomain released; the archived record is kept as {tombstone}"
                )
                return
            result = retirement.decommission(
                orchestra, keep_days=keep_days, to_dir=to, progress=self._step
            )
        except OperationRefused as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:
            raise CommandError(
                f"{subdomain}: decommissioning stopped ({type(exc).__name__}: {exc}). The "
                "orchestra stays suspended with its database untouched; run the command again."
            ) from exc
        if result.already_archived:
            self.stdout.write(f"{subdomain} is already archived.")
        else:
            self.stdout.write(f"final backup: {result.backup.path}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{subdomain} archived; its database and files are dropped after "
                f"{result.drop_after:%Y-%m-%d %H:%M} UTC. The subdomain stays reserved until "
                f"`stagesub decommission {subdomain} --release`."
            )
        )

    def _step(self, name: str) -> None:
        # One line per step as it begins (the kill tests of tests/tenancy read them).
        self.stdout.write(f"  {name}…")
        self.stdout.flush()

    def _confirm(self, subdomain: str, release: bool) -> None:
        what = "release the subdomain of" if release else "decommission"
        if not sys.stdin.isatty():
            raise CommandError(f"refusing to {what} {subdomain} without --yes (no terminal)")
        answer = input(f"Type {subdomain} to {what} it: ").strip()
        if answer != subdomain:
            raise CommandError("not confirmed; nothing changed")

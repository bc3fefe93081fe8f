from django.core.management.base import BaseCommand, CommandError

from stagesub.tenancy.binding import UnknownOrchestra, resolve
from stagesub.tenancy.move import MOVE_STEPS, move_orchestra
from stagesub.tenancy.operations import OperationRefused
from stagesub.tenancy.servers import ServerRefused, get


class Command(BaseCommand):
    help = (
        "Move an orchestra's database to another server (PostgreSQL: logical replication, "
        "else dump and restore; SQLite: copy under the write lock) and report the window."
    )

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument("--to", required=True, help="name of the target database server")
        parser.add_argument(
            "--keep-days",
            type=float,
            default=None,
            help="days the old database is kept (default STAGESUB_MOVE_KEEP_DAYS)",
        )
        parser.add_argument(
            "--dump",
            action="store_true",
            help="copy with dump and restore even where logical replication is possible",
        )

    def handle(self, *args, **options):
        labels = dict(MOVE_STEPS)

        def step(key: str) -> None:
            if options["verbosity"] > 0:
                self.stdout.write(f"  {labels[key]}…")

        try:
            orchestra = resolve(options["subdomain"])
            target = get(options["to"])
            result = move_orchestra(
                orchestra,
                target,
                keep_days=options["keep_days"],
                force_dump=options["dump"],
                step=step,
            )
        except (UnknownOrchestra, ServerRefused, OperationRefused) as exc:
            raise CommandError(f"refused: {exc}", returncode=1) from None
        except Exception as exc:
            raise CommandError(
                f"move failed; {options['subdomain']} still serves from its old database and "
                f"what the move created was removed: {type(exc).__name__}: {exc}",
                returncode=1,
            ) from None
        self.stdout.write(self.style.SUCCESS(f"Moved {result.summary()}"))

from django.core.management.base import BaseCommand, CommandError

from stagesub.tenancy import servers
from stagesub.tenancy.servers import ServerRefused


def _size(n: int | None) -> str:
    if n is None:
        return "unreachable"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


class Command(BaseCommand):
    help = "Database servers: add (checked), list, drain (move every orchestra away), remove."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="register a server after checking it")
        add.add_argument("name")
        add.add_argument("url", help="postgresql://user:password@host/postgres, or a directory")
        add.add_argument("--region", required=True)
        add.add_argument(
            "--dedicated",
            action="store_true",
            help="take only the orchestras assigned to it (servers assign)",
        )
        sub.add_parser("list", help="servers with their orchestras, size, status, region, class")
        drain = sub.add_parser("drain", help="no new orchestras, then move every orchestra away")
        drain.add_argument("name")
        drain.add_argument("--keep-days", type=float, default=None)
        remove = sub.add_parser("remove", help="unregister a server nothing lives on")
        remove.add_argument("name")
        assign = sub.add_parser("assign", help="let an orchestra be placed on a dedicated server")
        assign.add_argument("name")
        assign.add_argument("subdomain")
        unassign = sub.add_parser("unassign", help="take an orchestra's dedicated server away")
        unassign.add_argument("subdomain")

    def handle(self, *args, **options):
        try:
            getattr(self, f"_{options['action']}")(options)
        except ServerRefused as exc:
            raise CommandError(f"refused: {exc}", returncode=1) from None

    def _add(self, options):
        server, probe = servers.add_server(
            options["name"],
            options["url"],
            region=options["region"],
            dedicated=options["dedicated"],
        )
        kind = "dedicated" if server.dedicated else "shared"
        self.stdout.write(
            self.style.SUCCESS(f"Added {server.name} ({server.kind}, {kind}, {server.region})")
        )
        for note in probe.notes:
            self.stdout.write(f"  note: {note}")

    def _list(self, options):
        header = ("NAME", "KIND", "REGION", "CLASS", "STATUS", "ORCHESTRAS", "SIZE")
        rows = [header] + [
            (
                r.name,
                r.kind,
                r.region or "-",
                r.server_class,
                r.status,
                str(r.orchestras),
                _size(r.size_bytes),
            )
            for r in servers.server_rows()
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )

    def _drain(self, options):
        def report(outcome):
            if outcome.error:
                self.stdout.write(
                    self.style.ERROR(f"  {outcome.subdomain}: not moved: {outcome.error}")
                )
            else:
                self.stdout.write(f"  {outcome.report}")

        self.stdout.write(f"Draining {options['name']}: no new orchestras; moving each away")
        outcomes = servers.drain(options["name"], keep_days=options["keep_days"], report=report)
        failed = [o for o in outcomes if o.error]
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(outcomes)} orchestra(s) could not be moved; "
                "run the drain again once the cause is fixed",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"{options['name']} is empty ({len(outcomes)} moved)"))

    def _remove(self, options):
        servers.remove(options["name"])
        self.stdout.write(self.style.SUCCESS(f"Removed {options['name']}"))

    def _assign(self, options):
        servers.assign(options["name"], options["subdomain"])
        self.stdout.write(
            f"{options['subdomain']} may now live on {options['name']}: "
            f"stagesub move_orchestra {options['subdomain']} --to {options['name']}"
        )

    def _unassign(self, options):
        servers.unassign(options["subdomain"])
        self.stdout.write(f"{options['subdomain']} is placed on shared servers only")

import os

from django.core.management.base import BaseCommand, CommandError

from stagesub.tenancy.fleet import migrate_orchestras


class Command(BaseCommand):
    # As Django's own `migrate`: no system checks before running (deploy scripts run this on
    # every release; `stagesub check` and the server run them), so a run with nothing pending
    # costs the start-up and one query.
    requires_system_checks = []
    help = (
        "Apply orchestra migrations to all (or the named) orchestra databases, in parallel, "
        "recording each one's state. `stagesub migrate` migrates the control database only."
    )

    def add_arguments(self, parser):
        parser.add_argument("subdomains", nargs="*")
        parser.add_argument("--parallel", type=int, default=max(2, os.cpu_count() or 2))
        parser.add_argument(
            "--check-all",
            action="store_true",
            help="open every database even when its recorded state is current",
        )

    def handle(self, *args, subdomains, parallel, check_all, **options):
        outcomes = migrate_orchestras(subdomains or None, parallel=parallel, check_all=check_all)
        if subdomains:
            found = {o.orchestra.subdomain for o in outcomes}
            missing = sorted(set(subdomains) - found)
            if missing:
                raise CommandError(
                    f"no migratable orchestra named: {', '.join(missing)}", returncode=1
                )
        failed = [o for o in outcomes if o.status == "failed"]
        for o in outcomes:
            if o.status == "failed":
                self.stdout.write(self.style.ERROR(f"{o.orchestra.subdomain}: FAILED {o.error}"))
            elif options["verbosity"] > 1 or o.status == "migrated":
                detail = f" ({', '.join(o.applied)})" if o.applied else ""
                self.stdout.write(f"{o.orchestra.subdomain}: {o.status}{detail}")
        counts = {
            s: sum(1 for o in outcomes if o.status == s)
            for s in ("migrated", "up-to-date", "skipped", "failed")
        }
        self.stdout.write(
            f"{len(outcomes)} orchestras: {counts['migrated']} migrated, {counts['up-to-date']} "
            f"already up to date, {counts['skipped']} recorded up to date, {counts['failed']} failed"
        )
        if failed:
            names = ", ".join(o.orchestra.subdomain for o in failed)
            raise CommandError(f"migrations failed for: {names}", returncode=1)

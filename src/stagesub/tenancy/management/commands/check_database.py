import sys

from django.core.management.base import BaseCommand, CommandError

from stagesub.tenancy.backup import backup_status
from stagesub.tenancy.isolation import verify_isolation
from stagesub.tenancy.models import Orchestra


class Command(BaseCommand):
    help = "Check one orchestra's database: reachable, stamp, identity, migrations, row counts."

    def add_arguments(self, parser):
        parser.add_argument("subdomain")

    def handle(self, *args, subdomain, **options):
        orchestra = (
            Orchestra.objects.select_related("server").filter(subdomain=subdomain.lower()).first()
        )
        if orchestra is None:
            raise CommandError(f"no orchestra {subdomain!r}", returncode=1)
        # One concurrent pass over every database: this one's own check (with its migrations)
        # and the others' identities, to see whether it shares its database with one of them.
        report = verify_isolation(migrations_of={orchestra.pk})
        check = next(c for c in report.checks if c.subdomain == orchestra.subdomain)
        if check.skipped:
            self.stdout.write(f"{orchestra.name} ({orchestra.subdomain}): {check.error}")
            self.stdout.write(self.style.ERROR("PROBLEM: not active yet"))
            sys.exit(1)
        shared = check.shared_with
        out = self.stdout.write
        out(f"{orchestra.name} ({orchestra.subdomain}), status {orchestra.status}")
        out(f"  database:   {check.location}")
        out(f"  reachable:  {'yes' if check.reachable else 'NO: ' + check.error}")
        problems = []
        if check.reachable:
            out(f"  stamp:      {'ok' if check.stamp_ok else 'WRONG (' + str(check.stamp) + ')'}")
            out(f"  identity:   {check.identity}")
            if shared:
                out(f"  SHARED with: {', '.join(shared)}")
            pending = check.pending_migrations or []
            out(
                f"  migrations: {'up to date' if not pending else 'PENDING ' + ', '.join(pending)}"
                f"  (recorded: {check.recorded_migration_state})"
            )
            for label, count in check.counts.items():
                out(f"  {label + ':':<11} {count}")
            if not check.stamp_ok:
                problems.append("stamp")
            if shared:
                problems.append("shared database")
            if pending:
                problems.append("pending migrations")
            if check.error:
                problems.append(check.error)
        else:
            problems.append("unreachable")
        backup_line, backup_problem = backup_status(orchestra)
        out(f"  last backup: {backup_line}")
        if backup_problem:
            problems.append(backup_problem)
        if problems:
            out(self.style.ERROR(f"PROBLEM: {', '.join(problems)}"))
            sys.exit(1)
        out(self.style.SUCCESS("OK"))

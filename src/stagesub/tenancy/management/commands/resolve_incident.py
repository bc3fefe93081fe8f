from django.core.management.base import BaseCommand, CommandError

from stagesub.tenancy.isolation import check_orchestra, close_incident, verify_isolation
from stagesub.tenancy.models import IsolationIncident


class Command(BaseCommand):
    help = (
        "Mark an incident resolved after the fix: re-verifies isolation first, or for an "
        "unreachable incident checks that the database answers."
    )

    def add_arguments(self, parser):
        parser.add_argument("incident", type=int)
        parser.add_argument("--note", default="")
        parser.add_argument("--by", default="operator")
        parser.add_argument(
            "--force", action="store_true", help="resolve even if verify_isolation still fails"
        )

    def handle(self, *args, incident, note, by, force, **options):
        row = IsolationIncident.objects.filter(pk=incident).first()
        if row is None:
            raise CommandError(f"no incident #{incident}", returncode=1)
        if row.resolved_at:
            raise CommandError(
                f"incident #{incident} was already resolved {row.resolved_at:%Y-%m-%d %H:%M}",
                returncode=1,
            )
        if row.kind == IsolationIncident.Kind.UNREACHABLE:
            if row.orchestra is not None and not force:
                check = check_orchestra(row.orchestra)
                if not check.reachable:
                    raise CommandError(
                        f"{row.orchestra.subdomain}'s database is still unreachable: "
                        f"{check.error} (fix it first, or pass --force)",
                        returncode=1,
                    )
        else:
            report = verify_isolation()
            if report.violations and not force:
                raise CommandError(
                    "isolation is still violated: "
                    + "; ".join(report.violations)
                    + " (fix it first, or pass --force)",
                    returncode=1,
                )
        close_incident(row, by, note)
        self.stdout.write(self.style.SUCCESS(f"Incident #{incident} resolved."))

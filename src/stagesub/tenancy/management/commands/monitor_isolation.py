import sys

from django.core.management.base import BaseCommand

from stagesub.tenancy.isolation import monitor_isolation
from stagesub.tenancy.management.commands._isolation_output import write_report
from stagesub.tenancy.models import IsolationIncident


class Command(BaseCommand):
    help = (
        "verify_isolation for schedules: on a violation, record an incident, e-mail every "
        "superadmin and block new orchestras until it is resolved; an unreachable database "
        "gets an 'unreachable' incident (e-mailed once, closed when it answers again)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        report, incident = monitor_isolation(notify=self.stdout.write)
        write_report(self, report, options["json"])
        if not options["json"]:
            if incident is not None:
                self.stdout.write(
                    self.style.ERROR(f"Open incident #{incident.pk}: new orchestras are blocked.")
                )
            for unreachable in IsolationIncident.open_unreachable():
                self.stdout.write(
                    self.style.WARNING(f"Open incident #{unreachable.pk}: {unreachable.summary}")
                )
        sys.exit(report.exit_code)

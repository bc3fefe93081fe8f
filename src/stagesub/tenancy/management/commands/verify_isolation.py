import sys

from django.core.management.base import BaseCommand

from stagesub.tenancy.isolation import verify_isolation
from stagesub.tenancy.management.commands._isolation_output import write_report


class Command(BaseCommand):
    help = "Check that every orchestra has its own database (exit 0 isolated, 1 violation, 2 unchecked)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        report = verify_isolation()
        write_report(self, report, options["json"])
        sys.exit(report.exit_code)

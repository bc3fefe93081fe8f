"""`stagesub import_reference`: fill an existing orchestra from the original StageSub's database."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from stagesub.importer.reference import NotReferenceSchema, import_reference
from stagesub.tenancy.binding import use_orchestra
from stagesub.tenancy.models import Orchestra


class Command(BaseCommand):
    help = "Import one orchestra database of the original StageSub into an existing orchestra."

    def add_arguments(self, parser):
        parser.add_argument(
            "--from", dest="source", required=True, help="postgresql://... (read only)"
        )
        parser.add_argument("--subdomain", required=True, help="the orchestra to fill")
        parser.add_argument("--dry-run", action="store_true", help="report only; write nothing")
        parser.add_argument(
            "--files", type=Path, default=None, help="folder holding the legacy /uploads/... files"
        )

    def handle(self, *args, source, subdomain, dry_run, files, **options):
        orchestra = Orchestra.objects.filter(subdomain=subdomain).first()
        if orchestra is None:
            raise CommandError(f"no orchestra with subdomain {subdomain!r}")
        try:
            with use_orchestra(orchestra):
                report = import_reference(source, dry_run=dry_run, files_dir=files)
        except NotReferenceSchema as error:
            raise CommandError(f"{error}. Nothing was written.") from error
        for line in report.lines():
            self.stdout.write(line)
        if dry_run:
            self.stdout.write("dry run: nothing was written")

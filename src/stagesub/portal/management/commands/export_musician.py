from django.core.management.base import BaseCommand

from stagesub.portal import rights
from stagesub.portal.management.commands._musician import bound_musician


class Command(BaseCommand):
    help = "Print everything stored about one musician as JSON (their right of access)."

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument("musician_id", help="readable id (MUS001) or database id")

    def handle(self, *args, subdomain, musician_id, **options):
        with bound_musician(subdomain, musician_id) as (_orchestra, musician):
            self.stdout.write(rights.export_json(musician))

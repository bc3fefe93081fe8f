"""stagesub api_token SUBDOMAIN --name NAME [--write]: prints a new token of the orchestra once."""

from django.core.management.base import BaseCommand, CommandError

from stagesub.api.tokens import create_token
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.models import Orchestra


class Command(BaseCommand):
    help = "Create an API token for an orchestra and print it (it is not shown again)."

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument("--name", required=True)
        parser.add_argument("--write", action="store_true", help="allow changes, not only reads")

    def handle(self, *args, subdomain, name, write, **options):
        orchestra = Orchestra.objects.filter(subdomain=subdomain).first()
        if orchestra is None:
            raise CommandError(f"No orchestra with subdomain {subdomain!r}.")
        if not name.strip():
            raise CommandError("--name must not be empty.")
        with use_orchestra(orchestra):
            _token, raw = create_token(orchestra.subdomain, name.strip(), write=write)
        self.stdout.write(raw)

from django.core.management.base import BaseCommand, CommandError

from stagesub.portal import rights
from stagesub.portal.management.commands._musician import bound_musician


class Command(BaseCommand):
    help = "Erase one musician's personal data everywhere (irreversible; history kept anonymised)."

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument("musician_id", help="readable id (MUS001) or database id")
        parser.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")

    def handle(self, *args, subdomain, musician_id, yes, **options):
        if not yes:
            raise CommandError("erasing cannot be undone: add --yes to confirm", returncode=2)
        with bound_musician(subdomain, musician_id) as (_orchestra, musician):
            if hasattr(musician, "erasure"):
                raise CommandError(f"{musician.musician_id} is already erased", returncode=1)
            done = rights.erase(musician, actor_label="command line")
        summary = ", ".join(f"{k}: {v}" for k, v in done.items())
        self.stdout.write(f"erased {musician.musician_id} ({summary})")

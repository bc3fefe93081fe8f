"""`stagesub demo`: a complete local demo on the configured backend, ready to click through."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from stagesub.tenancy.binding import use_orchestra
from stagesub.tenancy.decommission import retire_now
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra, remove_orchestra
from stagesub.tenancy.seeding import run_demo_steps

DEMO_ORCHESTRAS = [
    ("goteborg", "Göteborgs Symfoniker"),
    ("malmo", "Malmö Symfoniorkester"),
    ("stockholm", "Kungliga Filharmonikerna"),
]


def demo_password() -> str:
    """STAGESUB_ADMIN_PASSWORD, or one random password kept in the data directory (0600)."""
    given = os.environ.get("STAGESUB_ADMIN_PASSWORD")
    if given:
        return given
    path = settings.DATA_DIR / "demo-password"
    if not path.exists():
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(12))
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Create the control database, a superadmin and the demo orchestras with demo data."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="remove the demo orchestras first")
        parser.add_argument("--port", default="8000", help="port shown in the printed URLs")

    def handle(self, *args, reset, port, **options):
        call_command("migrate", verbosity=0, interactive=False)
        password = demo_password()
        users = get_user_model().objects
        if reset:
            for subdomain, _name in DEMO_ORCHESTRAS:
                orchestra = Orchestra.objects.filter(subdomain=subdomain).first()
                if orchestra is not None and orchestra.status in (
                    Orchestra.Status.PROVISIONING,
                    Orchestra.Status.FAILED,
                ):
                    # A demo run killed while provisioning: nothing to back up or keep.
                    remove_orchestra(orchestra)
                    self.stdout.write(f"removed {subdomain}")
                elif orchestra is not None:
                    # The retirement path without its grace period: final backup, database,
                    # role and files dropped, subdomain released (the archived row stays).
                    tombstone = retire_now(orchestra)
                    self.stdout.write(f"removed {subdomain} (archived as {tombstone})")
        superadmin = users.filter(username="superadmin").first()
        if superadmin is None:
            superadmin = users.create_user(
                "superadmin",
                email=f"superadmin@{settings.BASE_DOMAIN}",
                password=password,
                role="superadmin",
            )
        for subdomain, name in DEMO_ORCHESTRAS:
            orchestra = Orchestra.objects.filter(subdomain=subdomain).first()
            if orchestra is None:
                result = create_orchestra(
                    ProvisionRequest(
                        subdomain=subdomain,
                        name=name,
                        admin_email=f"admin@{subdomain}.example.org",
                        admin_password=password,
                        contact_name="Demo",
                    ),
                    actor=superadmin,
                )
                orchestra = result.orchestra
                with use_orchestra(orchestra):
                    run_demo_steps(orchestra)
                self.stdout.write(f"created {subdomain}")
        suffix = f":{port}" if port not in ("80", "443") else ""
        domain = settings.BASE_DOMAIN
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(f"  superadmin: http://{domain}{suffix}/login/  user superadmin")
        for subdomain, name in DEMO_ORCHESTRAS:
            self.stdout.write(
                f"  {name}: http://{subdomain}.{domain}{suffix}/  user {subdomain}-admin"
            )
        self.stdout.write(f"  password for all demo users: {password}")
        self.stdout.write(
            f"  play the musician: open http://goteborg.{domain}{suffix}/mailbox/ and follow a "
            "link in a request (the worker delivers the mail)"
        )

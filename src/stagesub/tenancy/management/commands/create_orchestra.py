from django.core.management.base import BaseCommand, CommandError

from stagesub.tenancy.provisioning import (
    PROVISION_STEPS,
    ProvisioningRefused,
    ProvisionRequest,
    create_orchestra,
)


class Command(BaseCommand):
    help = "Provision a new orchestra: its own database, schema, stamp, defaults and administrator."

    def add_arguments(self, parser):
        parser.add_argument("--subdomain", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-username")
        parser.add_argument("--contact-name", default="")
        parser.add_argument("--plan", default="medium", choices=["small", "medium", "enterprise"])
        parser.add_argument(
            "--database-url",
            help="adopt this existing database instead of creating one (refused if another "
            "orchestra already uses it)",
        )
        parser.add_argument("--server", help="name of the registered database server to use")
        parser.add_argument(
            "--region", help="place the database in this region (default STAGESUB_DEFAULT_REGION)"
        )

    def handle(self, *args, **options):
        labels = dict(PROVISION_STEPS)

        def progress(step: str) -> None:
            if options["verbosity"] > 0:
                self.stdout.write(f"  {labels[step]}…")

        try:
            result = create_orchestra(
                ProvisionRequest(
                    subdomain=options["subdomain"],
                    name=options["name"],
                    admin_email=options["admin_email"],
                    admin_username=options["admin_username"],
                    contact_name=options["contact_name"],
                    plan=options["plan"],
                    database_url=options["database_url"],
                    server_name=options["server"],
                    region=options["region"],
                ),
                progress=progress,
            )
        except ProvisioningRefused as exc:
            raise CommandError(f"refused: {exc}", returncode=1) from None
        except Exception as exc:
            raise CommandError(
                f"provisioning failed and was rolled back: {type(exc).__name__}: {exc}",
                returncode=1,
            ) from None
        orchestra = result.orchestra
        self.stdout.write(self.style.SUCCESS(f"Created {orchestra.name} ({orchestra.subdomain})"))
        self.stdout.write(f"  url:      {orchestra.url()}")
        self.stdout.write(f"  database: {orchestra.server.name}/{orchestra.database_name}")
        self.stdout.write(f"  admin:    {result.admin_username}")
        if result.password_generated:
            self.stdout.write(f"  password: {result.admin_password}   (shown once; not stored)")
        else:
            self.stdout.write("  password: as given in STAGESUB_ADMIN_PASSWORD")

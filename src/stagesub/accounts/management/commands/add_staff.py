"""stagesub add_staff SUBDOMAIN --email E --role admin|member [--username U]"""

from __future__ import annotations

import os
import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from stagesub.accounts import staff
from stagesub.tenancy.models import Orchestra


class Command(BaseCommand):
    help = (
        "Add an admin or member to an orchestra. The password is STAGESUB_ADMIN_PASSWORD when "
        "set, else generated and printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=staff.STAFF_ROLES)
        parser.add_argument("--username", default="", help="default: the e-mail address")

    def handle(self, *args, subdomain, email, role, username, **options):
        orchestra = Orchestra.objects.filter(subdomain=subdomain.strip().lower()).first()
        if orchestra is None or orchestra.status != Orchestra.Status.ACTIVE:
            raise CommandError(f"No active orchestra with the subdomain {subdomain!r}.")
        given = os.environ.get("STAGESUB_ADMIN_PASSWORD")
        password = given or secrets.token_urlsafe(12)
        try:
            user = staff.add_staff(
                orchestra, email=email, role=role, username=username, password=password
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(
            f"Added {user.username} ({role}) to {orchestra.name}: {orchestra.public_url()}login/"
        )
        if not given:
            self.stdout.write(f"Password (shown once): {password}")

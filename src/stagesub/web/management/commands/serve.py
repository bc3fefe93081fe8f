"""`stagesub serve [--bind ADDRESS:PORT]`: the production web server (gunicorn + WhiteNoise)."""

from __future__ import annotations

import os
import re
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})")


def check_bind(bind: str) -> str:
    """ADDRESS:PORT (IPv6 in brackets) or unix:PATH; anything else is refused before starting."""
    if bind.startswith("unix:") and len(bind) > len("unix:"):
        return bind
    match = _HOST_PORT.fullmatch(bind)
    if not match or not 0 < int(match["port"]) < 65536:
        raise CommandError(
            f"--bind must be ADDRESS:PORT (for example 127.0.0.1:8000), not {bind!r}"
        )
    return bind


class Command(BaseCommand):
    help = (
        "Run the production web server: gunicorn with gthread workers sized from the machine "
        "(STAGESUB_WEB_WORKERS / STAGESUB_WEB_THREADS override), static files through WhiteNoise. "
        "kill -HUP reloads code and settings gracefully."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000", help="ADDRESS:PORT or unix:PATH")

    def handle(self, *args, bind: str, **options):
        bind = check_bind(bind)
        # Hashed, compressed copies that WhiteNoise serves with far-future cache headers; the
        # pages link to the hashed names, so this must happen before the first worker starts.
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"Static files collected in {settings.STATIC_ROOT}")
        self.stdout.flush()
        sys.stderr.flush()
        # The gunicorn master runs in a fresh interpreter without Django loaded, so a HUP reload
        # brings up workers on the code and settings of that moment (see stagesub.web.server).
        os.execv(sys.executable, [sys.executable, "-m", "stagesub.web.server", "--bind", bind])  # noqa: S606

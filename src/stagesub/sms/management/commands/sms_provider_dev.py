"""`stagesub sms_provider_dev`: a local 46elks for the demo (never in production)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from stagesub.sms.localprovider import ElksServer


class Command(BaseCommand):
    help = (
        "Run a local 46elks on 127.0.0.1: it takes the orchestra's SMS (printed here) and, at "
        "http://127.0.0.1:PORT/, lets you reply to them as the musician (the reply goes to "
        "--sms-url, the webhook address on the orchestra's SMS settings page)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8046)
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo")
        parser.add_argument("--sms-url", required=True, help="the orchestra's webhook address")

    def handle(self, *args, port, username, password, sms_url, **options) -> None:
        def show(sms: dict[str, str]) -> None:
            self.stdout.write(f"SMS {sms['from']} → {sms['to']}: {sms['message']}")

        server = ElksServer((username, password), port=port, sms_url=sms_url, on_sms=show)
        server.start()
        self.stdout.write(
            f"Local 46elks at {server.url} (account {username}/{password}); set "
            f"STAGESUB_SMS_API_URL={server.url} for the worker. Reply at {server.url}/ . Ctrl-C stops."
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()

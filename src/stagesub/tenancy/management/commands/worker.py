import logging
import time
import uuid

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django_tasks_db.management.commands.db_worker import Worker

from stagesub.tenancy.scheduler import run_due_jobs
from stagesub.web.health import heartbeat

logger = logging.getLogger("stagesub.worker")


class Command(BaseCommand):
    help = "Run background tasks and periodic jobs (isolation monitor, ...). --once: one pass, then exit."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="one pass over what is due, then exit"
        )
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between passes")

    def handle(self, *args, once, interval, **options):
        worker_id = f"stagesub-{uuid.uuid4().hex[:8]}"
        last: dict[str, str] = {}
        while True:
            close_old_connections()
            with heartbeat(worker_id):  # read by /readyz
                self._pass(worker_id, once, last)
            if once:
                return
            time.sleep(interval)

    def _pass(self, worker_id: str, once: bool, last: dict[str, str]) -> None:
        for name, result in run_due_jobs():
            # A quiet pass every two seconds says the same thing each time: print a job's
            # result when it changes (every one with --once).
            if once or last.get(name) != result:
                self.stdout.write(f"[{name}] {result}")
            last[name] = result
        # Drain the task queue (provisioning from the console, ...), then come back.
        Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        ).run()

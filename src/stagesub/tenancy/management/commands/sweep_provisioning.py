from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stagesub.tenancy.provisioning import sweep_stale_provisionings


class Command(BaseCommand):
    help = (
        "Undo provisionings whose process died (no heartbeat for STAGESUB_PROVISIONING_STALE_AFTER "
        "seconds): drop their database and role, free the subdomain, write an audit event. "
        "The worker does the same every minute."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-after",
            type=float,
            default=None,
            help="seconds without heartbeat that make a provisioning stale (default "
            f"{settings.PROVISIONING_STALE_AFTER}); 0 sweeps every provisioning in progress, "
            "so use it only when no create_orchestra is running",
        )

    def handle(self, *args, stale_after, **options):
        if stale_after is not None and stale_after < 0:
            raise CommandError("--stale-after must be 0 or more seconds", returncode=1)
        swept = sweep_stale_provisionings(stale_after=stale_after, actor_label="sweep_provisioning")
        for s in swept:
            if s.error:
                self.stdout.write(self.style.ERROR(f"{s.subdomain}: could not sweep: {s.error}"))
            else:
                removed = ", ".join(s.removed) or "nothing to remove"
                self.stdout.write(
                    f"{s.subdomain}: swept (last step {s.last_step or '?'}); removed {removed}"
                )
        if any(s.error for s in swept):
            raise CommandError("some provisionings could not be swept (see above)", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"{len(swept)} stale provisioning(s) swept."))

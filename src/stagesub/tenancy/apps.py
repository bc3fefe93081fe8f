from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "stagesub.tenancy"
    verbose_name = "Tenancy (control plane)"

    def ready(self) -> None:
        # connections and signals connect handlers; the others register the worker's jobs:
        # provisioning the stale sweep, operations the fleet housekeeping, backup the nightly
        # backups, restore the sweep of killed restores, automigrate the migration after a
        # deploy, decommission the purge of retired orchestras, move the sweep of unfinished
        # moves.
        from stagesub.tenancy import (  # noqa: F401
            automigrate,
            backup,
            connections,
            decommission,
            move,
            operations,
            provisioning,
            restore,
            signals,
        )

from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "stagesub.tenancy"
    verbose_name = "Tenancy (control plane)"

    def ready(self) -> None:
        # connections and signals connect handlers; provisioning registers the stale sweep,
        # backup the nightly backups, restore the sweep of killed restores, move the sweep of
        # unfinished moves.
        from stagesub.tenancy import (  # noqa: F401
            backup,
            connections,
            move,
            operations,
            provisioning,
            restore,
            signals,
        )

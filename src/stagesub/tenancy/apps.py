from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "stagesub.tenancy"
    verbose_name = "Tenancy (control plane)"

    def ready(self) -> None:
        # connections and signals connect handlers; provisioning registers the stale sweep,
        # backup the nightly backups, restore the sweep of killed restores, automigrate the
        # worker's migration after a deploy, decommission the purge of retired orchestras.
        from stagesub.tenancy import (  # noqa: F401
            automigrate,
            backup,
            connections,
            decommission,
            operations,
            provisioning,
            restore,
            signals,
        )

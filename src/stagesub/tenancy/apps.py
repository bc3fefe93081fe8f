from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "stagesub.tenancy"
    verbose_name = "Tenancy (control plane)"

    def ready(self) -> None:
        # connections and signals connect handlers; provisioning registers the stale sweep,
        # automigrate the worker's migration after a deploy, decommission the purge.
        from stagesub.tenancy import (  # noqa: F401
            automigrate,
            connections,
            decommission,
            operations,
            provisioning,
            signals,
        )

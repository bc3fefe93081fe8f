from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "stagesub.tenancy"
    verbose_name = "Tenancy (control plane)"

    def ready(self) -> None:
        # connections and signals connect handlers; provisioning registers the stale sweep,
        # move the sweep of unfinished moves.
        from stagesub.tenancy import connections, move, operations, provisioning, signals  # noqa: F401

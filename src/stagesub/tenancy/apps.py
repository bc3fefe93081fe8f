from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "stagesub.tenancy"
    verbose_name = "Tenancy (control plane)"

    def ready(self) -> None:
        from stagesub.tenancy import connections, signals  # noqa: F401  (connect handlers)

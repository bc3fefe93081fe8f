from django.apps import AppConfig


class SuperadminConfig(AppConfig):
    name = "stagesub.superadmin"
    verbose_name = "Superadmin console"

    def ready(self) -> None:
        # Registers the worker's removal of unconfirmed signups.
        from stagesub.superadmin import signup  # noqa: F401

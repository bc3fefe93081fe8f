from django.apps import AppConfig


class SuperadminConfig(AppConfig):
    name = "stagesub.superadmin"
    verbose_name = "Superadmin console"

    def ready(self) -> None:
        # Registers the worker's snapshot refresh (superadmin.stats).
        from stagesub.superadmin import stats  # noqa: F401

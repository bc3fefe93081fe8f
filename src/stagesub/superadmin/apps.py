from django.apps import AppConfig


class SuperadminConfig(AppConfig):
    name = "stagesub.superadmin"
    verbose_name = "Superadmin console"

    def ready(self) -> None:
        # Registers the worker's snapshot refresh (superadmin.stats) and its removal of
        # unconfirmed signups (superadmin.signup).
        from stagesub.superadmin import signup, stats  # noqa: F401

from django.apps import AppConfig


class SuperadminConfig(AppConfig):
    name = "stagesub.superadmin"
    verbose_name = "Superadmin console"

    def ready(self) -> None:
        # Registers the worker's snapshot refresh (superadmin.stats), its removal of
        # unconfirmed signups (superadmin.signup) and the isolation check's job runner (fleet).
        from stagesub.superadmin import fleet, signup, stats  # noqa: F401

from django.apps import AppConfig


class SuperadminConfig(AppConfig):
    name = "stagesub.superadmin"
    verbose_name = "Superadmin console"

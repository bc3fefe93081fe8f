from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "stagesub.accounts"
    verbose_name = "Accounts"

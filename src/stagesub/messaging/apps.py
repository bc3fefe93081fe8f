from stagesub.tenancy import sides


class MessagingConfig(sides.OrchestraAppConfig):
    name = "stagesub.messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from stagesub.messaging import defaults  # noqa: F401  (seeds the default templates)

from stagesub.tenancy import sides


class MessagingConfig(sides.OrchestraAppConfig):
    name = "stagesub.messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from stagesub.messaging import (  # noqa: F401
            defaults,  # seeds the default templates
            hooks,  # the musician page's group e-mail section
        )

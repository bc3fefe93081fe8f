from stagesub.tenancy import sides


class OffersConfig(sides.OrchestraAppConfig):
    name = "stagesub.offers"
    verbose_name = "Offers"

    def ready(self) -> None:
        from stagesub.offers import (  # noqa: F401
            hooks,  # tells projects about offers
            scheduler,  # registers the reminder/timeout/outbox job with the worker
        )

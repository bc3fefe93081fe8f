from stagesub.tenancy import sides


class OffersConfig(sides.OrchestraAppConfig):
    name = "stagesub.offers"
    verbose_name = "Offers"

    def ready(self) -> None:
        from stagesub.offers import hooks  # noqa: F401  (tells projects about offers)

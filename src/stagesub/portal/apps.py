from stagesub.tenancy import sides


class PortalConfig(sides.OrchestraAppConfig):
    name = "stagesub.portal"
    verbose_name = "Musician portal"

    def ready(self) -> None:
        from stagesub.portal import hooks  # noqa: F401  (the staff's musician page shows changes)

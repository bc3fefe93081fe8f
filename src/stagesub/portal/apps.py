from stagesub.tenancy import sides


class PortalConfig(sides.OrchestraAppConfig):
    name = "stagesub.portal"
    verbose_name = "Musician portal"

    def ready(self) -> None:
        from stagesub.portal import (  # noqa: F401
            hooks,  # the staff's musician page shows changes and the data-rights actions
            retention,  # registers the retention job with the worker
        )

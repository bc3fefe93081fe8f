from stagesub.tenancy import sides


class OfficeConfig(sides.OrchestraAppConfig):
    name = "stagesub.office"
    label = "office"
    verbose_name = "Office"

    def ready(self) -> None:
        # The worker's job for needs that ran out of people to ask, and the receiver that
        # records settings changes in the activity feed.
        from stagesub.office import activity, alerts  # noqa: F401

from stagesub.tenancy import sides


class RosterConfig(sides.OrchestraAppConfig):
    name = "stagesub.roster"
    verbose_name = "Roster"

    def ready(self) -> None:
        from stagesub.roster import seeds  # noqa: F401  (registers seed and demo steps)
        from stagesub.tenancy.isolation import register_row_count

        register_row_count("musicians", "roster.Musician")

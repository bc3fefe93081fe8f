from stagesub.tenancy import sides


class RankingsConfig(sides.OrchestraAppConfig):
    name = "stagesub.rankings"
    verbose_name = "Ranking lists"

    def ready(self) -> None:
        from stagesub.rankings import hooks  # noqa: F401  (roster hooks, profile section)

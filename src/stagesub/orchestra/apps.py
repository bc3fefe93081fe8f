from stagesub.tenancy import sides


class OrchestraConfig(sides.OrchestraAppConfig):
    name = "stagesub.orchestra"
    label = "orchestra"
    verbose_name = "Orchestra database"

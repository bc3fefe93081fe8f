from stagesub.tenancy import sides


class ApiConfig(sides.OrchestraAppConfig):
    # Tokens live in the orchestra's own database: another host cannot even find them.
    name = "stagesub.api"
    label = "api"
    verbose_name = "API"

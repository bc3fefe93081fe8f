from stagesub.tenancy import sides


class ImporterConfig(sides.OrchestraAppConfig):
    name = "stagesub.importer"
    label = "importer"
    verbose_name = "Import from the original StageSub"

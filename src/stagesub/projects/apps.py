from stagesub.tenancy import sides


class ProjectsConfig(sides.OrchestraAppConfig):
    name = "stagesub.projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from stagesub.projects import hooks  # noqa: F401  (usage checks for lists and positions)
        from stagesub.tenancy.isolation import register_row_count

        register_row_count("projects", "projects.Project")

"""The `stagesub` console script: Django's management entry point with StageSub's settings."""

import os
import sys

from stagesub.filemodes import restrict_new_files


def main() -> None:
    # First, before settings or SQLite create anything: our files are private (filemodes).
    restrict_new_files()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stagesub.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

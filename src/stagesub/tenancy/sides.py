"""Which side of the tenancy boundary a model lives on, declared once per app.

An app whose AppConfig subclasses :class:`OrchestraAppConfig` keeps its tables in every
orchestra's own database; every other app (Django's included) lives in the control database.
The router reads this declaration, so nobody maintains a list of models by hand.
"""

from __future__ import annotations

from functools import cache

from django.apps import AppConfig, apps

CONTROL = "control"
ORCHESTRA = "orchestra"


class OrchestraAppConfig(AppConfig):
    """Base for apps whose data belongs to one orchestra (stored in that orchestra's database).

    Subclass it through the module (``class RosterConfig(sides.OrchestraAppConfig)``), not by
    importing the class into apps.py: Django picks an app's config automatically only when
    apps.py holds exactly one AppConfig subclass.
    """

    data_side = ORCHESTRA


@cache
def side_of_app(app_label: str) -> str:
    try:
        config = apps.get_app_config(app_label)
    except LookupError:
        return CONTROL
    return getattr(config, "data_side", CONTROL)


def is_orchestra_app(app_label: str) -> bool:
    return side_of_app(app_label) == ORCHESTRA


def is_orchestra_model(model) -> bool:
    return is_orchestra_app(model._meta.app_label)


def orchestra_app_labels() -> list[str]:
    return [
        c.label for c in apps.get_app_configs() if getattr(c, "data_side", CONTROL) == ORCHESTRA
    ]

"""Database router: orchestra models go to the bound orchestra's database, control models to default.

Fail closed: with no orchestra bound, any read or write of an orchestra model raises
NoOrchestraBound. It never falls back to the control database or to some other orchestra.
"""

from __future__ import annotations

from stagesub.tenancy.connections import is_orchestra_alias
from stagesub.tenancy.context import current_binding
from stagesub.tenancy.sides import is_orchestra_app, is_orchestra_model

CONTROL_ALIAS = "default"


class OrchestraRouter:
    def db_for_read(self, model, **hints):
        if is_orchestra_model(model):
            return current_binding().alias
        return CONTROL_ALIAS

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return obj1._state.db == obj2._state.db and is_orchestra_model(obj1) == is_orchestra_model(
            obj2
        )

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == CONTROL_ALIAS:
            return not is_orchestra_app(app_label)
        if is_orchestra_alias(db):
            return is_orchestra_app(app_label)
        return False

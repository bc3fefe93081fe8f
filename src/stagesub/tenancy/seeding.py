"""Registries of what a new orchestra database starts with, and what the demo adds.

Apps plug in from their AppConfig.ready() (or a module it imports):

    @seed_step("roster.instruments", order=10)
    def seed_instruments(orchestra): ...

Seed steps run inside the new orchestra's binding, in one transaction on its database, and
must be idempotent (an adopted database may already hold some of the rows). Demo steps run
the same way from `stagesub demo`, after seeding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from stagesub.tenancy.context import current_binding


@dataclass(frozen=True)
class Step:
    name: str
    order: int
    function: Callable


_seed_steps: dict[str, Step] = {}
_demo_steps: dict[str, Step] = {}


def _register(registry: dict[str, Step], name: str, order: int):
    def decorator(function):
        registry[name] = Step(name, order, function)
        return function

    return decorator


def seed_step(name: str, order: int = 100):
    return _register(_seed_steps, name, order)


def demo_step(name: str, order: int = 100):
    return _register(_demo_steps, name, order)


def _run(registry: dict[str, Step], orchestra) -> list[str]:
    alias = current_binding().alias
    done = []
    with transaction.atomic(using=alias):
        for step in sorted(registry.values(), key=lambda s: (s.order, s.name)):
            step.function(orchestra)
            done.append(step.name)
    return done


def run_seed_steps(orchestra) -> list[str]:
    return _run(_seed_steps, orchestra)


def run_demo_steps(orchestra) -> list[str]:
    return _run(_demo_steps, orchestra)

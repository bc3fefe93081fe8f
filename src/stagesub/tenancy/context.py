"""The orchestra binding: which orchestra database the current code may touch.

A request binds its host's orchestra; scripts, jobs and tests bind one with
:func:`stagesub.tenancy.use_orchestra`. The binding lives in a context variable, so it follows
the code that set it and nothing else: a new thread starts with no binding (fail closed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class TenancyError(RuntimeError):
    """Base for every refusal of the tenancy layer."""


class NoOrchestraBound(TenancyError):
    """Orchestra data was touched with no orchestra bound. Bind one with use_orchestra()."""


class CrossOrchestraAccess(TenancyError):
    """SQL was about to run on an orchestra database other than the bound one."""


class StampMismatch(TenancyError):
    """An orchestra database's identity stamp does not name the orchestra bound to it."""


@dataclass(frozen=True)
class Binding:
    orchestra_id: uuid.UUID | None
    subdomain: str
    alias: str
    # False only while a database is being provisioned or a template built: it has no stamp yet.
    check_stamp: bool = True


_binding: ContextVar[Binding | None] = ContextVar("stagesub_orchestra_binding", default=None)


def current_binding() -> Binding:
    binding = _binding.get()
    if binding is None:
        raise NoOrchestraBound(
            "No orchestra is bound: orchestra data is only reachable inside "
            "use_orchestra(...) or a request to an orchestra's host."
        )
    return binding


def binding_or_none() -> Binding | None:
    return _binding.get()


@contextmanager
def bind(binding: Binding) -> Iterator[Binding]:
    """Bind a database for the duration of the block (low level; prefer use_orchestra)."""
    from stagesub.tenancy import connections

    token = _binding.set(binding)
    try:
        # A slot of the process's connection budget, and the stamp confirmed on a reused
        # connection, before the block may run a single query.
        lease = connections.acquire(binding)
    except BaseException:
        _binding.reset(token)
        raise
    try:
        yield binding
    finally:
        _binding.reset(token)
        connections.release(lease)


def orchestra_atomic(**kwargs):
    """``transaction.atomic`` on the bound orchestra's database.

    Plain ``transaction.atomic()`` means the *control* database; orchestra code must use this.
    """
    from django.db import transaction

    return transaction.atomic(using=current_binding().alias, **kwargs)

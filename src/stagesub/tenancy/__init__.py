"""Tenancy: one database per orchestra.

Public entry point: ``use_orchestra(subdomain_or_orchestra)`` binds one orchestra for scripts,
jobs, the shell and tests. Everything else lives in the submodules (see docs/architecture.md).
"""


def use_orchestra(target, **kwargs):
    """Context manager binding one orchestra: ``with use_orchestra("goteborg"): ...``."""
    from stagesub.tenancy.binding import use_orchestra as _use_orchestra

    return _use_orchestra(target, **kwargs)

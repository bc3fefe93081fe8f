"""The orchestra bookkeeping app stays below the domain apps: the office reads them, it does not."""

from __future__ import annotations

import ast
from pathlib import Path

import stagesub.orchestra

DOMAIN_APPS = ("stagesub.roster", "stagesub.rankings", "stagesub.projects")


def imported_modules(source: str) -> set[str]:
    """Every module a source imports, anywhere in it (also inside functions); for
    `from a import b` both a and a.b, since b may be a module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def domain_imports(source: str) -> set[str]:
    return {
        name
        for name in imported_modules(source)
        if any(name == app or name.startswith(app + ".") for app in DOMAIN_APPS)
    }


def test_orchestra_package_imports_no_roster_rankings_or_projects_module():
    package = Path(stagesub.orchestra.__file__).parent
    offending = {
        f"{path.relative_to(package)}: {name}"
        for path in package.rglob("*.py")
        for name in domain_imports(path.read_text())
    }
    assert not offending, sorted(offending)


def test_the_check_sees_every_form_of_import():
    # The old home view imported models at module level; lazy imports inside a function and
    # `from stagesub import projects` must be caught as well.
    assert domain_imports("from stagesub.roster.models import Musician\n")
    assert domain_imports("def f():\n    from stagesub.projects.models import Project\n")
    assert domain_imports("from stagesub import rankings\n")
    assert domain_imports("import stagesub.roster.models\n")
    assert not domain_imports("from stagesub.orchestra.models import OrchestraSettings\n")

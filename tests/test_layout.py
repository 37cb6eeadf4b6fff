"""The direction of dependencies between the three packages (CONVENTIONS.md)."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

FORBIDDEN = {
    "forecasting": {"django", "rest_framework", "celery", "inventory_ai", "integrations"},
    "integrations": {"django", "rest_framework", "celery", "inventory_ai", "forecasting"},
}


def imported_top_level_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_what_depends_on_it(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = set(imported_top_level_modules(path)) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {', '.join(sorted(bad))}")
    assert offenders == []

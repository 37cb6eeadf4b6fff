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


def module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path) -> set[str]:
    """Every module `path` imports (absolute names; relative imports resolved), at any depth of its code."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def source_files(package: str, skip: tuple[str, ...] = ("migrations",)):
    return [path for path in sorted((ROOT / package).rglob("*.py")) if not set(path.parts) & set(skip)]


# The Celery wiring: the tasks themselves, the app, and the one module through which services send work.
TASKS_READERS = {"inventory_ai.tasks", "inventory_ai.celery", "inventory_ai.dispatch"}


def test_only_the_celery_wiring_imports_the_tasks():
    offenders = [
        module_name(path)
        for path in source_files("inventory_ai")
        if module_name(path) not in TASKS_READERS and "inventory_ai.tasks" in imported_modules(path)
    ]
    assert offenders == []


def test_selectors_read_and_never_import_services():
    offenders = [
        module_name(path)
        for path in source_files("inventory_ai/selectors")
        if any(name.startswith("inventory_ai.services") for name in imported_modules(path))
    ]
    assert offenders == []


@pytest.mark.parametrize("package", ["inventory_ai", "forecasting"])
def test_no_module_passes_500_lines(package):
    long = {module_name(path): n for path in source_files(package) if (n := len(path.read_text().splitlines())) > 500}
    assert long == {}


@pytest.mark.parametrize("package", ["inventory_ai", "forecasting", "integrations"])
def test_no_import_cycle_between_the_modules_of_a_package(package):
    # given the import graph of the package's modules (a package's __init__ only re-exports, so it is left out)
    modules = {module_name(path): path for path in source_files(package) if path.name != "__init__.py"}
    imports = {name: imported_modules(path) for name, path in modules.items()}  # each file parsed once
    graph = {name: {other for other in modules if other != name and other in imports[name]} for name in modules}
    # then no module reaches itself again (a depth-first search for a back edge)
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for neighbour in sorted(graph[node]):
            if state.get(neighbour) == "open":
                cycles.append(" -> ".join([*trail[trail.index(neighbour) :], neighbour]))
            elif neighbour not in state:
                visit(neighbour, [*trail, neighbour])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


# --- One door per platform ---------------------------------------------------------------------------------------
# `inventory_ai` picks a store's gateway by its platform in one module and asks the gateway from then on: no other
# module compares a value with a platform's name, nor reaches a platform's API client, webhook provider or gateway
# around that door. Choices declare the names; migrations record them.
GATEWAY_LOOKUP = "inventory_ai/gateways.py"
NAMES_DECLARED_IN = {"inventory_ai/choices.py"}
# Calls whose keyword arguments are comparisons (ORM lookups).
LOOKUP_CALLS = {"filter", "exclude", "get", "get_or_create", "update_or_create", "Q"}
PLATFORM_MODULES = ("client", "gateway", "webhooks")


def platform_names() -> tuple[set[str], set[str]]:
    """The platforms' names, and the names of their `Platform` members."""
    from inventory_ai.choices import Platform

    return set(Platform.values), set(Platform.names)


def names_a_platform(node: ast.AST, names: set[str], members: set[str]) -> bool:
    """Whether the expression is (or, for a collection, holds) a platform name or a `Platform.<X>` member."""
    for part in ast.walk(node):
        if isinstance(part, ast.Constant) and isinstance(part.value, str) and part.value in names:
            return True
        if (
            isinstance(part, ast.Attribute)
            and isinstance(part.value, ast.Name)
            and part.value.id == "Platform"
            and part.attr in members
        ):
            return True
    return False


def platform_comparisons(tree: ast.AST, names: set[str], members: set[str]) -> list[int]:
    """Line numbers of comparisons with a platform name: `==`/`!=`/`in` operands, `match` cases, the keys of a
    lookup table, and ORM lookups (`filter(store__platform=...)`)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.MatchValue):
            operands = [node.value]
        elif isinstance(node, ast.Dict):
            operands = [key for key in node.keys if key is not None]
        elif isinstance(node, ast.Call):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            is_lookup = function in LOOKUP_CALLS
            operands = [kw.value for kw in node.keywords if is_lookup and kw.arg and "platform" in kw.arg]
        else:
            continue
        if any(names_a_platform(operand, names, members) for operand in operands):
            lines.append(node.lineno)
    return lines


def test_inventory_ai_never_compares_platform_names_outside_the_gateway_lookup():
    names, members = platform_names()
    offenders = []
    for path in sorted((ROOT / "inventory_ai").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative == GATEWAY_LOOKUP or relative in NAMES_DECLARED_IN or "/migrations/" in relative:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        offenders.extend(f"{relative}:{line}" for line in platform_comparisons(tree, names, members))
    assert offenders == []


def test_only_the_gateway_lookup_reaches_a_platforms_api():
    names, _ = platform_names()
    door = {"integrations.platforms"} | {
        f"integrations.{name}.{module}" for name in names for module in PLATFORM_MODULES
    }
    offenders = []
    for path in sorted((ROOT / "inventory_ai").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative == GATEWAY_LOOKUP:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                modules = {alias.name for alias in node.names}
            else:
                continue
            if modules & door:
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    [
        "if store.platform == Platform.SHOPIFY: pass",
        "if platform != 'woocommerce': pass",
        "ok = store.platform in ('shopify',)",
        "match platform:\n    case 'shopify': pass",
        "READERS = {Platform.WOOCOMMERCE: read}",
        "Store.objects.filter(platform='shopify')",
        "StockAdjustment.objects.filter(store__platform=Platform.WOOCOMMERCE)",
    ],
)
def test_the_platform_rule_sees_every_kind_of_comparison(source):
    names, members = platform_names()
    assert len(platform_comparisons(ast.parse(source), names, members)) == 1


@pytest.mark.parametrize(
    "source",
    [
        "upsert_store('shopify', domain)",
        "Store(platform=Platform.SHOPIFY, domain=domain)",
        "if store.platform in Platform.values: pass",
        "gateway = gateway_class(store.platform)",
        "topic = header(headers, 'X-Shopify-Topic')",
    ],
)
def test_the_platform_rule_lets_names_pass_where_nothing_is_compared(source):
    names, members = platform_names()
    assert platform_comparisons(ast.parse(source), names, members) == []


def test_each_admin_module_registers_the_models_of_its_namesake():
    # given the classes each models module defines
    defined = {
        path.stem: {node.name for node in ast.parse(path.read_text()).body if isinstance(node, ast.ClassDef)}
        for path in source_files("inventory_ai/models")
    }
    # then an admin module registers only models of the models module with its name
    offenders = []
    for path in source_files("inventory_ai/admin"):
        for node in ast.walk(ast.parse(path.read_text())):
            for decorator in getattr(node, "decorator_list", []):
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "register":
                    for argument in decorator.args:
                        if isinstance(argument, ast.Name) and argument.id not in defined.get(path.stem, set()):
                            offenders.append(f"admin/{path.name} registers {argument.id}")
    assert offenders == []


def test_every_task_named_for_dispatch_is_a_task():
    # given the tasks that inventory_ai/tasks.py defines
    tasks = {
        node.name
        for node in ast.parse((ROOT / "inventory_ai" / "tasks.py").read_text()).body
        if isinstance(node, ast.FunctionDef)
    }
    # then every "<verb>_<noun>_task" name that a module sends through dispatch is one of them
    named = {
        (module_name(path), node.value)
        for path in source_files("inventory_ai")
        if module_name(path) != "inventory_ai.tasks"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith("_task")
    }
    assert named
    assert {(module, name) for module, name in named if name.rpartition(".")[2] not in tasks} == set()

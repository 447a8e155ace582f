"""Dependencies between apps point one way: every import from one app of platform/ or
tenants/ (config included) to another, function-local ones too, goes down the layers
that docs/architecture.md ("Layers") writes down. A new import that goes up, which is how
an import cycle between apps starts, fails here; so does a new app not placed in a layer.

Imports under ``if TYPE_CHECKING:`` are not counted: they never run, so they make no
cycle, and they let a lower app name in its signatures the type a higher one passes it
(history's functions take a ``Tenant``) for the type checker (tests/test_types.py).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = (ROOT / "platform", ROOT / "tenants")

# Lowest first: an app may import the apps of the layers below its own, never above.
LAYERS: list[str] = [
    "config",
    "history",
    "tenancy",
    "botruntime",
    "accounts",
    "notifications",
    "wallet",
    "xclient",
    "community",
    "xfeed",
    "raids",
    "branding",
    "devserver",
]
# The project's wiring sits above every app: the root URLconf mounts each app's routes,
# the server entry points and settings load them all.
PROJECT_MODULES = {"config.urls", "config.asgi", "config.wsgi", "config.settings"}


def app_modules() -> Iterator[tuple[str, str, Path]]:
    """(app, dotted module, path) of every source module of every app, migrations aside
    (they name other apps as strings, not imports)."""
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" in parts:
                continue
            module = ".".join(p for p in parts if p != "__init__")
            yield parts[0], module, path


def is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``: true for the type checker only."""
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def imported_modules(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Every absolute import that can run, anywhere in the tree (inside functions too),
    with its line: the body of ``if TYPE_CHECKING:`` is skipped, its ``else:`` is not."""
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
        pending.extend(ast.iter_child_nodes(node))


def upward_imports() -> dict[tuple[str, str], list[str]]:
    """(importing module, imported app) -> the lines where an app imports one not below it."""
    apps = {app for app, _, _ in app_modules()}
    rank = {app: LAYERS.index(app) for app in apps if app in LAYERS}
    found: dict[tuple[str, str], list[str]] = {}
    for app, module, path in app_modules():
        if module in PROJECT_MODULES:
            continue
        for name, line in imported_modules(ast.parse(path.read_text(), str(path))):
            target = name.split(".")[0]
            if target == app or target not in apps:
                continue
            if rank.get(target, len(LAYERS)) >= rank.get(app, -1):
                where = f"{path.relative_to(ROOT)}:{line}: {name}"
                found.setdefault((module, target), []).append(where)
    return found


def test_every_app_has_a_layer():
    apps = {app for app, _, _ in app_modules()}
    assert sorted(apps - set(LAYERS)) == [], "place the new app in LAYERS and the docs"
    assert sorted(set(LAYERS) - apps) == []


def test_imports_between_apps_point_down_the_layers():
    # With every import going down one line of layers, the graph of apps has no cycle.
    assert upward_imports() == {}, "an app imports one of its own layer or above (a cycle)"


def test_the_architecture_page_shows_these_layers():
    text = (ROOT / "docs" / "architecture.md").read_text()
    match = re.search(r"^Layers, lowest first: (.+)$", text, re.MULTILINE)
    assert match, "docs/architecture.md has no 'Layers, lowest first:' line"
    assert re.findall(r"`(\w+)`", match.group(1)) == LAYERS


def test_imports_only_the_type_checker_reads_are_not_counted():
    source = """
import typing
from typing import TYPE_CHECKING

import history

if TYPE_CHECKING:
    from tenancy.models import Tenant
else:
    import accounts
if typing.TYPE_CHECKING:
    import community

def f():
    from notifications import services
"""
    names = sorted(name for name, _ in imported_modules(ast.parse(source)))
    assert names == ["accounts", "history", "notifications", "typing", "typing"]


def test_the_provisioner_imports_no_app():
    # It sits beside the apps: the callers (branding) hand it plain values.
    apps = {app for app, _, _ in app_modules()}
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sorted((ROOT / "provisioner").rglob("*.py"))
        for name, line in imported_modules(ast.parse(path.read_text(), str(path)))
        if name.split(".")[0] in apps
    ]
    assert found == []

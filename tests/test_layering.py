"""Dependencies between apps point one way: every import from one app of platform/ or
tenants/ (config included) to another, function-local ones too, goes down the layers
that docs/architecture.md ("Layers") writes down. A new import that goes up, which is how
an import cycle between apps starts, fails here; so does a new app not placed in a layer.
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
    "community",
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


def imported_modules(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Every absolute import anywhere in the tree (inside functions too), with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno


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

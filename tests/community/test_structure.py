"""Where community code lives: writes in ``community/services/`` (reads in selectors,
texts in ``texts.py``), incoming handlers that reach the database only through services,
and no module that borrows another's private names. A new writer elsewhere fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tenants" / "community"
# Model methods that write, and SQL that does.
WRITE_METHODS = {"save", "create", "bulk_create", "get_or_create", "update_or_create"}
QUERYSET_WRITES = {"update", "delete"}
WRITE_SQL = re.compile(r"^\s*(INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM)\s")


def _modules(*, exclude: tuple[str, ...] = ()) -> list[Path]:
    return [
        path
        for path in sorted(APP.rglob("*.py"))
        if "migrations" not in path.parts
        and not any(path.relative_to(APP).as_posix().startswith(e) for e in exclude)
    ]


def _writes(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, receiver = node.func.attr, ast.unparse(node.func.value)
            if name == "atomic" and receiver == "transaction":
                found.append((node.lineno, "transaction.atomic"))
            elif name in WRITE_METHODS or (name in QUERYSET_WRITES and "objects" in receiver):
                found.append((node.lineno, f"{receiver}.{name}()"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if WRITE_SQL.match(node.value):
                found.append((node.lineno, "writing SQL"))
    return sorted(found)


def test_every_writer_lives_in_services():
    # models.py defines the tables; nothing else outside services/ writes them.
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _modules(exclude=("services/", "models.py"))
        for line, what in _writes(path.read_text(encoding="utf-8"))
    ]
    assert not found, "\n".join(found)


def test_the_writer_check_sees_a_writer():
    source = 'with transaction.atomic():\n    Group.objects.filter(pk=1).update(title="x")\n'
    source += 'row.save()\nsql = """\nINSERT INTO t VALUES (1)"""\n'
    source += 'labels = ("delete", "Update the title")\n'
    assert [line for line, _ in _writes(source)] == [1, 2, 3, 4]


def test_handlers_reach_the_database_only_through_services():
    found = []
    for path in _modules():
        relative = path.relative_to(APP).as_posix()
        if not (relative.startswith("handlers/") or relative == "telegram.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in (
                "community.models",
                "django.db",
                "django_tenants.utils",
            ):
                found.append(f"{relative}:{node.lineno}: imports {node.module}")
    assert not found, "\n".join(found)


def test_no_module_imports_a_private_name_of_another():
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} from {node.module}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("community")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert not found, "\n".join(found)

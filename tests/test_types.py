"""The type checker passes as ``make lint`` runs it: mypy with the Django and DRF plugins
over platform/, tenants/ and provisioner/ ([tool.mypy] in pyproject.toml), and every
``# type: ignore`` names its error code and says why on its line."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import mypy_run

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
# ``# type: ignore[code]  # why``; group "reason" is what follows the code.
TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore(?P<code>\[[^\]]+\])?(?P<reason>.*)$")


def checked_sources() -> Iterator[Path]:
    for root in (*CONFIG["files"], "sandbox"):
        yield from sorted((ROOT / root).rglob("*.py"))


def test_mypy_reports_no_errors():
    # Both source roots and the provisioner, and function bodies without annotations too.
    assert CONFIG["files"] == ["platform", "tenants", "provisioner"]
    assert CONFIG["check_untyped_defs"] is True
    assert not any(o.get("ignore_errors") for o in CONFIG.get("overrides", [])), "no app exempt"
    # Incremental: the cache (.mypy_cache, not in git) makes a repeated run take seconds.
    status, output = mypy_run().result(timeout=110)
    assert status == 0, output
    assert "Success: no issues found" in output


def test_every_type_ignore_says_why():
    bare = []
    for path in checked_sources():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found = TYPE_IGNORE.search(line)
            if found and not (found["code"] and re.match(r"\s*#\s*\S", found["reason"])):
                bare.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert bare == [], "write `# type: ignore[code]  # why` (or fix the type)"


# Parameters that always hold one of the named models: typing them Any hides every
# attribute misspelt on them from the checker.
NAMED = {"tenant", "bot", "user", "actor"}


def any_typed(source: str) -> list[tuple[int, str]]:
    """(line, parameter) of each parameter in ``NAMED`` annotated ``Any``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
                annotation = arg.annotation
                if arg.arg in NAMED and annotation is not None and ast.unparse(annotation) == "Any":
                    found.append((arg.lineno, arg.arg))
    return found


def test_the_tenant_bot_and_user_parameters_are_typed():
    assert any_typed("def f(*, tenant: Any, user: 'TelegramUser'): ...") == [(1, "tenant")]
    loose = [
        f"{path.relative_to(ROOT)}:{line}: {name}: Any"
        for root in CONFIG["files"]
        for path in sorted((ROOT / root).rglob("*.py"))
        for line, name in any_typed(path.read_text(encoding="utf-8"))
    ]
    assert loose == [], "name the model (Tenant, Bot, TelegramUser, Actor) instead of Any"

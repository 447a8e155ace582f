"""Where the notifications app keeps its writers, and one name for broadcasts.

Writers are in ``notifications/services/`` (one module per sub-domain), reads in
``selectors.py``; views, handlers, jobs and the dispatcher call them. A broadcast is called
a broadcast in code; the earlier name survives only as recorded data and published
contracts (strings), listed in docs/architecture.md.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import notifications

APP = Path(notifications.__file__).parent
REPO = APP.parent.parent
SERVICES = APP / "services"
# Calls that change rows or run SQL of their own.
WRITES = {
    "save",
    "create",
    "update",
    "delete",
    "bulk_create",
    "bulk_update",
    "get_or_create",
    "update_or_create",
    "select_for_update",
    "execute",
}
OLD_NAME = re.compile(r"^(BulkSend\w*|bulk_send\w*|bulk)$")


def _modules(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "migrations" not in p.parts)


def _writes(source: str) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.func.attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in WRITES
    ]


def _old_names(source: str) -> list[tuple[int, str]]:
    """Identifiers (not strings or comments) that still use the earlier name."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [
        (tok.start[0], tok.string)
        for tok in tokens
        if tok.type == tokenize.NAME and OLD_NAME.match(tok.string)
    ]


def test_only_the_services_package_writes():
    outside = [p for p in _modules(APP) if SERVICES not in p.parents]
    found = [
        f"{path.relative_to(REPO)}:{line}: .{call}("
        for path in outside
        for line, call in _writes(path.read_text(encoding="utf-8"))
    ]
    assert not found, "writes belong in notifications/services/:\n" + "\n".join(found)


def test_the_writers_scan_sees_orm_writes_and_sql():
    source = """
def f(bulk, cursor):
    bulk.save(update_fields=["status"])
    Broadcast.objects.filter(pk=1).update(status="x")
    cursor.execute("SELECT pg_advisory_xact_lock(1)")
    Broadcast.objects.filter(pk=1).first()
"""
    assert _writes(source) == [(3, "save"), (4, "update"), (5, "execute")]


def test_each_service_module_holds_one_sub_domain():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in _modules(SERVICES)}
    assert {
        "__init__.py",
        "broadcasts.py",
        "checks.py",
        "delivery.py",
        "notification_settings.py",
        "outbox.py",
        "recipients.py",
        "subscriptions.py",
    } <= set(sizes)
    assert max(sizes.values()) <= 400, sizes


def test_code_calls_a_broadcast_a_broadcast():
    found = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for path in _modules(REPO / "platform", REPO / "tenants")
        for line, name in _old_names(path.read_text(encoding="utf-8"))
    ]
    assert not found, "\n".join(found)


def test_the_name_scan_reads_identifiers_not_strings():
    source = """
bulk = BulkSend.objects.get(pk=1)  # a bulk send
history.record(action="bulk_send.created", target=("bulk_send", bulk.pk))
key = f"bulk:{pk}:"
bulk_id = 3
"""
    assert _old_names(source) == [(2, "bulk"), (2, "BulkSend"), (3, "bulk")]

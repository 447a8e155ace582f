"""Tests mirror the source: ``tests/<app>/test_<module>.py`` tests ``<app>/<module>.py``
(``test_<module>_<aspect>.py`` one side of it; a package's module as ``test_<module>`` or
``test_<package>_<module>``; a command as ``test_<command>_command``). Besides tests, a
test package holds ``conftest.py`` (fixtures) and ``helpers.py`` (plain functions) only,
and no test module imports another.
A test that checks several modules at once is named below, with the reason."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
SOURCE_ROOTS = (ROOT / "platform", ROOT / "tenants")
# Test packages whose source is not an app of that name: the sandbox's emulators.
SOURCE_OF = {
    "sandbox": ROOT / "sandbox" / "telegram",
    "sandbox/provider": ROOT / "sandbox" / "provider",
    "sandbox_x": ROOT / "sandbox" / "x",
    "provisioner": ROOT / "provisioner",
    "helm": ROOT / "helm",  # the chart's checker (helm/check.py)
}

# Cross-cutting: one behaviour through several modules or apps, not one module's test.
CROSS_CUTTING = {
    "test_admin.py": "every app's Django admin",
    "test_bench_smoke.py": "the benchmarks in bench/",
    "test_dockerfile.py": "the Dockerfile: what it copies, runs and leaves out",
    "test_isolation.py": "tenant isolation across every app",
    "test_layering.py": "imports between the apps",
    "test_layout.py": "this file: the tests' own layout",
    "test_schema_pool.py": "the suite's pooled tenant schemas (tests/conftest.py)",
    "test_service_policy.py": "tests/service_policy.py, the suite's skip policy",
    "test_types.py": "the type checker over platform/ and tenants/",
    "accounts/test_permissions_matrix.py": "every API operation's access rule",
    "botruntime/test_community_jobs.py": "community's jobs run by the runtime",
    "botruntime/test_platform_jobs.py": "history's and the runtime's jobs run by it",
    "botruntime/test_exactly_once.py": "a crash between handler, buffers and dedupe",
    "botruntime/test_tenant_resolution.py": "context and selectors resolving an update",
    "community/test_bot_ownership.py": "handlers and services of several bots in one chat",
    "community/test_revocations.py": "accounts' revocations through community's handlers",
    "community/test_structure.py": "where community's code lives",
    "config/test_hot_path.py": "the API's hot path through middleware and accounts",
    "config/test_schemathesis.py": "the whole API fuzzed against its schema",
    "helm/test_chart.py": "the chart's templates (helm/bragabot), rendered through helm/check.py",
    "history/test_append_only.py": "the audit trigger (a migration) against raw SQL",
    "history/test_audit_job_errors.py": "a dead job's traceback in the audit API",
    "notifications/test_migrations.py": "a migration's round trip",
    "notifications/test_structure.py": "where the notifications code lives",
    "sandbox/test_spec.py": "every method and object against the published Bot API",
    "tenancy/test_caches.py": "the host cache (middleware) and bot-token cache (selectors)",
    "tenancy/test_unreadable_tokens.py": "a bad token through encryption, tenancy, accounts",
}
# Non-test files a test package may hold besides conftest.py and helpers.py.
SUPPORT_FILES = {
    "accounts/sample_urls.py": "a URLconf the API walker test loads",
    "botruntime/runbots_once.py": "runbots with a crash point, started as a process",
}


def _source_dir(app: str) -> Path | None:
    if app in SOURCE_OF:
        return SOURCE_OF[app]
    return next((root / app for root in SOURCE_ROOTS if (root / app).is_dir()), None)


def _module_names(source: Path) -> set[str]:
    """What a test of each module of ``source`` may be called (without ``test_``)."""
    names = set()
    for path in source.rglob("*.py"):
        parts = [p for p in path.relative_to(source).with_suffix("").parts if p != "__init__"]
        if not parts or "migrations" in parts:
            continue
        if parts[:2] == ["management", "commands"] and len(parts) == 3:
            names.add(f"{parts[2]}_command")
        names.update({parts[-1], "_".join(parts)})
    return names


def _mirrors(stem: str, names: set[str]) -> bool:
    return any(stem == name or stem.startswith(f"{name}_") for name in names)


def layout_problems(tests: Path = TESTS) -> list[str]:
    problems = []
    for path in sorted(tests.rglob("*.py")):
        rel = path.relative_to(tests).as_posix()
        if "/" not in rel:
            if path.name.startswith("test_") and rel not in CROSS_CUTTING:
                problems.append(f"{rel}: a test of one module belongs in tests/<app>/")
            continue
        app = rel.split("/", 1)[0]
        if path.name in {"__init__.py", "conftest.py", "helpers.py"} or rel in SUPPORT_FILES:
            continue
        if not path.name.startswith("test_"):
            problems.append(f"{rel}: helpers go in {app}/helpers.py, fixtures in conftest.py")
            continue
        if rel in CROSS_CUTTING:
            continue
        package = path.parent.relative_to(tests).as_posix()
        source = _source_dir(package if package in SOURCE_OF else app)
        if source is None:
            problems.append(f"{rel}: no app {app} in platform/, tenants/ or sandbox/")
        elif not _mirrors(path.stem.removeprefix("test_"), _module_names(source)):
            problems.append(f"{rel}: no module {path.stem.removeprefix('test_')} in {app}")
    return problems


def test_each_test_module_mirrors_a_source_module():
    assert layout_problems() == []


def imports_of_test_modules(tests: Path = TESTS) -> list[str]:
    """Imports of another test module: what two test modules share belongs in a helpers.py."""
    found = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_"):
                    found.append(f"{path.relative_to(tests).as_posix()} imports {name}")
    return found


def test_no_test_module_imports_another():
    assert imports_of_test_modules() == []


def test_every_named_exception_still_exists():
    stale = [rel for rel in {**CROSS_CUTTING, **SUPPORT_FILES} if not (TESTS / rel).exists()]
    # test_types.py arrives with the type checker; the rest must be real files.
    assert [rel for rel in stale if rel != "test_types.py"] == []


def test_the_check_names_a_misplaced_test_and_a_stray_helper(tmp_path):
    (tmp_path / "community").mkdir()
    for name in ("test_captcha.py", "test_services_moderation.py", "test_leaderboards.py"):
        (tmp_path / "community" / name).touch()
    (tmp_path / "community" / "support.py").touch()
    (tmp_path / "test_groups.py").touch()
    assert layout_problems(tmp_path) == [
        "community/support.py: helpers go in community/helpers.py, fixtures in conftest.py",
        "community/test_leaderboards.py: no module leaderboards in community",
        "test_groups.py: a test of one module belongs in tests/<app>/",
    ]

"""A test skipped for a missing service is a failure when REQUIRE_SERVICES is set (CI),
and only such a skip: a test skipped for another reason stays skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = """
import pytest
from tests.service_policy import skip_service_missing

@pytest.fixture
def redis():
    skip_service_missing("Redis", "nothing answers")

def test_needs_redis(redis):
    pass

def test_not_applicable_yet():
    pytest.skip("nothing to check yet")
"""


# The plugin alone: no Django, no project configuration.
PYTEST = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:django", "-c", os.devnull]


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    return subprocess.run(
        [*PYTEST, "-p", "tests.service_policy", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=ROOT,
        # Installed plugins (schemathesis, playwright, ...) are not loaded: seconds saved.
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "REQUIRE_SERVICES": "",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_service_is_a_skip_on_a_developer_machine(tmp_path):
    done = _run(tmp_path)
    assert done.returncode == 0 and "2 skipped" in done.stdout


def test_a_missing_service_fails_when_services_are_required(tmp_path):
    done = _run(tmp_path, REQUIRE_SERVICES="1")
    assert done.returncode == 1
    assert "1 skipped, 1 error" in done.stdout  # the fixture's skip fails the setup
    assert "REQUIRE_SERVICES is set, yet a test skipped: service missing: Redis" in done.stdout

"""Tests that need a service this machine may lack (Redis, Chromium) skip without it;
with ``REQUIRE_SERVICES=1`` (what ``.ci/run`` sets) such a skip is a failure, so CI
cannot pass by running fewer tests. A pytest plugin, loaded by tests/conftest.py."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

MARK = "service missing:"


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}


def skip_service_missing(service: str, why: str) -> NoReturn:
    """Skip the current test because ``service`` is not here (a failure under CI)."""
    pytest.skip(f"{MARK} {service}: {why}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    if report.skipped and services_required() and MARK in str(report.longrepr):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"REQUIRE_SERVICES is set, yet a test skipped: {str(reason).removeprefix('Skipped: ')}"
        )
    return report

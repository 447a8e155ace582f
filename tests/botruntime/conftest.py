"""Fixtures for the bot runtime: job kinds registered for one test, and committed rows
for tests that need several database connections."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from botruntime import tasks


@pytest.fixture
def job_kind(monkeypatch):
    """``job_kind(name, func=None, **options)`` registers a job kind for this test only.
    The default function appends its call to the returned list."""

    def register(
        name: str, func: Callable[..., Any] | None = None, **options: Any
    ) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []

        def record(*, tenant: Any, payload: dict) -> None:
            calls.append({"tenant": tenant, "payload": payload, "schema": connection.schema_name})

        kind = tasks.JobKind(name, func or record, **options)
        monkeypatch.setitem(tasks._REGISTRY, name, kind)
        return calls

    return register


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Database access outside the test transaction: what a test writes is committed and
    seen by other connections (threads). The jobs it leaves are deleted afterwards."""
    from botruntime.models import Job

    with django_db_blocker.unblock():
        yield
        Job.objects.all().delete()
        connection.close()


def ago(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)

"""Fixtures for the bot runtime: job kinds registered for one test, committed work on
other connections (``elsewhere``), and bots and people on the sandbox Telegram (``tg``).
helpers.py runs a runtime around a test scenario (``serve``)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from config import job_registry
from tests.helpers import tenant_bot_token


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

        kind = job_registry.JobKind(name, func or record, **options)
        monkeypatch.setitem(job_registry._REGISTRY, name, kind)
        return calls

    return register


def _forget_committed() -> None:
    from botruntime.models import Job, ProcessedUpdate

    Job.objects.all().delete()
    ProcessedUpdate.objects.all().delete()


@pytest.fixture
def elsewhere(db):
    """``elsewhere(func, *args)`` runs ``func`` on another thread, with its own database
    connection outside the test's transaction: what it writes is committed, as another
    runtime's work would be. The jobs and updates committed are deleted afterwards."""

    def run(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = func(*args, **kwargs)
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                connection.close()

        thread = threading.Thread(target=target)
        thread.start()
        thread.join(60)
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    yield run
    run(_forget_committed)


# ---- a tenant's bot and people on the sandbox Telegram (``tg``, tests/sandbox_fixtures.py)
_ids = itertools.count(1)


@pytest.fixture
def bot_community(make_tenant, tg):
    """``bot_community()``: a tenant whose bot exists on the sandbox; (tenant, bot id)."""

    def make(**kwargs: Any) -> tuple[Any, int]:
        tenant = make_tenant(**kwargs)
        token = tenant_bot_token(tenant)
        tg.add_bot(token, username=f"{tenant.slug.replace('-', '_')}_bot", first_name=tenant.name)
        return tenant, int(token.split(":", 1)[0])

    return make


@pytest.fixture
def person(tg):
    """``person(name)``: a Telegram user on the sandbox; returns its id."""

    def make(name: str = "alice") -> int:
        user_id = 6_000_000 + next(_ids)
        tg.add_user(user_id, name.title(), username=name, language_code="en")
        return user_id

    return make

"""Fixtures for the bot runtime: job kinds registered for one test, committed work on
other connections (``elsewhere``), the sandbox Telegram with bots and people
in it, and ``serve`` to run a runtime around a test scenario."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from config import job_registry
from tests.conftest import tenant_bot_token


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


# ---- the sandbox Telegram and a runtime driven from the test's thread ------------------
_ids = itertools.count(1)


@pytest.fixture(scope="session")
def sandbox_server():
    from sandbox.telegram import Limits, SandboxTelegram

    # Webhook retries come fast here (Telegram waits longer): the retry test stays short.
    server = SandboxTelegram(limits=Limits.off(), webhook_backoff=(0.05, 0.2))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tg(sandbox_server, settings):
    """The sandbox Telegram, empty, with the platform pointed at it."""
    sandbox_server.reset()
    settings.TELEGRAM_API_BASE = sandbox_server.base_url
    return sandbox_server


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


def serve(runtime: Any, scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Start ``runtime``, run ``scenario``, stop it. ``async_to_sync`` keeps this thread
    serving the runtime's ``sync_to_async`` calls, so handlers, dedupe and jobs see the
    test's transaction."""

    async def main() -> Any:
        await runtime.start()
        try:
            return await scenario()
        finally:
            await runtime.stop()

    return async_to_sync(main)()


async def sent(tg: Any, bot_id: int, chat_id: int, count: int = 1, timeout: float = 10) -> list:
    """The bot's messages in ``chat_id`` once there are ``count`` of them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        messages = tg.sent(bot_id, chat_id)
        if len(messages) >= count:
            return messages
        if loop.time() > deadline:
            raise AssertionError(f"bot {bot_id} sent {messages!r} to {chat_id}, wanted {count}")
        await asyncio.sleep(0.02)

"""Plain helpers for every test package: bot tokens, signed initData and an API client
on a tenant's domain, a tenant's bot on the sandbox Telegram and a python-telegram-bot
Application that processes the updates the sandbox queued. Fixtures live in conftest.py
(the sandbox's in sandbox_fixtures.py); the helpers of one app in its own helpers.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from rest_framework.test import APIClient
from telegram import Update
from telegram.ext import Application, BaseHandler
from telegram.request import BaseRequest

from accounts.initdata import sign_hmac


def bot_token_for(n: int) -> str:
    return f"{700000000 + n}:AAH{n:05d}testtoken-for-bragabot-suite-x"


def tenant_bot_token(tenant) -> str:
    from tenancy.selectors import tenant_bots

    return tenant_bots(tenant=tenant)[0][1]


def init_data_for(
    tenant,
    *,
    user_id: int = 1001,
    username: str = "alice",
    auth_date: int | None = None,
    token: str | None = None,
    **user_fields: Any,
) -> str:
    user = {
        "id": user_id,
        "first_name": username.title(),
        "username": username,
        "language_code": "en",
        **user_fields,
    }
    return sign_hmac(
        {
            "auth_date": str(auth_date or int(time.time())),
            "query_id": "AAE-test",
            "user": json.dumps(user, separators=(",", ":")),
        },
        token or tenant_bot_token(tenant),
    )


class TenantClient(APIClient):
    """An API client on a tenant's domain, authenticated as one Telegram user."""

    def __init__(self, tenant, *, user_id: int = 1001, username: str = "alice", **kwargs):
        super().__init__()
        self.tenant = tenant
        self.user_id = user_id
        self.username = username
        self.defaults["HTTP_HOST"] = tenant.domains.first().domain
        self.credentials(
            HTTP_AUTHORIZATION="tma "
            + init_data_for(tenant, user_id=user_id, username=username, **kwargs)
        )


def group_on_sandbox(
    tg,
    tenant,
    *,
    owner: dict,
    chat_id: int,
    title: str = "Fans",
    bot_rights: dict | None = None,
) -> dict:
    """The tenant's bot on the sandbox Telegram, administering (with ``bot_rights``) the
    supergroup ``chat_id`` that ``owner`` created, bound to the tenant as adding the bot
    binds it (the owner manages the community). Returns the bot."""
    from community.services import group_bind_on_bot_added

    bot = tg.add_bot(tenant_bot_token(tenant), username=f"{tenant.slug.replace('-', '_')}_bot")
    tg.add_group(chat_id, title=title)
    tg.set_member(chat_id, owner["id"], "creator")
    tg.set_member(chat_id, bot["id"], "administrator", **(bot_rights or {}))
    group_bind_on_bot_added(
        tenant=tenant,
        bot_id=bot["id"],
        chat_id=chat_id,
        title=title,
        added_by_telegram_id=owner["id"],
    )
    return bot


def bot_id_of(tenant) -> int:
    """The Telegram id of the tenant's (first) bot."""
    return int(tenant_bot_token(tenant).split(":", 1)[0])


def on_sandbox(tg, tenant) -> int:
    """Register the tenant's bot with the sandbox; returns its id."""
    tg.add_bot(tenant_bot_token(tenant), username=f"{tenant.slug.replace('-', '_')}_bot")
    return bot_id_of(tenant)


def sandbox_application(
    tg,
    token: str,
    handlers: Iterable[BaseHandler | tuple[BaseHandler, int]],
    *,
    request: BaseRequest | None = None,
) -> Application:
    """The bot ``token`` as a python-telegram-bot Application on the sandbox Telegram, with
    ``handlers`` (each a handler or a ``(handler, group)`` pair) and no updater: the test
    hands it the updates (``application_process``)."""
    builder = Application.builder().token(token).base_url(f"{tg.base_url}/bot")
    if request is not None:
        builder = builder.request(request)
    application = builder.updater(None).build()
    for item in handlers:
        handler, group = item if isinstance(item, tuple) else (item, 0)
        application.add_handler(handler, group)
    return application


def application_process(application: Application, *payloads: dict) -> None:
    """``application`` processes ``payloads`` (updates the sandbox queued), in order.
    ``async_to_sync`` drives it, so the handlers' ``sync_to_async`` calls run back on the
    test's thread, inside its database transaction."""

    async def run() -> None:
        async with application:
            for payload in payloads:
                await application.process_update(Update.de_json(payload, application.bot))

    async_to_sync(run)()


class Clock:
    """A clock for the caches' ``clock``: time moves only when a test sets ``now``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# The type checker as ``make lint`` runs it. The Django plugin imports config.settings,
# which never connects: any database URL does (unset, the settings would start the
# embedded server).
MYPY_ENVIRONMENT = {
    "BRAGABOT_ENV": "development",
    "DATABASE_URL": "postgresql://type-check.invalid/unused",
}


class MypyRun:
    """One run of the type checker for the whole test session, shared by the session's
    processes (pytest-xdist workers): its output and exit status go to files in
    ``directory``, named after the session, so the worker whose test reads them need not
    be the one that started it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.output = directory / "output"
        self.status = directory / "status"

    def start(self) -> None:
        """Start mypy unless a process of this session already did (the directory is
        the claim: creating it succeeds once)."""
        try:
            self.directory.mkdir(parents=True)
        except FileExistsError:
            return
        # The status file appears, whole, only once mypy has exited.
        script = '"$0" -m mypy > "$1" 2>&1; echo $? > "$2.part" && mv "$2.part" "$2"'
        subprocess.Popen(
            ["sh", "-c", script, sys.executable, str(self.output), str(self.status)],
            cwd=Path(__file__).resolve().parents[1],
            env={**os.environ, **MYPY_ENVIRONMENT},
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the worker that started it, if need be
        )

    def result(self, timeout: float) -> tuple[int, str]:
        """(exit status, output) once mypy has exited; started here if nobody had."""
        self.start()
        deadline = time.monotonic() + timeout
        while not self.status.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"mypy did not finish within {timeout:g} s")
            time.sleep(0.2)
        return int(self.status.read_text()), self.output.read_text()


def mypy_run() -> MypyRun:
    """This test session's run (``BRAGABOT_TEST_RUN`` names the session; the root conftest
    sets it in the process that starts the workers)."""
    session = os.environ.get("BRAGABOT_TEST_RUN") or f"pid{os.getpid()}"
    return MypyRun(Path(tempfile.gettempdir()) / f"bragabot-mypy-{session}")


@contextmanager
def scratch_schema(name: str, insert_sql: str) -> Iterator[int]:
    """A tenant schema ``name`` from the template, committed outside any test transaction
    (so several connections can lock and write it), with one row inserted by
    ``insert_sql`` (``{schema}`` in it is the name; ``RETURNING id``): yields that id and
    drops the schema afterwards. Call it with the database unblocked."""
    from django.db import connection

    from tenancy.schema_template import schema_create_from_template

    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    schema_create_from_template(name)
    try:
        with connection.cursor() as cursor:
            cursor.execute(insert_sql.format(schema=name))
            (pk,) = cursor.fetchone()
        yield pk
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def until(check: Any, timeout: float = 30.0) -> Any:
    """What ``check()`` returns once it is truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")

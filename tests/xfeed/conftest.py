"""X feed fixtures: ``xsim``, a sandbox X on a clock the test moves (a module's own
server, emptied per test, the platform's reads pointed at it with an app token); and
``feed``, a community whose bot is on the sandbox Telegram with a bound group that has
forwarding and mentions switched on (``Feed``), to follow accounts and add rules in.
For the admin surface: ``x``, the shared sandbox X (``x_server``, on the real clock)
emptied, with the platform's app token and the project's accounts; ``bound_group``, a
group bound to a community; ``scene``, a bound group on the sandbox Telegram whose bot
runs the handlers (``GroupScene``). The KOL tests' own: ``kol_x``, a sandbox X on
``kol_clock`` (a ManualClock of the module, which a module may start elsewhere), emptied
per test with the platform's reads pointed at it; they move the clock so that a week of
snapshots runs in seconds."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from community.models import Group
from community.telegram import handlers as community_handlers
from sandbox.x import Limits, ManualClock, SandboxX
from tenancy.services import chat_bind
from tests.helpers import (
    application_process,
    group_on_sandbox,
    sandbox_application,
    tenant_bot_token,
)
from tests.xfeed.helpers import APP_TOKEN, KOL_APP_TOKEN, PLATFORM_APP_TOKEN, Feed, make_feed
from xclient.reader import PLATFORM_APP
from xfeed.telegram import handlers as xfeed_handlers

_chats = itertools.count(1)


@pytest.fixture(scope="module")
def xsim_server(request) -> Iterator[SandboxX]:
    server = SandboxX(
        limits=getattr(request.module, "X_LIMITS", None) or Limits.off(), clock=ManualClock()
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def xsim(xsim_server, settings) -> SandboxX:
    xsim_server.reset()
    xsim_server.add_app(APP_TOKEN)
    settings.X_API_BASE, settings.X_BEARER_TOKEN = xsim_server.base_url, APP_TOKEN
    return xsim_server


@pytest.fixture
def feed(make_tenant, tg, xsim):
    """``feed(features=...)``: a community with a bound group (``Feed``)."""

    def make(**kwargs) -> Feed:
        return make_feed(make_tenant(), tg, xsim, **kwargs)

    return make


@pytest.fixture
def x(x_server, settings) -> SandboxX:
    """The sandbox X, emptied, with the platform's app token and two accounts."""
    x_server.reset()
    x_server.add_app(APP_TOKEN)
    x_server.add_account("project", name="The Project")
    x_server.add_account("founder", name="Founder")
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, APP_TOKEN
    return x_server


@pytest.fixture
def platform_x(x_server, settings) -> SandboxX:
    """The sandbox X, emptied, answering the platform's own app (``PLATFORM_APP``: the one
    filtered stream's rules and the shared poller's searches)."""
    x_server.reset()
    x_server.add_app(PLATFORM_APP_TOKEN, app_id=PLATFORM_APP)
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, PLATFORM_APP_TOKEN
    return x_server


@pytest.fixture
def bound_group():
    """``bound_group(tenant)``: a group bound to ``tenant`` (as binding leaves it, without
    asking Telegram); returns its chat id."""

    def make(tenant, *, title: str = "Fans") -> int:
        chat_id = -1_007_000_000_000 - next(_chats)
        chat_bind(tenant=tenant, chat_id=chat_id, title=title)
        with tenant_context(tenant):
            Group.objects.create(chat_id=chat_id, title=title)
        return chat_id

    return make


@dataclass
class GroupScene:
    """A community whose bot administers a supergroup on the sandbox Telegram, bound by
    its owner (so the owner is its admin and manages settings), and an Application with
    the handlers the runtime would host (community's first, then xfeed's)."""

    tg: Any
    tenant: Any
    bot_id: int
    chat_id: int
    owner: dict
    application: Any

    def say(self, user: dict, text: str, **extra: Any) -> list[str]:
        """``user`` writes ``text`` in the group; the bot handles it. Returns the texts
        the bot sent in the group meanwhile."""
        before = len(self.tg.sent(self.bot_id, self.chat_id))
        update = self.tg.send_message(self.bot_id, self.chat_id, user["id"], text, **extra)
        application_process(self.application, update)
        return [m["text"] for m in self.tg.sent(self.bot_id, self.chat_id)[before:]]


@pytest.fixture
def scene(make_tenant, tg) -> GroupScene:
    n = next(_chats)
    owner = tg.add_user(7_100_000 + n, "Olga", username=f"olga{n}")
    tenant = make_tenant(owner_telegram_id=owner["id"])
    chat_id = -1_007_100_000_000 - n
    bot = group_on_sandbox(tg, tenant, owner=owner, chat_id=chat_id)
    application = sandbox_application(
        tg, tenant_bot_token(tenant), [*community_handlers(), *xfeed_handlers()]
    )
    return GroupScene(
        tg=tg,
        tenant=tenant,
        bot_id=bot["id"],
        chat_id=chat_id,
        owner=owner,
        application=application,
    )


@pytest.fixture(scope="module")
def kol_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def kol_x_server(kol_clock: ManualClock) -> Iterator[SandboxX]:
    server = SandboxX(clock=kol_clock)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def kol_x(kol_x_server: SandboxX, settings) -> SandboxX:
    kol_x_server.reset()
    kol_x_server.add_app(KOL_APP_TOKEN)
    settings.X_API_BASE, settings.X_BEARER_TOKEN = kol_x_server.base_url, KOL_APP_TOKEN
    return kol_x_server

"""Wallet fixtures.

- Tenants: the ledger lives in the public schema and needs a tenant's row only, so in a
  module that sets ``LEDGER_ONLY = True`` ``make_tenant`` (and the root ``tenant``, which
  uses it) inserts the row without building a schema (the schema build costs about half
  a second per test); elsewhere (API tests) tenants are whole.
- One sandbox payment provider for the session (reset per test) whose deliveries land on
  a recording receiver, the platform configured to use it; a bound group of a tenant.
- For the read API: real communities, and two of them apart (``two_communities``).
- Stars deposits, on the sandbox Telegram (``tg``): people, and a community whose bot
  administers a group bound to it (``stars_group``); staff who hear platform alerts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.provider import SandboxProvider
from tenancy.models import Tenant
from tenancy.services import chat_bind, tenant_create
from tests.botruntime.helpers import bound_group as bind_in_sandbox
from tests.helpers import bot_token_for, tenant_bot_token
from tests.sandbox.provider.helpers import Receiver
from tests.wallet.helpers import (
    PROVIDER_API_KEY,
    PROVIDER_SECRET,
    StarsGroup,
    bind_group,
    deposit,
    group_account,
)
from wallet.providers.config import ProviderConfig

_counter = itertools.count(1)


@pytest.fixture
def make_tenant(request, make_tenant):
    if not getattr(request.module, "LEDGER_ONLY", False):
        return make_tenant

    def make() -> Tenant:
        n = next(_counter)
        return Tenant.objects.create(schema_name=f"wallet_t{n}", slug=f"wallet-{n}", name=f"W{n}")

    return make


@dataclass
class Provider:
    server: SandboxProvider
    receiver: Receiver

    def deliveries(self, count: int) -> list[Any]:
        """The first ``count`` deliveries the receiver got, once they arrived."""
        return self.receiver.wait_for(count)


@pytest.fixture(scope="session")
def provider_server() -> Iterator[Provider]:
    receiver = Receiver()
    server = SandboxProvider(
        api_key=PROVIDER_API_KEY,
        webhook_url=receiver.url,
        webhook_secret=PROVIDER_SECRET,
        webhook_backoff=(0.02, 0.08),
        webhook_max_attempts=1,
        default_outcome="succeeded",
    )
    server.start()
    yield Provider(server, receiver)
    server.stop()
    receiver.close()


@pytest.fixture
def provider(provider_server: Provider, settings) -> Provider:
    """The session's provider, emptied, the platform pointed at it."""
    provider_server.server.reset()
    provider_server.server.wait_idle()
    with provider_server.receiver._changed:
        provider_server.receiver.received.clear()
    settings.WALLET_PROVIDERS = {
        "sandbox": ProviderConfig(
            name="sandbox",
            adapter="sandbox",
            base_url=provider_server.server.base_url,
            api_key=PROVIDER_API_KEY,
            webhook_secret=PROVIDER_SECRET,
        )
    }
    settings.WALLET_WITHDRAWAL_PROVIDER = ""
    return provider_server


@pytest.fixture
def bound_group(db):
    """``bound_group(tenant, chat_id)``: the chat bound to the tenant; returns chat_id."""

    def make(tenant, chat_id: int) -> int:
        chat_bind(tenant=tenant, chat_id=chat_id, title=f"Group {chat_id}", bot=None)
        return chat_id

    return make


_ids = itertools.count(1)


@pytest.fixture
def person(tg):
    """``person(name)``: a Telegram user on the sandbox; returns its id."""

    def make(name: str = "alice") -> int:
        user_id = 7_100_000 + next(_ids)
        tg.add_user(user_id, name.title(), username=f"{name}{user_id}")
        return user_id

    return make


@pytest.fixture
def stars_group(make_tenant, tg, person):
    """``stars_group()``: a community, its bot on the sandbox, a group bound through it
    whose creator (the community's owner, so holding manage_funds) is ``admin``."""

    def make(**kwargs) -> StarsGroup:
        tenant = make_tenant(**kwargs)
        token = tenant_bot_token(tenant)
        tg.add_bot(token, username=f"{tenant.slug.replace('-', '_')}_bot", first_name=tenant.name)
        bot_id = int(token.split(":", 1)[0])
        admin = person("admin")
        chat_id = bind_in_sandbox(tg, tenant, bot_id, admin, "Moon Group")
        return StarsGroup(tg=tg, tenant=tenant, bot_id=bot_id, chat_id=chat_id, admin=admin)

    return make


PLATFORM_BOT_ID = 690_000_777


@pytest.fixture
def platform_staff(db):
    """A staff user who started the platform bot in private: platform alerts reach them."""
    from accounts.services import user_start, user_touch
    from tenancy.selectors import tenant_get

    profile = {"id": 4_070_001, "username": "ops", "first_name": "Ops"}
    staff = user_touch(profile=profile)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    user_start(
        tenant=tenant_get(slug="public"), profile=profile, bot_id=PLATFORM_BOT_ID, private_chat=True
    )
    return staff


@pytest.fixture
def make_community(db):
    """Real communities (schema, domain, bot), as the API serves them: the wallet's
    read API tests call it on a tenant's domain with initData signed by its bot."""

    def make() -> Tenant:
        n = next(_counter)
        return tenant_create(
            slug=f"wallet-api-{n}",
            name=f"Wallet API {n}",
            kind="group",
            domain=f"wallet-api-{n}.test",
            bot_token=bot_token_for(90000 + n),
        )

    return make


@pytest.fixture
def community(make_community) -> Tenant:
    return make_community()


@pytest.fixture
def two_communities(make_community, user_with_role):
    """``two_communities(chat, admin=, b_user=, b_role=, funds=(currency, amount))``: a
    community A whose ``admin`` manages the funds of its bound group ``chat``, and a community
    B whose bound group (``chat - 1``) holds ``funds`` and where ``b_user`` holds ``b_role``
    (no manage_funds): for the API's checks that one tenant never reads another's funds.
    Returns A, B and B's chat id."""

    def make(
        chat: int,
        *,
        admin: int,
        b_user: int,
        b_role: str,
        funds: tuple[str, int],
        b_title: str = "Funds group",
    ) -> tuple[Tenant, Tenant, int]:
        a, b = make_community(), make_community()
        user_with_role(a, "admin", user_id=admin)
        user_with_role(b, b_role, user_id=b_user)
        bind_group(a, chat)
        b_chat = bind_group(b, chat - 1, title=b_title)
        currency, amount = funds
        deposit(b, group_account(b, b_chat, currency), amount)
        return a, b, b_chat

    return make

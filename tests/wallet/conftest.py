"""Wallet fixtures.

- Tenants: the ledger lives in the public schema and needs a tenant's row only, so in a
  module that sets ``LEDGER_ONLY = True`` ``make_tenant`` (and the root ``tenant``, which
  uses it) inserts the row without building a schema (the schema build costs about half
  a second per test); elsewhere (API tests) tenants are whole.
- One sandbox payment provider for the session (reset per test) whose deliveries land on
  a recording receiver, the platform configured to use it; a bound group of a tenant."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.provider import SandboxProvider
from tenancy.models import Tenant
from tenancy.services import chat_bind
from tests.sandbox.provider.helpers import Receiver
from tests.wallet.helpers import PROVIDER_API_KEY, PROVIDER_SECRET
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

"""Wallet fixtures. The ledger lives in the public schema and needs a tenant's row only,
so ``tenant`` and ``make_tenant`` here insert the row without building a schema (the
service's schema build costs about half a second per test)."""

from __future__ import annotations

import itertools

import pytest

from tenancy.models import Tenant
from tenancy.services import tenant_create
from tests.helpers import bot_token_for

_counter = itertools.count(1)


@pytest.fixture
def make_tenant(db):
    def make() -> Tenant:
        n = next(_counter)
        return Tenant.objects.create(schema_name=f"wallet_t{n}", slug=f"wallet-{n}", name=f"W{n}")

    return make


@pytest.fixture
def tenant(make_tenant) -> Tenant:
    return make_tenant()


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

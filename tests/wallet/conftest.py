"""Wallet fixtures. The ledger lives in the public schema and needs a tenant's row only,
so ``tenant`` and ``make_tenant`` here insert the row without building a schema (the
service's schema build costs about half a second per test)."""

from __future__ import annotations

import itertools

import pytest

from tenancy.models import Tenant

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

"""``notifications.selectors.bound_group_binding_get``: a bound group's public binding,
or the same 404 as ``community.selectors.bound_group_get``."""

from __future__ import annotations

import pytest

from config.errors import ServiceError
from notifications.selectors import bound_group_binding_get
from tenancy.models import Tenant


def test_it_returns_the_tenants_binding_with_its_bot(make_tenant, group):
    tenant = make_tenant()
    chat_id = group(tenant, title="Ours")
    binding = bound_group_binding_get(tenant=tenant, chat_id=chat_id)
    assert (binding.chat_id, binding.title, binding.tenant_id) == (chat_id, "Ours", tenant.pk)
    assert binding.bot is not None and binding.bot.tenant_id == tenant.pk


def test_another_tenants_an_unknown_and_the_platforms_are_404(make_tenant, group):
    tenant, other = make_tenant(), make_tenant()
    theirs = group(other)
    public = Tenant.objects.get(schema_name="public")
    for owner, chat_id in ((tenant, theirs), (tenant, -1_004_500), (public, theirs)):
        with pytest.raises(ServiceError) as caught:
            bound_group_binding_get(tenant=owner, chat_id=chat_id)
        error = caught.value
        assert (error.status, error.code) == (404, "group_not_found")
        assert error.message == f"no group with chat id {chat_id} is bound to this community"

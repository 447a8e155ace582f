"""``community.selectors.bound_group_get``: the one lookup of a bound group by chat id."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from community.models import Group
from community.selectors import bound_group_get, group_bot_token
from config.errors import ServiceError
from tenancy.models import Tenant
from tenancy.services import chat_bind
from tests.helpers import bot_id_of, tenant_bot_token


def _make_group(tenant, chat_id: int, **fields) -> Group:
    chat_bind(tenant=tenant, chat_id=chat_id)
    with tenant_context(tenant):
        return Group.objects.create(chat_id=chat_id, bound_at=timezone.now(), **fields)


def _not_found(tenant, chat_id: int) -> ServiceError:
    with tenant_context(tenant), pytest.raises(ServiceError) as caught:
        bound_group_get(tenant=tenant, chat_id=chat_id)
    return caught.value


def test_it_returns_the_bound_group(make_tenant):
    tenant = make_tenant()
    group = _make_group(tenant, -1_004_100, title="Ours")
    with tenant_context(tenant):
        assert bound_group_get(tenant=tenant, chat_id=-1_004_100).pk == group.pk


def test_any_other_chat_is_the_same_404(make_tenant):
    """Never bound, unbound, or another tenant's: one answer, which tells none apart."""
    tenant, other = make_tenant(), make_tenant()
    _make_group(tenant, -1_004_201, is_active=False)
    _make_group(other, -1_004_202)
    for chat_id in (-1_004_200, -1_004_201, -1_004_202):
        error = _not_found(tenant, chat_id)
        assert (error.status, error.code) == (404, "group_not_found")
        assert error.message == f"no group with chat id {chat_id} is bound to this community"


def test_for_update_locks_the_row_and_a_plain_read_does_not(make_tenant):
    tenant = make_tenant()
    _make_group(tenant, -1_004_300)
    with tenant_context(tenant), transaction.atomic():
        for for_update, locks in ((False, False), (True, True)):
            with CaptureQueriesContext(connection) as queries:
                bound_group_get(tenant=tenant, chat_id=-1_004_300, for_update=for_update)
            assert ("FOR UPDATE" in queries[-1]["sql"]) is locks


def test_it_refuses_the_platform_and_a_foreign_schema(make_tenant):
    tenant, other = make_tenant(), make_tenant()
    public = Tenant.objects.get(schema_name="public")
    with pytest.raises(ServiceError) as caught:
        bound_group_get(tenant=public, chat_id=-1_004_400)
    assert caught.value.code == "not_a_community"
    with tenant_context(other), pytest.raises(RuntimeError, match="wrap the call"):
        bound_group_get(tenant=tenant, chat_id=-1_004_400)


def test_a_groups_bot_token_is_its_own_bots_else_any_of_the_communitys(make_tenant, fresh_caches):
    tenant = make_tenant()
    token = tenant_bot_token(tenant)
    assert group_bot_token(tenant=tenant, bot_id=bot_id_of(tenant)) == token
    assert group_bot_token(tenant=tenant, bot_id=None) == token  # the group's bot unknown
    bare = make_tenant(with_bot=False)
    with pytest.raises(ServiceError) as refused:
        group_bot_token(tenant=bare, bot_id=None)
    assert (refused.value.code, refused.value.status) == ("no_bot_token", 409)

"""The message path's per-process group config: kept for its TTL against changes made
elsewhere, forgotten now and on commit by changes made here."""

import pytest
from django_tenants.utils import tenant_context

from community.group_config import (
    CONFIGS,
    MISS,
    TTL_SECONDS,
    group_config,
    group_config_cached,
    group_config_forget,
)
from community.models import Group, GroupAdmin
from tests.helpers import Clock

CHAT = -100777


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    group_config_forget()
    monkeypatch.setattr(CONFIGS, "clock", clock)
    yield clock
    group_config_forget()


@pytest.fixture
def group(tenant):
    with tenant_context(tenant):
        return Group.objects.create(chat_id=CHAT, title="Before")


def _cached(tenant, chat_id=CHAT):
    return group_config_cached(schema_name=tenant.schema_name, chat_id=chat_id)


def test_a_change_made_elsewhere_shows_within_the_ttl(tenant, group, clock):
    assert _cached(tenant) is MISS
    assert group_config(tenant=tenant, chat_id=CHAT).title == "Before"
    assert group_config(tenant=tenant, chat_id=-1) is None  # not bound: kept as None
    assert _cached(tenant, -1) is None
    with tenant_context(tenant):  # another process: no signal reaches this one
        Group.objects.filter(pk=group.pk).update(title="After")

    clock.now += TTL_SECONDS - 0.01
    assert _cached(tenant).title == "Before"
    assert group_config(tenant=tenant, chat_id=CHAT).title == "Before"
    clock.now += 0.01
    assert _cached(tenant) is MISS and _cached(tenant, -1) is MISS
    assert group_config(tenant=tenant, chat_id=CHAT).title == "After"


def test_a_save_here_forgets_the_group_now_and_again_on_commit(
    tenant, group, clock, django_capture_on_commit_callbacks
):
    group_config(tenant=tenant, chat_id=CHAT)
    CONFIGS.set(("t_elsewhere", CHAT), None)  # another tenant's same chat id stays
    with django_capture_on_commit_callbacks(execute=True):
        with tenant_context(tenant):
            group.title = "After"
            group.save()
        assert _cached(tenant) is MISS
        # A message handled before the commit reads and keeps the old row.
        CONFIGS.set((tenant.schema_name, CHAT), "stale")
    assert _cached(tenant) is MISS
    assert group_config_cached(schema_name="t_elsewhere", chat_id=CHAT) is None
    assert group_config(tenant=tenant, chat_id=CHAT).title == "After"


def test_an_admin_sync_forgets_every_group_of_the_schema_only(
    tenant, group, clock, django_capture_on_commit_callbacks
):
    group_config(tenant=tenant, chat_id=CHAT)
    group_config(tenant=tenant, chat_id=-1)
    CONFIGS.set(("t_elsewhere", CHAT), None)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        GroupAdmin.objects.create(group=group, telegram_id=5, status="administrator")

    assert _cached(tenant) is MISS and _cached(tenant, -1) is MISS
    assert group_config_cached(schema_name="t_elsewhere", chat_id=CHAT) is None
    assert group_config(tenant=tenant, chat_id=CHAT).admin_ids == frozenset({5})

"""The host and bot-token caches: kept for their TTL against changes made elsewhere,
forgotten at once by this process's own changes."""

import pytest

from history.services import Actor
from tenancy.middleware import HOST_CACHE_SECONDS, HOSTS
from tenancy.models import Bot, Tenant
from tenancy.selectors import BOT_TOKENS, tenant_bots
from tenancy.services import bot_set_active, tenant_suspend
from tests.helpers import Clock


@pytest.fixture
def clock(monkeypatch, fresh_caches):
    clock = Clock()
    monkeypatch.setattr(HOSTS, "clock", clock)
    monkeypatch.setattr(BOT_TOKENS, "clock", clock)
    return clock


def test_a_status_changed_elsewhere_shows_on_the_host_within_its_ttl(tenant, client_for, clock):
    client = client_for(tenant)
    assert client.get("/api/v1/me").status_code == 200
    # Another process suspends it: this one keeps the host's answer for the TTL.
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.SUSPENDED)

    clock.now += HOST_CACHE_SECONDS - 0.01
    assert client.get("/api/v1/me").status_code == 200
    clock.now += 0.01
    response = client.get("/api/v1/me")
    assert response.status_code == 403 and response.json()["code"] == "tenant_suspended"


def test_a_status_changed_here_shows_on_the_host_at_once(
    tenant, client_for, clock, django_capture_on_commit_callbacks
):
    client = client_for(tenant)
    assert client.get("/api/v1/me").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        tenant_suspend(tenant=tenant, reason="unpaid")
    assert client.get("/api/v1/me").status_code == 403


def test_an_unknown_host_is_not_kept(db, client, clock):
    assert client.get("/api/v1/me", HTTP_HOST="nobody.test").status_code == 404
    assert "nobody.test" not in HOSTS  # a domain added a moment later is served at once


def test_a_tenants_bots_are_kept_until_the_ttl_or_a_change_made_here(
    make_tenant, clock, django_capture_on_commit_callbacks
):
    tenant, other = make_tenant(), make_tenant()
    bot = Bot.objects.get(tenant=tenant)
    assert [bot_id for bot_id, _ in tenant_bots(tenant=tenant)] == [bot.telegram_id]

    # Deactivated by another process: still served from memory for the TTL.
    Bot.objects.filter(pk=bot.pk).update(is_active=False)
    clock.now += 29.99
    assert len(tenant_bots(tenant=tenant)) == 1
    clock.now += 0.01
    assert tenant_bots(tenant=tenant) == []

    # Reactivated here: forgotten at once, and only this tenant's entry.
    tenant_bots(tenant=other)
    with django_capture_on_commit_callbacks(execute=True):
        bot_set_active(bot=bot, is_active=True, actor=Actor.system("test"))
    assert other.pk in BOT_TOKENS
    assert tenant.pk not in BOT_TOKENS
    assert len(tenant_bots(tenant=tenant)) == 1

"""``manage.py run``: its setup path makes the demo tenant, and makes a fresh one after
the demo was deleted."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tenancy.management.commands.run import DEFAULT_DEMO_BOT_TOKEN, DEMO_DOMAIN
from tenancy.models import Bot, Tenant
from tenancy.selectors import tenant_bots, tenant_for_domain
from tenancy.services import tenant_delete

DEMO_BOT = int(DEFAULT_DEMO_BOT_TOKEN.split(":", 1)[0])


@pytest.fixture
def run_setup(db, monkeypatch):
    """``run --no-serve`` as ``make run`` sets up, in the test's transaction (the standard
    executor migrates tenant schemas in this process). Returns what it printed."""
    monkeypatch.setenv("EXECUTOR", "standard")
    monkeypatch.delenv("DEMO_BOT_TOKEN", raising=False)

    def run() -> str:
        out = io.StringIO()
        call_command("run", "--no-serve", stdout=out)
        return out.getvalue()

    return run


def test_run_makes_a_fresh_demo_after_the_demo_was_deleted(run_setup):
    run_setup()
    first = tenant_for_domain(domain=DEMO_DOMAIN)
    assert first is not None and first.status == Tenant.Status.ACTIVE and first.slug == "demo"
    assert [bot for bot, _ in tenant_bots(tenant=first)] == [DEMO_BOT]
    assert f"demo tenant {first.slug!r} at {DEMO_DOMAIN} is ready" in run_setup()

    tenant_delete(tenant=first, confirm=first.slug)
    printed = run_setup()

    fresh = tenant_for_domain(domain=DEMO_DOMAIN)
    assert fresh is not None and fresh.pk != first.pk
    assert fresh.status == Tenant.Status.ACTIVE and fresh.slug == "demo-2"
    assert f"created the demo tenant {fresh.slug!r} at {DEMO_DOMAIN}" in printed
    assert Bot.objects.get(telegram_id=DEMO_BOT).tenant == fresh
    assert [bot for bot, _ in tenant_bots(tenant=fresh)] == [DEMO_BOT]
    first.refresh_from_db()
    assert first.status == Tenant.Status.DELETED and not first.bots.exists()

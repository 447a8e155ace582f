"""The X client's durable job: linked accounts' figures refreshed every hour (what is
older than a day), billed to the platform's own tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accounts.services import user_touch
from config.job_registry import job_kinds
from tenancy.services import public_tenant_ensure
from xclient.jobs import refresh_links
from xclient.models import Usage, XLink

APP_TOKEN = "platform-app-token"


def test_the_refresh_is_a_recurring_platform_job():
    kind = job_kinds()["xclient.links_refresh"]
    assert kind.every == timedelta(hours=1) and not kind.per_tenant


def test_a_run_refreshes_old_links_on_the_platform_s_bill(tenant, x_server, settings):
    x_server.reset()
    x_server.add_app(APP_TOKEN)
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, APP_TOKEN
    platform = public_tenant_ensure()
    made = x_server.add_account("renamed")
    old = datetime.now(UTC) - timedelta(days=2)
    user = user_touch(profile={"id": 9951, "username": "u", "first_name": "U"})
    XLink.objects.create(
        user=user, tenant=tenant, x_user_id=int(made["id"]), username="before",
        via="code", linked_at=old, refreshed_at=old,
    )  # fmt: skip
    refresh_links(tenant=None, payload={})
    assert XLink.objects.get().username == "renamed"
    assert Usage.objects.get(tenant=platform).user_reads == 1
    assert not Usage.objects.filter(tenant=tenant).exists()

"""A domain's root page (what "Open the app" leads to until the Mini App exists), and the
admin's titles."""

from __future__ import annotations

import html

from tenancy.models import Bot, Tenant
from tenancy.selectors import tenant_bot_username
from tenancy.services import bot_register

HOSTILE = '<script>alert("x")</script> & <b>Co</b>'


def _page(client, host: str) -> str:
    response = client.get("/", HTTP_HOST=host)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def test_a_community_root_names_the_community_its_bot_and_the_docs(make_tenant, client):
    tenant = make_tenant(name="Moon Club", with_bot=False)
    bot_register(tenant=tenant, token="5551234:" + "M" * 35, username="moonclub_bot")
    page = _page(client, tenant.domains.first().domain)
    assert "<h1>Moon Club</h1>" in page
    assert '<a href="https://t.me/moonclub_bot">@moonclub_bot</a>' in page
    assert '<a href="/api/docs/">' in page


def test_a_community_name_is_escaped(make_tenant, client):
    tenant = make_tenant(name=HOSTILE)
    page = _page(client, tenant.domains.first().domain)
    assert "<script>" not in page and "<b>Co</b>" not in page
    assert f"<h1>{html.escape(HOSTILE)}</h1>" in page


def test_a_community_without_its_own_bot_names_the_shared_bot(make_tenant, client):
    public = Tenant.objects.get(schema_name="public")
    Bot.objects.create(tenant=public, telegram_id=5550001, username="bragabot")
    tenant = make_tenant(with_bot=False)
    assert tenant_bot_username(tenant=tenant) == "bragabot"
    assert "@bragabot" in _page(client, tenant.domains.first().domain)


def test_a_bot_of_unknown_username_is_not_named(make_tenant, client):
    tenant = make_tenant()  # its bot registered without a username
    page = _page(client, tenant.domains.first().domain)
    assert "t.me/" not in page and "its Telegram bot" in page


def test_the_platform_root_says_what_bragabot_is(db, client):
    page = _page(client, "testserver")
    assert "<h1>Bragabot</h1>" in page and "platform for Telegram communities" in page
    assert '<a href="/api/docs/">' in page and '<a href="/admin/">' in page


def test_the_admin_is_titled_bragabot(client, admin_client):
    login = client.get("/admin/login/", HTTP_HOST="testserver").content.decode()
    assert "<title>Log in | Bragabot</title>" in login
    assert "Django administration" not in login
    index = admin_client.get("/admin/", HTTP_HOST="testserver").content.decode()
    assert "<title>Platform administration | Bragabot</title>" in index
    assert '<a href="/admin/">Bragabot</a>' in index
    assert "Django" not in index

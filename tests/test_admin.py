"""The Django admin (a superuser logged in with Django's test client): every change goes
through the services and writes the history entry the API or command path writes; bot
tokens never appear; the admin exists on the platform's domain only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Membership, TelegramUser
from accounts.services import membership_set_role
from history.models import Entry
from tenancy.models import Bot, ChatBinding, Domain, Tenant
from tests.helpers import TenantClient, tenant_bot_token

ADMIN_ACTOR = ("system", "admin:root")


pytestmark = pytest.mark.usefixtures("fresh_caches")


@pytest.fixture
def staff(db) -> Client:
    """A superuser's browser on the platform's own domain (the suite's public tenant)."""
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client(HTTP_HOST="testserver")
    client.force_login(root)
    return client


def _last(action: str, **filters: Any) -> Entry:
    entry = Entry.objects.filter(action=action, **filters).order_by("-id").first()
    assert entry is not None, f"no {action} entry"
    assert (entry.actor_type, entry.actor_id) == ADMIN_ACTOR
    return entry


def _post(client: Client, url: str, data: dict[str, Any]):
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def test_the_staff_flag_changes_through_the_service_and_is_audited(staff, user_with_role):
    user = user_with_role(None, "member", user_id=9401, username="eve")
    url = f"/admin/accounts/telegramuser/{user.pk}/change/"

    _post(staff, url, {"is_staff": "on", "username": "mallory"})

    user.refresh_from_db()
    assert (user.is_staff, user.username) == (True, "eve")  # the profile is read-only
    assert _last("user.staff_granted").target_id == "9401"
    _post(staff, url, {})
    user.refresh_from_db()
    assert user.is_staff is False
    assert _last("user.staff_revoked").target_id == "9401"
    # Saving without a change writes nothing.
    before = Entry.objects.count()
    _post(staff, url, {})
    assert Entry.objects.count() == before


def test_roles_change_through_the_service_with_the_same_entries(staff, tenant, user_with_role):
    user = user_with_role(tenant, "admin", user_id=9402)
    membership = Membership.objects.get(tenant=tenant, user=user)
    url = f"/admin/accounts/membership/{membership.pk}/change/"

    _post(staff, url, {"role": "moderator"})
    entry = _last("role.assigned", tenant=tenant)
    assert (entry.target_id, entry.data) == (
        "9402",
        {"role": "moderator", "from": "admin", "reason": "django admin"},
    )

    _post(staff, url, {"role": "member"})
    entry = _last("role.revoked", tenant=tenant)
    assert (entry.target_id, entry.data) == (
        "9402",
        {"role": "moderator", "reason": "django admin"},
    )
    assert Membership.objects.get(pk=membership.pk).role == "member"

    # The entry the service writes for any other caller has the same shape.
    other = user_with_role(tenant, "member", user_id=9403)
    membership_set_role(tenant=tenant, user=other, role="moderator", reason="django admin")
    service = Entry.objects.filter(action="role.assigned", target_id="9403").get()
    assert set(service.data) == set(entry.data) | {"from"}


def test_a_membership_added_in_the_admin_is_audited(staff, tenant, user_with_role):
    user = user_with_role(tenant, "member", user_id=9404)
    _post(
        staff,
        "/admin/accounts/membership/add/",
        {"user": user.pk, "tenant": tenant.pk, "role": "admin"},
    )
    assert Membership.objects.get(tenant=tenant, user=user).role == "admin"
    assert _last("role.assigned", tenant=tenant).data == {
        "role": "admin",
        "from": None,
        "reason": "django admin",
    }


def test_memberships_and_users_cannot_be_deleted_around_the_services(staff, tenant, user_with_role):
    user = user_with_role(tenant, "admin", user_id=9405)
    membership = Membership.objects.get(tenant=tenant, user=user)
    assert (
        staff.post(
            f"/admin/accounts/membership/{membership.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert (
        staff.post(f"/admin/accounts/telegramuser/{user.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    changelist = staff.get("/admin/accounts/membership/")
    assert b"delete_selected" not in changelist.content
    assert Membership.objects.filter(pk=membership.pk, role="admin").exists()


def test_domains_are_added_made_primary_and_removed_through_the_service(staff, tenant):
    primary = tenant.domains.get()
    _post(
        staff,
        "/admin/tenancy/domain/add/",
        {"domain": "Brand.Example.com", "tenant": tenant.pk},
    )
    added = Domain.objects.get(domain="brand.example.com")
    assert (added.tenant_id, added.is_primary) == (tenant.pk, False)
    assert _last("domain.added", tenant=tenant).target_id == "brand.example.com"
    # The new host serves the tenant at once (no stale host cache).
    me = TenantClient(tenant, user_id=9406).get("/api/v1/me", HTTP_HOST="brand.example.com")
    assert me.status_code == 200, me.content

    _post(staff, f"/admin/tenancy/domain/{added.pk}/change/", {"is_primary": "on"})
    assert Domain.objects.get(pk=added.pk).is_primary
    assert not Domain.objects.get(pk=primary.pk).is_primary
    assert _last("domain.primary_set", tenant=tenant).target_id == "brand.example.com"

    served = TenantClient(tenant, user_id=9406).get("/api/v1/me", HTTP_HOST=primary.domain)
    assert served.status_code == 200  # and the host is cached now
    _post(staff, f"/admin/tenancy/domain/{primary.pk}/delete/", {"post": "yes"})
    assert not Domain.objects.filter(pk=primary.pk).exists()
    assert _last("domain.removed", tenant=tenant).target_id == primary.domain
    gone = TenantClient(tenant, user_id=9406).get("/api/v1/me", HTTP_HOST=primary.domain)
    assert (gone.status_code, gone.json()["code"]) == (404, "tenant_not_found")


def test_the_primary_domain_is_not_removed_and_the_refusal_is_shown(staff, tenant):
    primary = tenant.domains.get()
    before = Entry.objects.count()
    response = staff.post(
        f"/admin/tenancy/domain/{primary.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert b"primary domain cannot be removed" in response.content
    assert Domain.objects.filter(pk=primary.pk).exists()
    assert Entry.objects.count() == before


def test_a_bot_is_deactivated_through_the_service_and_stops_authenticating(staff, tenant):
    bot = Bot.objects.get(tenant=tenant)
    client = TenantClient(tenant, user_id=9407)
    assert client.get("/api/v1/me").status_code == 200

    _post(staff, f"/admin/tenancy/bot/{bot.pk}/change/", {})

    assert Bot.objects.get(pk=bot.pk).is_active is False
    assert _last("bot.deactivated", tenant=tenant).target_id == str(bot.telegram_id)
    refused = client.get("/api/v1/me")
    assert (refused.status_code, refused.json()["code"]) == (401, "no_bot")
    _post(staff, f"/admin/tenancy/bot/{bot.pk}/change/", {"is_active": "on"})
    assert _last("bot.activated", tenant=tenant)
    assert client.get("/api/v1/me").status_code == 200


def test_a_bot_token_is_never_shown(staff, tenant):
    bot = Bot.objects.get(tenant=tenant)
    token = tenant_bot_token(tenant)
    secret = token.split(":", 1)[1]
    pages = [
        "/admin/tenancy/bot/",
        f"/admin/tenancy/bot/{bot.pk}/change/",
        f"/admin/tenancy/bot/{bot.pk}/history/",
        f"/admin/tenancy/bot/?q={bot.telegram_id}",
        f"/admin/tenancy/tenant/{tenant.pk}/change/",
        "/admin/tenancy/chatbinding/",
    ]
    for page in pages:
        response = staff.get(page)
        assert response.status_code == 200, page
        assert secret.encode() not in response.content, page
        assert bot.token_encrypted.encode() not in response.content, page
        assert b"token_encrypted" not in response.content, page


def test_tenants_are_suspended_and_resumed_through_the_service(staff, tenant):
    changelist = "/admin/tenancy/tenant/"
    _post(staff, changelist, {"action": "suspend", "_selected_action": [tenant.pk]})
    assert Tenant.objects.get(pk=tenant.pk).status == "suspended"
    assert _last("tenant.suspended", tenant=tenant).data == {
        "from": "active",
        "reason": "django admin",
    }
    _post(staff, changelist, {"action": "resume", "_selected_action": [tenant.pk]})
    assert Tenant.objects.get(pk=tenant.pk).status == "active"
    assert _last("tenant.resumed", tenant=tenant)


def test_tenant_fields_are_read_only(staff, tenant):
    _post(staff, f"/admin/tenancy/tenant/{tenant.pk}/change/", {"plan": "enterprise", "name": "X"})
    fresh = Tenant.objects.get(pk=tenant.pk)
    assert (fresh.plan, fresh.name) == (tenant.plan, tenant.name)


def test_the_admin_is_served_on_the_platform_domain_only(staff, tenant):
    """A tenant's domain is its owner's (DNS, certificates): no staff login there,
    suspended or not."""
    host = tenant.domains.first().domain
    assert staff.get("/admin/").status_code == 200
    response = staff.get("/admin/", HTTP_HOST=host)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    login = Client(HTTP_HOST=host).get("/admin/login/")
    assert login.status_code == 404
    _post(staff, "/admin/tenancy/tenant/", {"action": "suspend", "_selected_action": [tenant.pk]})
    response = staff.get("/admin/", HTTP_HOST=host)
    assert (response.status_code, response.json()["code"]) == (403, "tenant_suspended")
    assert staff.get("/admin/tenancy/tenant/").status_code == 200


def test_users_are_not_added_in_the_admin(staff):
    assert staff.get("/admin/accounts/telegramuser/add/").status_code == 403
    assert not TelegramUser.objects.exists()


def test_a_domain_the_service_refuses_is_not_added_and_the_reason_is_shown(staff, tenant):
    before = Entry.objects.count()
    response = staff.post(
        "/admin/tenancy/domain/add/",
        {"domain": "not a domain!", "tenant": tenant.pk},
        follow=True,
    )
    assert b"is not a valid domain name" in response.content
    assert not Domain.objects.filter(domain="not a domain!").exists()
    assert Entry.objects.count() == before


def test_tenant_profiles_are_visible_and_read_only(staff, tenant):
    forged = TenantClient(tenant, user_id=9408, username="forged_name")
    assert forged.get("/api/v1/me").status_code == 200
    listing = staff.get("/admin/accounts/tenantprofile/")
    assert listing.status_code == 200 and b"forged_name" in listing.content
    assert staff.get("/admin/accounts/tenantprofile/add/").status_code == 403


def test_chat_bindings_and_tenant_profiles_are_read_only(staff, tenant):
    """Their own flows write them (a bind in Telegram, a bot's initData): staff may look,
    never add, change or delete."""
    from accounts.models import TenantProfile
    from tenancy.services import chat_bind

    assert TenantClient(tenant, user_id=9409, username="said").get("/api/v1/me").status_code == 200
    profile = TenantProfile.objects.get(tenant=tenant, user__telegram_id=9409)
    binding = chat_bind(tenant=tenant, chat_id=-1_009_400_000_001, title="Fans")
    for page, row, data in (
        ("accounts/tenantprofile", profile, {"username": "changed"}),
        ("tenancy/chatbinding", binding, {"title": "changed"}),
    ):
        assert staff.get(f"/admin/{page}/add/").status_code == 403, page
        assert staff.post(f"/admin/{page}/{row.pk}/change/", data).status_code == 403, page
        assert staff.post(f"/admin/{page}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TenantProfile.objects.get(pk=profile.pk).username == "said"
    assert ChatBinding.objects.get(pk=binding.pk).title == "Fans"

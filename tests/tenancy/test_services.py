import pytest
from django.db import connection

from config.errors import ServiceError
from history.models import Entry
from history.services import SYSTEM
from tenancy.models import Bot, Domain, Tenant
from tenancy.services import (
    bot_placement_set,
    tenant_create,
    tenant_delete,
    tenant_resume,
    tenant_suspend,
)


def _schema_tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema=%s", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def test_create_builds_schema_domain_bot_and_audit(make_tenant):
    tenant = make_tenant("acme", kind="client")
    assert tenant.schema_name == "t_acme"
    assert {"community_group", "django_migrations"} <= _schema_tables("t_acme")
    assert Domain.objects.get(tenant=tenant).domain == "acme.test"
    bot = Bot.objects.get(tenant=tenant)
    assert "testtoken" not in bot.token_encrypted  # stored encrypted
    entry = Entry.objects.get(tenant=tenant, action="tenant.created")
    assert entry.data["slug"] == "acme"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"slug": "A!"}, "invalid_slug"),
        ({"slug": "public"}, "invalid_slug"),
        ({"kind": "brand"}, "invalid_kind"),
        ({"domain": "not a domain"}, "invalid_domain"),
        ({"bot_token": "nonsense"}, "invalid_bot_token"),
    ],
)
def test_create_rejects_bad_input_and_creates_nothing(db, kwargs, code):
    args = {"slug": "okslug", "name": "Ok", "kind": "group", "domain": "ok.test", **kwargs}
    before = Tenant.objects.count()
    with pytest.raises(ServiceError) as err:
        tenant_create(**args)
    assert err.value.code == code
    assert Tenant.objects.count() == before
    assert _schema_tables("t_okslug") == set()


def test_duplicate_slug_and_domain_are_refused(make_tenant):
    make_tenant("dup")
    with pytest.raises(ServiceError) as err:
        tenant_create(slug="dup", name="x", domain="other.test")
    assert err.value.code == "duplicate_slug"
    with pytest.raises(ServiceError) as err:
        tenant_create(slug="dup2", name="x", domain="dup.test")
    assert err.value.code == "duplicate_domain"


def test_suspend_resume_and_api_answers_403(make_tenant, client_for):
    tenant = make_tenant()
    client = client_for(tenant)
    assert client.get("/api/v1/me").status_code == 200
    tenant_suspend(tenant=tenant, reason="unpaid")
    response = client.get("/api/v1/me")
    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"
    tenant_resume(tenant=tenant)
    assert client.get("/api/v1/me").status_code == 200
    actions = list(
        Entry.objects.filter(tenant=tenant).order_by("id").values_list("action", flat=True)
    )
    assert actions[-2:] == ["tenant.suspended", "tenant.resumed"]


def test_delete_needs_confirmation_then_drops_schema(make_tenant, client_for):
    tenant = make_tenant("gone")
    with pytest.raises(ServiceError) as err:
        tenant_delete(tenant=tenant, confirm="yes")
    assert err.value.code == "confirmation_required"
    assert "community_group" in _schema_tables("t_gone")
    tenant_delete(tenant=tenant, confirm="gone")
    tenant.refresh_from_db()
    assert tenant.status == "deleted"
    assert _schema_tables("t_gone") == set()
    assert not Domain.objects.filter(tenant=tenant).exists()
    assert Entry.objects.filter(tenant=tenant, action="tenant.deleted").exists()


def test_create_names_the_first_owner_in_the_same_transaction(make_tenant, user_with_role):
    from accounts.selectors import user_get, user_role

    known = user_with_role(None, "member", user_id=7070, username="known")
    tenant = make_tenant(owner_telegram_id=7070)
    fresh = make_tenant(owner_telegram_id=7071)

    assert user_role(tenant=tenant, user=user_get(telegram_id=7070)) == "owner"
    assert user_get(telegram_id=7070).username == known.username == "known"  # profile kept
    assert user_role(tenant=fresh, user=user_get(telegram_id=7071)) == "owner"
    created = Entry.objects.get(tenant=tenant, action="tenant.created")
    assert created.data["owner_telegram_id"] == 7070
    assigned = Entry.objects.get(tenant=tenant, action="role.assigned")
    assert assigned.data["role"] == "owner" and assigned.target_id == "7070"


@pytest.mark.parametrize("owner", [0, -100123, "7070", True])
def test_create_refuses_an_owner_that_is_not_a_user_id(db, owner):
    before = Tenant.objects.count()
    with pytest.raises(ServiceError) as err:
        tenant_create(slug="owned", name="Owned", domain="owned.test", owner_telegram_id=owner)
    assert err.value.code == "invalid_owner"
    assert Tenant.objects.count() == before


def test_an_owner_that_cannot_be_named_leaves_no_tenant(db, monkeypatch):
    # accounts names the owner through tenancy.signals.tenant_created, inside the
    # creation's transaction: its failure takes the tenant, schema and audit with it.
    import accounts.services

    def refuse(**kwargs):
        raise ServiceError("no owner today", code="invalid_owner")

    monkeypatch.setattr(accounts.services, "membership_set_role", refuse)
    with pytest.raises(ServiceError, match="no owner today"):
        tenant_create(slug="ownerless", name="O", domain="ownerless.test", owner_telegram_id=9090)

    assert not Tenant.all_objects.filter(slug="ownerless").exists()
    assert not Domain.objects.filter(domain="ownerless.test").exists()
    assert _schema_tables("t_ownerless") == set()
    assert not Entry.objects.filter(action="tenant.created", data__slug="ownerless").exists()


def test_bot_placement_set_moves_a_bot_and_audits_the_change(make_tenant):
    tenant = make_tenant()
    bot = Bot.objects.get(tenant=tenant)
    assert bot.placement == "pooled"
    moved = bot_placement_set(bot=bot, placement="isolated", actor=SYSTEM)
    assert Bot.objects.get(pk=bot.pk).placement == moved.placement == "isolated"
    bot_placement_set(bot=bot, placement="isolated", actor=SYSTEM)  # no change, no entry
    entries = Entry.objects.filter(tenant_id=tenant.pk, action="bot.placement_set")
    assert [e.data for e in entries] == [{"from": "pooled", "to": "isolated"}]
    with pytest.raises(ServiceError) as refused:
        bot_placement_set(bot=bot, placement="elsewhere", actor=SYSTEM)
    assert refused.value.code == "invalid_placement"

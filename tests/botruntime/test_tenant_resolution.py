"""Which tenant an update belongs to: the bot's own community, else (platform bot) the
chat's binding, else a /start deep-link payload; cached once per update."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from telegram import Update, User
from telegram.ext import Application, CallbackContext

from botruntime.context import in_tenant, start_payload, tenant_of
from botruntime.selectors import deep_link_slug, tenant_resolve
from tenancy.models import Tenant
from tenancy.selectors import bot_tenant
from tenancy.services import chat_bind, tenant_suspend
from tests.helpers import tenant_bot_token

PLATFORM_TOKEN = "690000001:AAHplatformbot-token-for-the-suite-xyz"
PLATFORM_BOT = 690000001


@pytest.fixture
def platform_bot(settings):
    settings.PLATFORM_BOT_TOKEN = PLATFORM_TOKEN
    return PLATFORM_BOT


def _bot_id(tenant) -> int:
    return int(tenant_bot_token(tenant).split(":", 1)[0])


@pytest.mark.parametrize(
    "payload, slug",
    [
        ("t-acme", "acme"),
        ("acme_raid42", "acme"),
        ("acme-labs_x_y", "acme-labs"),
        ("acme", "acme"),
        ("t-", None),
        ("Acme", None),
        ("a", None),
        ("acme raid", None),
        ("", None),
    ],
)
def test_deep_link_payloads_name_a_slug(payload, slug):
    assert deep_link_slug(payload) == slug


def test_a_communitys_own_bot_always_means_that_community(make_tenant, platform_bot):
    mine, other = make_tenant(), make_tenant()
    chat_bind(tenant=other, chat_id=-100111)

    # Neither another community's chat nor a deep link moves the update elsewhere.
    assert tenant_resolve(bot_id=_bot_id(mine), chat_id=-100111) == mine
    assert tenant_resolve(bot_id=_bot_id(mine), start_payload=f"t-{other.slug}") == mine


def test_the_platform_bot_follows_the_chat_binding_then_the_deep_link(make_tenant, platform_bot):
    bound, linked = make_tenant(), make_tenant()
    chat_bind(tenant=bound, chat_id=-100222)
    public = Tenant.objects.get(schema_name="public")

    assert tenant_resolve(bot_id=platform_bot, chat_id=-100222) == bound
    assert tenant_resolve(bot_id=platform_bot, chat_id=5, start_payload=f"t-{linked.slug}") == (
        linked
    )
    assert tenant_resolve(bot_id=platform_bot, chat_id=5, start_payload=f"{linked.slug}_r1") == (
        linked
    )
    # The chat's binding wins over a payload naming someone else.
    assert (
        tenant_resolve(bot_id=platform_bot, chat_id=-100222, start_payload=f"t-{linked.slug}")
        == bound
    )
    # Nothing names a community: the platform itself.
    assert tenant_resolve(bot_id=platform_bot, chat_id=5) == public
    assert tenant_resolve(bot_id=platform_bot, chat_id=5, start_payload="t-no-such-slug") == public


def test_a_platform_bot_registered_as_the_public_tenants_bot_counts_too(make_tenant, settings):
    from tenancy.services import bot_register

    public = Tenant.objects.get(schema_name="public")
    settings.PLATFORM_BOT_TOKEN = ""
    bot_register(tenant=public, token=PLATFORM_TOKEN, audit=False)
    community = make_tenant()
    chat_bind(tenant=community, chat_id=-100333)

    assert bot_tenant(bot_id=PLATFORM_BOT) == public
    assert tenant_resolve(bot_id=PLATFORM_BOT, chat_id=-100333) == community


def test_unknown_bots_and_suspended_communities_resolve_to_nobody(make_tenant, platform_bot):
    community = make_tenant()
    chat_bind(tenant=community, chat_id=-100444)
    tenant_suspend(tenant=community)

    assert tenant_resolve(bot_id=123456) is None
    assert tenant_resolve(bot_id=_bot_id(community)) is None
    assert tenant_resolve(bot_id=platform_bot, chat_id=-100444) is None
    assert tenant_resolve(bot_id=platform_bot, start_payload=f"t-{community.slug}") is None


def _message(text: str, chat_id: int = 42, chat_type: str = "private") -> dict:
    return {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": chat_id, "type": chat_type},
            "from": {"id": 42, "is_bot": False, "first_name": "A"},
            "text": text,
        },
    }


def test_start_payload_is_read_from_start_commands_only():
    def payload(text: str) -> str | None:
        return start_payload(Update.de_json(_message(text), None))

    assert payload("/start t-acme") == "t-acme"
    assert payload("/start@brand_bot acme_x") == "acme_x"
    assert payload("/start") is None
    assert payload("/starter t-acme") is None
    assert payload("hello /start t-acme") is None


def test_tenant_of_resolves_once_per_update_and_in_tenant_runs_in_its_schema(
    make_tenant, platform_bot, monkeypatch
):
    from django.db import connection

    import botruntime.context

    community = make_tenant()
    lookups = []

    def counted(**kwargs):
        lookups.append(kwargs)
        return tenant_resolve(**kwargs)

    monkeypatch.setattr(botruntime.context, "tenant_resolve", counted)
    application = Application.builder().token(PLATFORM_TOKEN).updater(None).build()
    # What getMe would have cached (this test never talks to Telegram).
    application.bot._bot_user = User(PLATFORM_BOT, "Platform", is_bot=True)
    update = Update.de_json(_message(f"/start t-{community.slug}"), application.bot)
    context = CallbackContext.from_update(update, application)

    async def scenario():
        first = await tenant_of(update, context)
        again = await tenant_of(update, context)
        schema = await in_tenant(first, lambda: connection.schema_name)
        return first, again, schema

    first, again, schema = async_to_sync(scenario)()
    assert first == again == community
    assert lookups == [
        {"bot_id": PLATFORM_BOT, "chat_id": 42, "start_payload": f"t-{community.slug}"}
    ]
    assert schema == community.schema_name
    assert connection.schema_name == "public"


def test_a_communitys_answer_is_kept_per_bot_and_chat_for_its_ttl(
    make_tenant, platform_bot, monkeypatch
):
    import botruntime.context
    from botruntime.context import TENANT_TTL_SECONDS, TENANTS, tenants_forget

    community = make_tenant()
    now = [1000.0]
    monkeypatch.setattr(TENANTS, "clock", lambda: now[0])
    tenants_forget()
    lookups = []

    def counted(**kwargs):
        lookups.append(kwargs["chat_id"])
        return tenant_resolve(**kwargs)

    monkeypatch.setattr(botruntime.context, "tenant_resolve", counted)

    def resolve(token: str, bot_id: int, text: str, chat_id: int):
        application = Application.builder().token(token).updater(None).build()
        application.bot._bot_user = User(bot_id, "Bot", is_bot=True)
        update = Update.de_json(_message(text, chat_id, "supergroup"), application.bot)
        context = CallbackContext.from_update(update, application)  # a new update each time
        return async_to_sync(tenant_of)(update, context)

    token, own = tenant_bot_token(community), _bot_id(community)
    assert resolve(token, own, "hi", -100555) == community
    now[0] += TENANT_TTL_SECONDS - 0.01
    assert resolve(token, own, "hi", -100555) == community
    assert lookups == [-100555]
    assert resolve(token, own, "/start t-other", -100555) == community  # a payload asks again
    now[0] += 0.01
    assert resolve(token, own, "hi", -100555) == community
    assert lookups == [-100555] * 3

    # The platform's own answer is not kept: the chat may be bound any moment.
    assert resolve(PLATFORM_TOKEN, platform_bot, "hi", -100666).is_public
    chat_bind(tenant=community, chat_id=-100666)
    assert resolve(PLATFORM_TOKEN, platform_bot, "hi", -100666) == community
    tenants_forget()
    assert resolve(token, own, "hi", -100555) == community
    assert lookups == [-100555] * 3 + [-100666] * 2 + [-100555]

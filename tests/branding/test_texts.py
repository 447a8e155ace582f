"""What branded bots say: ``brand_message`` (shared by the preview and the bots) and the
core /start and /help of a community's bot on the sandbox Telegram, once it has a brand;
the cache of brand state and its invalidation."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from accounts.telegram import handlers as accounts_handlers
from branding.models import Brand, CustomBot, MessageText
from branding.texts import TEXTS, bot_text, brand_message, brand_texts
from history.services import Actor
from provisioner.kinds import kind_get
from tests.helpers import application_process, on_sandbox, sandbox_application, tenant_bot_token

WHITE_LABEL = kind_get("white_label")
OWNER = Actor.user(5101)


@pytest.fixture
def say(tg, tenant):
    """``say(user_id, text)``: the user writes to the tenant's bot in private; returns
    the messages the bot sent back."""
    bot_id = on_sandbox(tg, tenant)
    application = sandbox_application(tg, tenant_bot_token(tenant), accounts_handlers())

    def send(user_id: int, text: str) -> list[dict]:
        before = len(tg.sent(bot_id, user_id))
        application_process(application, tg.send_message(bot_id, user_id, user_id, text))
        return tg.sent(bot_id, user_id)[before:]

    tg.add_user(6001, "Zoë <3", username="zoe", language_code="es")
    tg.add_user(6002, "Bob", username="bob", language_code="de")
    return send


def test_without_a_brand_start_keeps_the_built_in_welcome(tenant, say):
    [reply] = say(6002, "/start")
    assert reply["text"].startswith(f"Welcome to {tenant.name}, Bob!")
    assert "entities" not in reply or not any(e["type"] == "bold" for e in reply["entities"])


def test_with_a_brand_start_speaks_the_brands_welcome_in_html(tenant, say):
    with tenant_context(tenant):
        Brand.objects.create(pk=Brand.SINGLETON, display_name="Acme")
    [reply] = say(6002, "/start")  # German: the kind has none, English is used
    assert reply["text"] == (
        "Welcome to Acme, Bob!\n"
        "Open the app to join raids, climb the leaderboard and track rewards."
    )
    assert {"type": "bold", "offset": 11, "length": 4} in [
        {k: e[k] for k in ("type", "offset", "length")} for e in reply["entities"]
    ]
    assert reply["reply_markup"]["inline_keyboard"][0][0]["web_app"]  # the same button


def test_an_override_set_through_the_api_is_what_start_sends(tenant, say, owner):
    owner.put("/api/v1/brand", {"display_name": "Acme"}, format="json")
    [before] = say(6001, "/start")
    assert before["text"].startswith("¡Bienvenido a Acme, Zoë <3!")
    answer = owner.put(
        "/api/v1/brand/texts/white_label/es/welcome",
        {"text": "Hola {first_name}: <esto> es {brand_name}."},
        format="json",
    )
    assert answer.status_code == 200
    [after] = say(6001, "/start")  # the cache was forgotten on save
    # Sent as HTML: the escaped name and text arrive as the literal characters.
    assert after["text"] == "Hola Zoë <3: <esto> es Acme."
    preview = owner.post(
        "/api/v1/brand/preview",
        {"key": "welcome", "language": "es", "values": {"first_name": "Zoë <3"}},
        format="json",
    ).json()
    assert preview["text"] == "Hola Zoë &lt;3: &lt;esto&gt; es Acme."
    [help_reply] = say(6001, "/help")
    assert help_reply["text"].startswith("Acme organiza raids en X")


def test_help_without_a_brand_lists_the_commands(say):
    [reply] = say(6002, "/help")
    assert reply["text"].startswith("Commands:\n/start")


def test_a_custom_bot_speaks_its_own_kind(tenant):
    with tenant_context(tenant):
        CustomBot.objects.create(
            telegram_id=880001,
            kind="moderation",
            parameters={"group_name": "Fans", "links": "block"},
        )
    text = bot_text(
        tenant=tenant, bot_id=880001, key="welcome", language="en", values={"first_name": "Ann"}
    )
    assert text == "Welcome to <b>Fans</b>, Ann! Please read the rules with /help."
    # The community's own bot: no brand, so the built-in texts.
    assert bot_text(tenant=tenant, bot_id=1, key="welcome", language="en", values={}) is None
    # A message the kind does not have.
    assert (
        bot_text(tenant=tenant, bot_id=880001, key="raid_announce", language="en", values={})
        is None
    )


def test_the_platform_tenant_is_never_branded(db):
    from tenancy.models import Tenant

    public = Tenant.objects.get(schema_name="public")
    assert bot_text(tenant=public, bot_id=1, key="welcome", language="en", values={}) is None


def test_an_unusable_text_falls_back_to_the_built_in_one(tenant):
    with tenant_context(tenant):
        Brand.objects.create(pk=Brand.SINGLETON, display_name="Acme")
        # Written around the checks (the admin, an older version): longer than Telegram takes.
        MessageText.objects.create(
            kind="white_label", language="en", key="welcome", text="x" * 5000
        )
    assert bot_text(tenant=tenant, bot_id=1, key="welcome", language="en", values={}) is None


def test_the_brand_state_is_cached_and_forgotten_when_rows_change(tenant):
    with tenant_context(tenant):
        Brand.objects.create(pk=Brand.SINGLETON, display_name="Acme")
    assert brand_texts(tenant=tenant).brand_name == "Acme"
    assert tenant.schema_name in TEXTS
    with tenant_context(tenant):
        # A write behind the cache's back (update() sends no signal): still cached.
        Brand.objects.update(display_name="Other")
    assert brand_texts(tenant=tenant).brand_name == "Acme"
    with tenant_context(tenant):
        MessageText.objects.create(kind="white_label", language="en", key="help", text="Hi")
    assert tenant.schema_name not in TEXTS  # a save forgets the schema's entry
    state = brand_texts(tenant=tenant)
    assert state.brand_name == "Other"
    assert state.overrides == {("white_label", "en", "help"): "Hi"}


def test_brand_message_falls_back_to_english_unless_the_brand_wrote_the_language(tenant):
    with tenant_context(tenant):
        Brand.objects.create(pk=Brand.SINGLETON, display_name="Acme")
        MessageText.objects.create(
            kind="white_label", language="de", key="welcome", text="Hallo {first_name}!"
        )
    render = lambda language: brand_message(  # noqa: E731
        tenant=tenant,
        kind=WHITE_LABEL,
        key="welcome",
        language=language,
        values={"first_name": "Jo"},
    )
    assert render("de") == "Hallo Jo!"
    assert render("de-AT") == "Hallo Jo!"
    assert render("fr").startswith("Welcome to <b>Acme</b>, Jo!")
    assert render("es").startswith("¡Bienvenido a <b>Acme</b>, Jo!")

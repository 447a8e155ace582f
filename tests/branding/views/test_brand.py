"""The brand's profile, applying it through the Bot API with a read-back (sandbox
Telegram), its colours and the Mini App theme."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiohttp import web
from django_tenants.utils import tenant_context

from branding.models import Brand
from history.models import Entry
from tests.helpers import TenantClient, bot_id_of, on_sandbox, tenant_bot_token

PROFILE = {
    "display_name": "Acme <Rewards>",
    "description": "Raids & rewards for the Acme community.",
    "short_description": "Acme's raids",
    "commands": [
        {"command": "start", "description": "Open the app"},
        {"command": "raid", "description": "Active raids"},
    ],
    "menu_button": {"type": "web_app", "text": "Open Acme", "url": "https://acme.example/app"},
}
COLORS = {"primary": "#F5A623", "accent": "#1A4D8F", "background": "#FFFFFF", "text": "#111111"}


def _entries(tenant, action: str) -> list[Entry]:
    return list(Entry.objects.filter(tenant_id=tenant.pk, action=action).order_by("id"))


def test_a_new_community_has_an_empty_brand(owner):
    body = owner.get("/api/v1/brand").json()
    assert body["display_name"] == "" and body["commands"] == []
    assert body["menu_button"] == {"type": "commands"}
    assert body["logo"] is None and body["profile_applied_at"] is None


def test_put_replaces_the_profile_and_audits_the_changed_fields(tenant, owner):
    answer = owner.put("/api/v1/brand", PROFILE, format="json")
    assert answer.status_code == 200, answer.json()
    assert owner.get("/api/v1/brand").json()["commands"] == PROFILE["commands"]
    [entry] = _entries(tenant, "brand.updated")
    assert entry.data == {
        "fields": ["commands", "description", "display_name", "menu_button", "short_description"]
    }
    # A PUT without a field resets it; the same PUT again changes nothing and is not audited.
    owner.put("/api/v1/brand", {"display_name": "Acme"}, format="json")
    body = owner.get("/api/v1/brand").json()
    assert (body["display_name"], body["commands"], body["description"]) == ("Acme", [], "")
    owner.put("/api/v1/brand", {"display_name": "Acme"}, format="json")
    assert len(_entries(tenant, "brand.updated")) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"display_name": "x" * 65}, "display_name"),
        ({"description": "x" * 513}, "description"),
        ({"short_description": "x" * 121}, "short_description"),
        ({"commands": [{"command": "Start", "description": "x"}]}, "commands"),
        ({"commands": [{"command": "start", "description": ""}]}, "commands"),
        ({"commands": [{"command": "a", "description": "x"}] * 2}, "commands"),
        ({"commands": [{"command": f"c{i}", "description": "x"} for i in range(101)]}, "commands"),
        ({"menu_button": {"type": "web_app", "text": "Go"}}, "menu_button"),
        ({"menu_button": {"type": "web_app", "text": "Go", "url": "http://a.b"}}, "menu_button"),
        ({"menu_button": {"type": "popup"}}, "menu_button"),
        ({"colour": "#fff"}, "non_field_errors"),
    ],
)
def test_a_bad_profile_is_a_400_naming_the_field_and_nothing_is_saved(owner, tenant, change, field):
    answer = owner.put("/api/v1/brand", {**PROFILE, **change}, format="json")
    assert answer.status_code == 400, answer.json()
    body = answer.json()
    assert body["code"] and body["detail"]
    assert field in body.get("errors", {field: None}), body
    with tenant_context(tenant):
        assert not Brand.objects.exists()


def test_an_admin_without_manage_bots_is_refused(tenant, user_with_role):
    user_with_role(tenant, "admin", user_id=5102, username="an_admin")
    client = TenantClient(tenant, user_id=5102, username="an_admin")
    assert client.get("/api/v1/brand").status_code == 403
    assert client.put("/api/v1/brand", PROFILE, format="json").status_code == 403


def test_another_tenants_owner_cannot_read_or_write_this_brand(make_tenant, user_with_role):
    a, b = make_tenant(), make_tenant()
    user_with_role(a, "owner", user_id=5201, username="a_owner")
    user_with_role(b, "owner", user_id=5202, username="b_owner")
    TenantClient(b, user_id=5202, username="b_owner").put(
        "/api/v1/brand", {"display_name": "Bravo secret"}, format="json"
    )
    # A's owner, with initData of A's bot, on B's domain.
    intruder = TenantClient(a, user_id=5201, username="a_owner")
    intruder.defaults["HTTP_HOST"] = b.domains.first().domain
    read = intruder.get("/api/v1/brand")
    assert read.status_code in (401, 403) and b"Bravo" not in read.content
    wrote = intruder.put("/api/v1/brand", {"display_name": "pwned"}, format="json")
    assert wrote.status_code in (401, 403)
    with tenant_context(b):
        assert Brand.objects.get().display_name == "Bravo secret"


# ---- apply through the Bot API ------------------------------------------------------------


def test_apply_sets_the_profile_on_telegram_and_reads_it_back(tg, tenant, owner):
    bot_id = on_sandbox(tg, tenant)
    owner.put("/api/v1/brand", PROFILE, format="json")
    answer = owner.post("/api/v1/brand/apply")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["ok"] is True and body["applied_at"]
    [bot] = body["bots"]
    assert bot["bot_id"] == bot_id and bot["mismatches"] == []
    assert bot["shows"] == {
        "name": PROFILE["display_name"],
        "description": PROFILE["description"],
        "short_description": PROFILE["short_description"],
        "commands": PROFILE["commands"],
        "menu_button": PROFILE["menu_button"],
    }
    # What the sandbox Telegram itself holds now.
    methods = [c["method"] for c in tg.calls(bot_id)]
    for method in ("setMyName", "setMyDescription", "setMyCommands", "setChatMenuButton"):
        assert method in methods
    # Read back after being set.
    for method in ("getMyName", "getMyDescription", "getMyCommands", "getChatMenuButton"):
        assert methods.index(method) > methods.index("setChatMenuButton")
    assert owner.get("/api/v1/brand").json()["profile_applied_at"] == body["applied_at"]
    [entry] = _entries(tenant, "brand.applied")
    assert entry.data == {"bots": [bot_id], "mismatches": {}}


def test_a_profile_telegram_shows_differently_is_a_409_and_not_marked_applied(
    tg, tenant, owner, monkeypatch
):
    from branding import botapi

    on_sandbox(tg, tenant)
    owner.put("/api/v1/brand", PROFILE, format="json")
    real_read = botapi._read

    async def trimmed(bot):  # Telegram shortening the description, say
        shows = await real_read(bot)
        return {**shows, "description": shows["description"][:10]}

    monkeypatch.setattr(botapi, "_read", trimmed)
    answer = owner.post("/api/v1/brand/apply")
    assert answer.status_code == 409
    body = answer.json()
    assert body["code"] == "profile_mismatch" and "description" in body["detail"]
    assert body["ok"] is False
    assert body["bots"][0]["mismatches"] == [
        {
            "field": "description",
            "expected": PROFILE["description"],
            "shown": PROFILE["description"][:10],
        }
    ]
    assert owner.get("/api/v1/brand").json()["profile_applied_at"] is None


def test_a_default_menu_button_reads_back_as_telegrams_default(tg, tenant, owner):
    on_sandbox(tg, tenant)
    owner.put(
        "/api/v1/brand",
        {**PROFILE, "menu_button": {"type": "default"}, "commands": []},
        format="json",
    )
    answer = owner.post("/api/v1/brand/apply")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["bots"][0]["shows"]["commands"] == []


def test_apply_before_the_brand_is_set_is_a_409(tg, tenant, owner):
    on_sandbox(tg, tenant)
    answer = owner.post("/api/v1/brand/apply")
    assert (answer.status_code, answer.json()["code"]) == (409, "brand_not_set")
    assert tg.calls(bot_id_of(tenant)) == []


def test_apply_with_no_bot_token_is_a_409(tenant, owner, monkeypatch):
    from branding.services import brand as brand_services

    owner.put("/api/v1/brand", PROFILE, format="json")
    monkeypatch.setattr(brand_services, "tenant_bots", lambda *, tenant: [(1, "")])
    answer = owner.post("/api/v1/brand/apply")
    assert (answer.status_code, answer.json()["code"]) == (409, "no_bot")


def test_a_token_telegram_does_not_know_is_a_502_and_nothing_is_saved(tg, tenant, owner):
    # The bot is not on the sandbox: Telegram answers 401 Unauthorized.
    owner.put("/api/v1/brand", PROFILE, format="json")
    answer = owner.post("/api/v1/brand/apply")
    assert answer.status_code == 502
    assert answer.json() == {
        "detail": "Telegram rejected the bot's token",
        "code": "bot_token_rejected",
    }
    assert owner.get("/api/v1/brand").json()["profile_applied_at"] is None
    assert not _entries(tenant, "brand.applied")
    assert tenant_bot_token(tenant).split(":")[1] not in answer.content.decode()


class FloodedTelegram:
    """A Bot API that answers every method with 429 and retry_after, as Telegram does
    under flood control (the sandbox does not limit profile methods)."""

    def __init__(self, retry_after: int = 17, description: str | None = None, code: int = 429):
        self.retry_after, self.description, self.code = retry_after, description, code
        self.loop = asyncio.new_event_loop()
        self.calls: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        if method == "getMe":  # python-telegram-bot's session starts with it
            me = {"id": 1, "is_bot": True, "first_name": "Bot", "username": "some_bot"}
            return web.json_response({"ok": True, "result": me})
        body = {"ok": False, "error_code": self.code}
        if self.code == 429:
            body["description"] = f"Too Many Requests: retry after {self.retry_after}"
            body["parameters"] = {"retry_after": self.retry_after}
        else:
            body["description"] = self.description
        return web.json_response(body, status=self.code)

    def __enter__(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_telegram_rate_limiting_is_a_503_with_the_wait_and_nothing_is_saved(
    tenant, owner, settings
):
    owner.put("/api/v1/brand", PROFILE, format="json")
    flooded = FloodedTelegram(retry_after=17)
    with flooded as base:
        settings.TELEGRAM_API_BASE = base
        answer = owner.post("/api/v1/brand/apply")
    assert answer.status_code == 503
    assert answer.json() == {
        "detail": "Telegram is rate limiting the bot; try again in 17 s",
        "code": "telegram_rate_limited",
    }
    assert flooded.calls == ["getMe", "setMyName"]  # stopped at the first refusal
    assert owner.get("/api/v1/brand").json()["profile_applied_at"] is None
    assert not _entries(tenant, "brand.applied")


def test_a_bad_request_from_telegram_is_a_409_with_its_words(tenant, owner, settings):
    owner.put("/api/v1/brand", PROFILE, format="json")
    with FloodedTelegram(code=400, description="Bad Request: BOT_TITLE_INVALID") as base:
        settings.TELEGRAM_API_BASE = base
        answer = owner.post("/api/v1/brand/apply")
    assert answer.status_code == 409
    assert answer.json()["code"] == "telegram_refused"
    assert "bot_title_invalid" in answer.json()["detail"].lower()


# ---- colours and the theme ----------------------------------------------------------------


def test_colours_are_set_audited_and_become_the_theme(tenant, owner, user_with_role):
    answer = owner.put("/api/v1/brand/colors", COLORS, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["colors"]["primary"] == "#f5a623"
    [entry] = _entries(tenant, "brand.colors_set")
    assert entry.data["colors"]["text"] == "#111111"
    # Any member of the community reads the theme (its Mini App shows it).
    user_with_role(tenant, "member", user_id=5401, username="member")
    member = TenantClient(tenant, user_id=5401, username="member")
    theme = member.get("/api/v1/brand/theme")
    assert theme.status_code == 200
    assert theme.json()["theme_params"] == {
        "bg_color": "#ffffff",
        "text_color": "#111111",
        "button_color": "#f5a623",
        "button_text_color": "#111111",
        "accent_text_color": "#1a4d8f",
    }
    assert member.put("/api/v1/brand/colors", COLORS, format="json").status_code == 403
    assert owner.delete("/api/v1/brand/colors").status_code == 204
    assert member.get("/api/v1/brand/theme").json() == {"theme_params": {}}
    assert len(_entries(tenant, "brand.colors_cleared")) == 1


def test_low_contrast_colours_are_a_400_naming_the_pair_and_ratio(tenant, owner):
    answer = owner.put("/api/v1/brand/colors", {**COLORS, "text": "#999999"}, format="json")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "low_contrast"
    assert body["detail"].startswith("text #999999 on background #ffffff has a contrast ratio")
    with tenant_context(tenant):
        assert not Brand.objects.exists()


@pytest.mark.parametrize(
    "colors",
    [{**COLORS, "accent": "blue"}, {**COLORS, "text": 0}, {"primary": "#000000"}],
    ids=["name", "number", "missing"],
)
def test_bad_colours_are_a_400(owner, colors):
    answer = owner.put("/api/v1/brand/colors", colors, format="json")
    assert answer.status_code == 400 and answer.json()["code"]


def test_the_theme_needs_a_telegram_user(tenant):
    from rest_framework.test import APIClient

    client = APIClient()
    client.defaults["HTTP_HOST"] = tenant.domains.first().domain
    assert client.get("/api/v1/brand/theme").status_code == 401

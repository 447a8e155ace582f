"""Message texts through the API: the list with defaults and overrides, setting one
(placeholders checked), reverting, and the preview that renders what the bot sends."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from branding.models import CustomBot, MessageText
from history.models import Entry
from tests.helpers import TenantClient

WELCOME = "/api/v1/brand/texts/white_label/en/welcome"


def _preview(client, **body):
    return client.post("/api/v1/brand/preview", body, format="json")


def test_the_list_shows_each_message_with_its_default_and_variables(owner):
    answer = owner.get("/api/v1/brand/texts")
    assert answer.status_code == 200
    assert (answer.json()["kind"], answer.json()["language"]) == ("white_label", "en")
    entries = {e["key"]: e for e in answer.json()["messages"]}
    assert set(entries) == {"welcome", "help", "raid_announce"}
    assert entries["welcome"]["variables"] == ["first_name", "brand_name"]
    assert "{{ brand_name }}" in entries["welcome"]["default"]
    assert entries["welcome"]["override"] is None
    spanish = {e["key"]: e for e in owner.get("/api/v1/brand/texts?language=es").json()["messages"]}
    assert spanish["welcome"]["default"].startswith("¡Bienvenido")
    moderation = owner.get("/api/v1/brand/texts?kind=moderation&language=de").json()["messages"]
    assert {e["key"] for e in moderation} == {"welcome", "help", "warned", "muted"}


@pytest.mark.parametrize("query", ["kind=nope", "language=english", "language=EN"])
def test_a_bad_list_query_is_a_400(owner, query):
    answer = owner.get(f"/api/v1/brand/texts?{query}")
    assert answer.status_code == 400 and answer.json()["code"]


def test_an_override_is_set_listed_audited_and_reverted(tenant, owner):
    text = "Hey {first_name}, this is {brand_name}!"
    answer = owner.put(WELCOME, {"text": text}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["override"] == text
    listed = {e["key"]: e for e in owner.get("/api/v1/brand/texts").json()["messages"]}
    assert listed["welcome"]["override"] == text and listed["welcome"]["updated_at"]
    [entry] = Entry.objects.filter(tenant_id=tenant.pk, action="brand.text_set")
    assert entry.target_id == "white_label.en.welcome"
    with tenant_context(tenant):
        assert MessageText.objects.get().updated_by == owner.user_id
    assert owner.delete(WELCOME).status_code == 204
    listed = {e["key"]: e for e in owner.get("/api/v1/brand/texts").json()["messages"]}
    assert listed["welcome"]["override"] is None
    assert Entry.objects.filter(tenant_id=tenant.pk, action="brand.text_reverted").count() == 1


def test_an_unknown_placeholder_is_a_400_naming_it(tenant, owner):
    answer = owner.put(
        WELCOME, {"text": "Hi {first_name}, your balance is {balance}"}, format="json"
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "invalid_text"
    assert body["detail"] == (
        "unknown placeholder {balance}; this message has: {first_name}, {brand_name}"
    )
    with tenant_context(tenant):
        assert not MessageText.objects.exists()


@pytest.mark.parametrize(
    ("url", "body", "status", "code"),
    [
        ("/api/v1/brand/texts/robot/en/welcome", {"text": "hi"}, 404, "kind_not_found"),
        ("/api/v1/brand/texts/white_label/en/goodbye", {"text": "hi"}, 404, "message_not_found"),
        ("/api/v1/brand/texts/white_label/eng/welcome", {"text": "hi"}, 400, "invalid_language"),
        (WELCOME, {"text": "   "}, 400, "invalid_text"),
        (WELCOME, {"text": "x" * 2001}, 400, "invalid_text"),
        (WELCOME, {"text": 5}, 400, "invalid"),
        (WELCOME, {}, 400, "required"),
        (WELCOME, {"text": "hi", "extra": 1}, 400, "unknown_field"),
    ],
)
def test_bad_texts_are_refused(owner, url, body, status, code):
    answer = owner.put(url, body, format="json")
    assert answer.status_code == status, answer.json()
    assert answer.json()["code"] == code


def test_an_admin_without_manage_bots_cannot_change_texts(tenant, user_with_role):
    user_with_role(tenant, "admin", user_id=5601, username="admin")
    admin = TenantClient(tenant, user_id=5601, username="admin")
    assert admin.put(WELCOME, {"text": "hi"}, format="json").status_code == 403
    assert admin.get("/api/v1/brand/texts").status_code == 403
    assert _preview(admin, key="welcome").status_code == 403


# ---- preview --------------------------------------------------------------------------------


def test_the_preview_renders_the_template_with_the_brand_and_a_sample_name(tenant, owner):
    owner.put("/api/v1/brand", {"display_name": "Acme"}, format="json")
    answer = _preview(owner, key="welcome")
    assert answer.status_code == 200
    assert answer.json() == {
        "text": "Welcome to <b>Acme</b>, Alex!\n"
        "Open the app to join raids, climb the leaderboard and track rewards.",
        "parse_mode": "HTML",
        "kind": "white_label",
        "key": "welcome",
        "language": "en",
    }
    spanish = _preview(owner, key="welcome", language="es", values={"first_name": "Ana"})
    assert spanish.json()["text"].startswith("¡Bienvenido a <b>Acme</b>, Ana!")


def test_the_preview_uses_the_override_and_escapes_every_value(tenant, owner):
    owner.put("/api/v1/brand", {"display_name": "A&B <Labs>"}, format="json")
    owner.put(
        WELCOME, {"text": "<b>{brand_name}</b> says hi to {first_name} {{ 7*7 }}"}, format="json"
    )
    answer = _preview(owner, key="welcome", values={"first_name": "<script>x</script>"})
    assert answer.json()["text"] == (
        "&lt;b&gt;A&amp;B &lt;Labs&gt;&lt;/b&gt; says hi to "
        "&lt;script&gt;x&lt;/script&gt; {{ 7*7 }}"
    )


def test_template_syntax_in_a_value_stays_text(owner):
    owner.put("/api/v1/brand", {"display_name": "{{ 7*7 }}{% raw %}"}, format="json")
    answer = _preview(owner, key="welcome", values={"first_name": "{{ config }}"})
    assert answer.json()["text"].startswith("Welcome to <b>{{ 7*7 }}{% raw %}</b>, {{ config }}!")


def test_the_preview_of_a_custom_bot_uses_its_kind_and_parameters(tenant, owner):
    with tenant_context(tenant):
        CustomBot.objects.create(
            telegram_id=777001,
            kind="airdrop",
            parameters={
                "project_name": "Moon & Co",
                "token_symbol": "MOON",
                "amount_per_claim": 5,
            },
        )
    answer = _preview(owner, key="welcome", bot_id=777001)
    assert answer.status_code == 200, answer.json()
    assert answer.json()["text"] == (
        "Hi Alex! <b>Moon &amp; Co</b> is airdropping 5 MOON per person: send /claim."
    )
    assert answer.json()["kind"] == "airdrop"
    wrong = _preview(owner, key="welcome", bot_id=777001, kind="task")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "kind_mismatch")
    missing = _preview(owner, key="welcome", bot_id=999)
    assert (missing.status_code, missing.json()["code"]) == (404, "bot_not_found")


def test_the_preview_of_another_kind_uses_samples(owner):
    answer = _preview(owner, kind="task", key="task_list")
    assert answer.status_code == 200, answer.json()
    assert '<a href="https://x.com/">Follow us on X</a> (10 points)' in answer.json()["text"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"key": "goodbye"}, 404, "message_not_found"),
        ({"key": "welcome", "kind": "robot"}, 404, "kind_not_found"),
        ({"key": "welcome", "language": "xx-long"}, 400, "invalid_language"),
        ({"key": "welcome", "values": {"balance": "1"}}, 400, "unknown_variable"),
        ({"key": "welcome", "values": {"first_name": "x" * 300}}, 400, "max_length"),
        ({}, 400, "required"),
    ],
)
def test_a_bad_preview_is_refused(owner, body, status, code):
    answer = _preview(owner, **body)
    assert answer.status_code == status, answer.json()
    assert answer.json()["code"] == code

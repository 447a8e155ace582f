"""GET/PATCH /api/v1/me and GET /api/v1/me/activity."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from accounts.models import TelegramUser
from history.models import Entry

ME = "/api/v1/me"
ACTIVITY = "/api/v1/me/activity"


def _patch(client, body):
    return client.patch(ME, body, format="json")


def _assert_400(response, field: str | None = None) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert {"detail", "code"} <= set(body) <= {"detail", "code", "errors"}
    assert body["detail"] and body["code"]
    if field:
        assert body["detail"].startswith(f"{field}: ")
        assert field in body["errors"]


def test_me_shows_profile_role_and_capabilities(tenant, client_for, user_with_role):
    user_with_role(tenant, "moderator", user_id=7001, username="mod")
    response = client_for(tenant, user_id=7001, username="mod").get(ME)
    assert response.status_code == 200
    body = response.json()
    assert (body["telegram_id"], body["username"], body["role"]) == (7001, "mod", "moderator")
    assert body["capabilities"] == ["moderate", "view_analytics"]
    assert body["notification_preferences"] == {}
    assert "is_staff" not in body


@pytest.mark.parametrize("language", ["en", "pt-BR", "zh-Hant", "ast"])
def test_patch_language_is_stored_and_audited_in_the_tenant(tenant, client_for, language):
    client = client_for(tenant, user_id=7002)
    response = _patch(client, {"language": language})
    assert response.status_code == 200, response.content
    assert response.json()["language"] == language
    assert TelegramUser.objects.get(telegram_id=7002).language == language
    entry = Entry.objects.get(action="user.preferences_updated", actor_id="7002")
    assert entry.tenant_id == tenant.pk
    assert entry.data == {"language": language}


def test_empty_language_clears_the_override(tenant, client_for):
    client = client_for(tenant, user_id=7003)
    assert _patch(client, {"language": "de"}).json()["language"] == "de"
    assert _patch(client, {"language": ""}).json()["language"] == ""
    assert TelegramUser.objects.get(telegram_id=7003).language == ""


@pytest.mark.parametrize(
    "language", ["english", "EN", "e", "en_US", "en-", "en-abcdefghi", 5, "en\nfr", None]
)
def test_invalid_language_is_400_and_changes_nothing(tenant, client_for, language):
    client = client_for(tenant, user_id=7004)
    client.get(ME)
    history = Entry.objects.count()
    _assert_400(_patch(client, {"language": language}), "language")
    assert TelegramUser.objects.get(telegram_id=7004).language == ""
    assert Entry.objects.count() == history


def test_notification_preferences_are_merged(tenant, client_for):
    client = client_for(tenant, user_id=7005)
    assert _patch(client, {"notification_preferences": {"raids": True}}).status_code == 200
    response = _patch(client, {"notification_preferences": {"giveaways": False}})
    assert response.json()["notification_preferences"] == {"raids": True, "giveaways": False}
    response = _patch(client, {"notification_preferences": {"raids": False}, "language": "fr"})
    assert response.json()["notification_preferences"] == {"raids": False, "giveaways": False}
    user = TelegramUser.objects.get(telegram_id=7005)
    assert (user.notification_preferences, user.language) == (
        {"raids": False, "giveaways": False},
        "fr",
    )
    changes = Entry.objects.filter(action="user.preferences_updated", actor_id="7005")
    assert changes.count() == 3


def test_unchanged_preferences_write_no_history(tenant, client_for):
    client = client_for(tenant, user_id=7006)
    assert (
        _patch(client, {"notification_preferences": {"raids": True}, "language": "en"}).status_code
        == 200
    )
    before = Entry.objects.count()
    for body in (
        {},
        {"language": "en"},
        {"notification_preferences": {"raids": True}},
        {"notification_preferences": {}},
    ):
        assert _patch(client, body).status_code == 200
    assert Entry.objects.count() == before


@pytest.mark.parametrize(
    "prefs",
    [
        [1, 2],
        "raids",
        {"raids": "maybe"},
        {"raids": None},
        {"Raids Now": True},
        {"": True},
        {"x" * 41: True},
        {f"topic_{i}": True for i in range(51)},
    ],
    ids=["list", "string", "not_bool", "null", "bad_key", "empty_key", "long_key", "too_many"],
)
def test_invalid_notification_preferences_are_400(tenant, client_for, prefs):
    client = client_for(tenant, user_id=7007)
    client.get(ME)
    _assert_400(_patch(client, {"notification_preferences": prefs}), "notification_preferences")
    assert TelegramUser.objects.get(telegram_id=7007).notification_preferences == {}


def test_preferences_cannot_grow_past_the_limit_over_several_requests(tenant, client_for):
    client = client_for(tenant, user_id=7008)
    first = {f"topic_{i}": True for i in range(30)}
    assert _patch(client, {"notification_preferences": first}).status_code == 200
    more = {f"other_{i}": True for i in range(21)}
    _assert_400(_patch(client, {"notification_preferences": more}), "notification_preferences")
    # Changing existing keys is fine at any size.
    assert (
        _patch(client, {"notification_preferences": dict.fromkeys(first, False)}).status_code == 200
    )


@pytest.mark.parametrize("body", ["[]", "not json", '"text"'])
def test_patch_body_must_be_a_json_object(tenant, client_for, body):
    client = client_for(tenant, user_id=7009)
    response = client.generic("PATCH", ME, body, content_type="application/json")
    _assert_400(response)


def test_patch_ignores_fields_that_are_not_preferences(tenant, client_for):
    client = client_for(tenant, user_id=7010, username="zed")
    response = _patch(
        client,
        {
            "is_staff": True,
            "username": "root",
            "telegram_id": 1,
            "capabilities": ["manage_bots"],
            "role": "owner",
        },
    )
    assert response.status_code == 200
    assert (response.json()["role"], response.json()["capabilities"]) == ("member", [])
    assert response.json()["username"] == "zed"
    assert TelegramUser.objects.get(telegram_id=7010).is_staff is False


def test_activity_lists_only_my_entries_in_this_tenant(make_tenant, client_for):
    here, elsewhere = make_tenant(), make_tenant()
    me = client_for(here, user_id=7020)
    _patch(me, {"language": "de"})
    _patch(me, {"notification_preferences": {"raids": True}})
    _patch(client_for(here, user_id=7021), {"language": "it"})  # someone else, same tenant
    _patch(client_for(elsewhere, user_id=7020), {"language": "es"})  # me, other tenant

    response = me.get(ACTIVITY)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["action"] for r in results] == ["user.preferences_updated"] * 2
    assert [r["data"] for r in results] == [
        {"notification_preferences": {"raids": True}},
        {"language": "de"},
    ]
    assert all(r["target_id"] == "7020" for r in results)
    # Not in the output: where the request came from.
    assert not {"ip", "user_agent", "actor_id"} & set(results[0])


def test_activity_pages_with_a_cursor(tenant, client_for):
    client = client_for(tenant, user_id=7030)
    for i in range(5):
        assert _patch(client, {"notification_preferences": {f"t{i}": True}}).status_code == 200
    expected = list(
        Entry.objects.filter(actor_id="7030", tenant_id=tenant.pk)
        .order_by("-id")
        .values_list("id", flat=True)
    )
    assert len(expected) == 5

    seen, pages, url = [], 0, f"{ACTIVITY}?page_size=2"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) <= 2
        seen += [r["id"] for r in body["results"]]
        pages += 1
        if pages > 1:
            assert body["previous"]
        url = body["next"] and "{0.path}?{0.query}".format(urlsplit(body["next"]))
    assert (seen, pages) == (expected, 3)


@pytest.mark.parametrize("cursor", ["bz14", "cD1hYmM%3D"])  # "o=x"; "p=abc", no id
def test_activity_rejects_a_forged_cursor(tenant, client_for, cursor):
    response = client_for(tenant, user_id=7031).get(f"{ACTIVITY}?cursor={cursor}")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "the cursor is not one this list gave out",
        "code": "invalid_cursor",
    }


def test_me_endpoints_need_authentication(tenant, client):
    for method, path in (("get", ME), ("patch", ME), ("get", ACTIVITY)):
        response = getattr(client, method)(path, HTTP_HOST=tenant.domains.first().domain)
        assert response.status_code == 401
        assert set(response.json()) == {"detail", "code"}

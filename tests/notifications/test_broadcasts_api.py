"""The broadcasts API (manage_bots): POST/GET /api/v1/broadcasts, GET
/api/v1/broadcasts/{id}, POST /api/v1/broadcasts/{id}/cancel; and the community's
notification settings (manage_settings): GET/PATCH /api/v1/notifications/settings."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from history.models import Entry
from history.services import Actor
from notifications.models import Broadcast, NotificationSettings, OutboxMessage
from notifications.services import broadcast_expand, subscriptions_update
from tenancy.models import Tenant
from tests.helpers import bot_id_of, init_data_for

pytestmark = pytest.mark.django_db

BROADCASTS = "/api/v1/broadcasts"
SETTINGS = "/api/v1/notifications/settings"
OWNER = 7301
STATUSES = {"pending", "sending", "sent", "failed", "blocked", "cancelled", "uncertain"}


@pytest.fixture
def owner(tenant, user_with_role, client_for):
    """The tenant's owner (the only default role with manage_bots) as an API client."""
    user_with_role(tenant, "owner", user_id=OWNER)
    return client_for(tenant, user_id=OWNER)


def _post(client, body: dict, key: str | None = "key-1"):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(BROADCASTS, body, format="json", **headers)


def _expand(tenant) -> None:
    while broadcast_expand(bot_id=bot_id_of(tenant)):
        pass


def test_a_broadcast_starts_once_per_idempotency_key(tenant, owner):
    first = _post(owner, {"text": "Hello, community!"})
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["status"] == "expanding"
    assert (body["audience"], body["chat_id"], body["event"]) == ("tenant", None, "announcement")
    assert (body["text"], body["paid"], body["expanded"]) == ("Hello, community!", False, 0)
    assert body["counts"] == dict.fromkeys(STATUSES, 0)
    assert (body["idempotency_key"], body["created_by"]) == ("key-1", f"user:{OWNER}")

    again = _post(owner, {"text": "Hello, community!"})
    assert again.status_code == 200, again.content
    assert again.json()["id"] == body["id"]
    assert Broadcast.objects.filter(tenant=tenant).count() == 1
    created = Entry.objects.filter(tenant=tenant, action="bulk_send.created")
    assert [(e.actor_id, e.target_id) for e in created] == [(str(OWNER), str(body["id"]))]

    other = _post(owner, {"text": "Hello, community!"}, key="key-2")
    assert other.status_code == 201
    assert other.json()["id"] != body["id"]


def test_a_key_reused_for_another_message_is_refused(tenant, owner):
    assert _post(owner, {"text": "First"}).status_code == 201
    for body in ({"text": "Second"}, {"text": "First", "paid": True}):
        response = _post(owner, body)
        assert response.status_code == 422, response.content
        assert response.json() == {
            "detail": "this Idempotency-Key was already used for a different broadcast",
            "code": "idempotency_key_reused",
        }
    assert list(Broadcast.objects.filter(tenant=tenant).values_list("text", flat=True)) == ["First"]


@pytest.mark.parametrize(
    ("key", "code"), [(None, "idempotency_key_required"), ("k" * 201, "invalid_idempotency_key")]
)
def test_the_idempotency_key_is_required_and_bounded(tenant, owner, key, code):
    response = _post(owner, {"text": "Hello"}, key=key)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert set(response.json()) == {"detail", "code"}
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": "Hi", "audience": "everyone"}, "invalid_choice"),
        ({"text": "Hi", "audience": "group"}, "chat_id_required"),
        ({"text": "Hi", "chat_id": -1001}, "invalid"),
        ({"text": ""}, "invalid_text"),
        ({"text": "   \n "}, "invalid_text"),
        ({"text": "x" * 4097}, "text_too_long"),
        ({}, "required"),
        ({"text": "Hi", "event": "raid.created"}, "unknown_event"),
        ({"text": "Hi", "event": "nothing.like_it"}, "unknown_event"),
        ({"text": "Hi", "audiance": "group"}, "unknown_field"),
        ({"text": "Hi", "paid": True}, "paid_broadcast_not_allowed"),
    ],
)
def test_bad_broadcasts_are_refused(tenant, owner, body, code):
    response = _post(owner, body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert {"detail", "code"} <= set(response.json())
    assert not Broadcast.objects.exists()


def test_the_text_may_be_as_long_as_telegram_allows(tenant, owner):
    response = _post(owner, {"text": "é" * 4096})
    assert response.status_code == 201, response.content
    assert len(Broadcast.objects.get(tenant=tenant).text) == 4096


def test_a_group_broadcast_reaches_the_people_seen_in_that_group(tenant, owner, group, person):
    fans = group(tenant, title="Fans")
    seen = person(tenant, "seen", groups=[fans])
    person(tenant, "elsewhere")
    response = _post(owner, {"text": "Fans only", "audience": "group", "chat_id": fans})
    assert response.status_code == 201, response.content
    assert (response.json()["audience"], response.json()["chat_id"]) == ("group", fans)
    _expand(tenant)
    bulk_id = response.json()["id"]
    rows = OutboxMessage.objects.filter(broadcast_id=bulk_id)
    assert list(rows.values_list("chat_id", flat=True)) == [seen.telegram_id]


def test_a_group_of_another_community_is_not_found(make_tenant, user_with_role, client_for, group):
    mine, theirs = make_tenant(), make_tenant()
    user_with_role(mine, "owner", user_id=OWNER)
    client = client_for(mine, user_id=OWNER)
    their_group = group(theirs)
    for chat_id in (their_group, -1009999999999):
        body = {"text": "Hi", "audience": "group", "chat_id": chat_id}
        response = _post(client, body, key=f"k{chat_id}")
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "group_not_found"
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize("role", ["member", "moderator", "admin"])
def test_only_holders_of_manage_bots_broadcast(tenant, user_with_role, client_for, role):
    user_with_role(tenant, role, user_id=7310)
    client = client_for(tenant, user_id=7310)
    response = _post(client, {"text": "Hi"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert client.get(BROADCASTS).status_code == 403
    assert not Broadcast.objects.exists()


def test_the_list_is_newest_first_paginated_and_only_this_communitys(
    make_tenant, user_with_role, client_for
):
    mine, theirs = make_tenant(), make_tenant()
    user_with_role(mine, "owner", user_id=OWNER)
    user_with_role(theirs, "owner", user_id=OWNER + 1)
    client = client_for(mine, user_id=OWNER)
    ids = [_post(client, {"text": f"news {n}"}, key=f"k{n}").json()["id"] for n in range(3)]
    _post(client_for(theirs, user_id=OWNER + 1), {"text": "their news"}, key="k0")

    page = client.get(BROADCASTS, {"page_size": 2})
    assert page.status_code == 200
    assert [b["id"] for b in page.json()["results"]] == [ids[2], ids[1]]
    assert page.json()["results"][0]["text"] == "news 2"
    rest = client.get(page.json()["next"])
    assert [b["id"] for b in rest.json()["results"]] == [ids[0]]
    assert rest.json()["next"] is None


def test_the_detail_shows_live_delivery_counts(tenant, owner, person):
    reached = [person(tenant, f"r{n}") for n in range(4)]
    bulk_id = _post(owner, {"text": "Hi all"}).json()["id"]
    _expand(tenant)

    body = owner.get(f"{BROADCASTS}/{bulk_id}").json()
    assert (body["status"], body["expanded"]) == ("sending", 4)
    assert body["counts"] == {**dict.fromkeys(STATUSES, 0), "pending": 4}

    OutboxMessage.objects.filter(broadcast_id=bulk_id, chat_id=reached[0].telegram_id).update(
        status="sent"
    )
    counts = owner.get(f"{BROADCASTS}/{bulk_id}").json()["counts"]
    assert (counts["sent"], counts["pending"]) == (1, 3)
    listed = owner.get(BROADCASTS).json()["results"][0]
    assert listed["counts"] == counts


def test_members_who_switched_announcements_off_are_left_out(tenant, owner, person):
    person(tenant, "keen")
    quiet = person(tenant, "quiet")
    subscriptions_update(
        tenant=tenant,
        chat_id=quiet.telegram_id,
        changes={"announcement": False},
        actor=Actor.user(quiet),
    )
    bulk_id = _post(owner, {"text": "Hi all"}).json()["id"]
    _expand(tenant)
    body = owner.get(f"{BROADCASTS}/{bulk_id}").json()
    assert (body["expanded"], body["counts"]["pending"]) == (1, 1)


def test_cancel_stops_a_broadcast_and_its_unsent_messages(tenant, owner, person):
    people = [person(tenant, f"c{n}") for n in range(3)]
    bulk_id = _post(owner, {"text": "Oops"}).json()["id"]
    _expand(tenant)
    OutboxMessage.objects.filter(broadcast_id=bulk_id, chat_id=people[0].telegram_id).update(
        status="sent"
    )

    response = owner.post(f"{BROADCASTS}/{bulk_id}/cancel")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "cancelled" and body["completed_at"] is not None
    assert (body["counts"]["cancelled"], body["counts"]["sent"], body["counts"]["pending"]) == (
        2,
        1,
        0,
    )
    statuses = sorted(
        OutboxMessage.objects.filter(broadcast_id=bulk_id).values_list("status", flat=True)
    )
    assert statuses == ["cancelled", "cancelled", "sent"]
    assert owner.get(f"{BROADCASTS}/{bulk_id}").json()["status"] == "cancelled"

    # Cancelling again answers the same, and is audited once.
    assert owner.post(f"{BROADCASTS}/{bulk_id}/cancel").json()["status"] == "cancelled"
    entries = Entry.objects.filter(tenant=tenant, action="bulk_send.cancelled")
    assert [(e.actor_id, e.data["cancelled"]) for e in entries] == [(str(OWNER), 2)]


def test_a_cancelled_broadcast_expands_no_further(tenant, owner, person):
    person(tenant, "late")
    bulk_id = _post(owner, {"text": "Never mind"}).json()["id"]
    assert owner.post(f"{BROADCASTS}/{bulk_id}/cancel").status_code == 200
    _expand(tenant)
    assert not OutboxMessage.objects.filter(broadcast_id=bulk_id).exists()
    assert owner.get(f"{BROADCASTS}/{bulk_id}").json()["expanded"] == 0


def test_another_communitys_broadcast_is_not_found(make_tenant, user_with_role, client_for):
    mine, theirs = make_tenant(), make_tenant()
    user_with_role(mine, "owner", user_id=OWNER)
    user_with_role(theirs, "owner", user_id=OWNER + 1)
    their_id = _post(client_for(theirs, user_id=OWNER + 1), {"text": "theirs"}).json()["id"]
    client = client_for(mine, user_id=OWNER)
    for response in (
        client.get(f"{BROADCASTS}/{their_id}"),
        client.post(f"{BROADCASTS}/{their_id}/cancel"),
        client.get(f"{BROADCASTS}/999999999"),
    ):
        assert response.status_code == 404, response.content
        assert response.json() == {"detail": "no such bulk send", "code": "bulk_send_not_found"}
    assert Broadcast.objects.get(pk=their_id).status == "expanding"
    assert not Entry.objects.filter(action="bulk_send.cancelled").exists()


def test_settings_are_read_and_changed_with_an_audit_entry(tenant, owner):
    assert owner.get(SETTINGS).json() == {"allow_paid_broadcast": False, "updated_at": None}
    response = owner.patch(SETTINGS, {"allow_paid_broadcast": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["allow_paid_broadcast"] is True
    assert response.json()["updated_at"] is not None
    assert owner.get(SETTINGS).json()["allow_paid_broadcast"] is True
    assert NotificationSettings.objects.get(tenant=tenant).allow_paid_broadcast is True
    entry = Entry.objects.get(tenant=tenant, action="notifications.settings_updated")
    assert (entry.actor_id, entry.data) == (str(OWNER), {"allow_paid_broadcast": True})

    # The same value again, or nothing at all, changes nothing and audits nothing.
    assert owner.patch(SETTINGS, {"allow_paid_broadcast": True}, format="json").status_code == 200
    assert owner.patch(SETTINGS, {}, format="json").json()["allow_paid_broadcast"] is True
    assert Entry.objects.filter(action="notifications.settings_updated").count() == 1


def test_bad_settings_are_refused(tenant, owner):
    for body, code in (
        ({"allow_paid_broadcasts": True}, "unknown_field"),
        ({"allow_paid_broadcast": "maybe"}, "invalid"),
    ):
        response = owner.patch(SETTINGS, body, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["code"] == code
    assert not NotificationSettings.objects.exists()


def test_broadcasts_are_paid_by_default_once_the_community_allows_it(tenant, owner):
    owner.patch(SETTINGS, {"allow_paid_broadcast": True}, format="json")
    assert _post(owner, {"text": "fast"}, key="a").json()["paid"] is True
    assert _post(owner, {"text": "slow", "paid": False}, key="b").json()["paid"] is False
    owner.patch(SETTINGS, {"allow_paid_broadcast": False}, format="json")
    assert _post(owner, {"text": "fast"}, key="c").json()["paid"] is False
    refused = _post(owner, {"text": "fast", "paid": True}, key="d")
    assert refused.json()["code"] == "paid_broadcast_not_allowed"


def test_settings_need_manage_settings(tenant, user_with_role, client_for):
    user_with_role(tenant, "moderator", user_id=7320)
    user_with_role(tenant, "admin", user_id=7321)
    moderator = client_for(tenant, user_id=7320)
    for response in (
        moderator.get(SETTINGS),
        moderator.patch(SETTINGS, {"allow_paid_broadcast": True}, format="json"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert not NotificationSettings.objects.exists()
    admin = client_for(tenant, user_id=7321)
    assert admin.patch(SETTINGS, {"allow_paid_broadcast": True}, format="json").status_code == 200


def test_the_platforms_own_domain_has_no_broadcasts(db, settings, user_with_role):
    token = "7999999997:AAHplatformbottokenforthesuite765432"
    settings.PLATFORM_BOT_TOKEN = token
    public = Tenant.objects.get(schema_name="public")
    user_with_role(public, "staff", user_id=7330)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="tma " + init_data_for(public, user_id=7330, token=token))
    for response in (
        client.get(BROADCASTS, HTTP_HOST="testserver"),
        client.post(BROADCASTS, {"text": "x"}, format="json", HTTP_HOST="testserver"),
        client.get(SETTINGS, HTTP_HOST="testserver"),
    ):
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "not_a_community"
    assert not Broadcast.objects.exists()

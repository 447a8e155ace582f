"""GET/PATCH /api/v1/notifications/subscriptions (the user's own) and
/api/v1/groups/{chat_id}/subscriptions (manage_settings)."""

from __future__ import annotations

import pytest

from history.models import Entry
from notifications.models import Recipient, Subscription

pytestmark = pytest.mark.django_db

MINE = "/api/v1/notifications/subscriptions"


def _by_event(body: dict) -> dict[str, dict]:
    return {s["event"]: s for s in body["subscriptions"]}


def test_a_user_reads_their_subscriptions_with_defaults(tenant, client_for):
    response = client_for(tenant, user_id=7101).get(MINE)
    assert response.status_code == 200
    body = response.json()
    assert body["telegram_id"] == 7101
    deposit = _by_event(body)["deposit.received"]
    assert deposit == {
        "event": "deposit.received",
        "label": "Deposits",
        "description": "A deposit reached your wallet",
        "default": True,
        "enabled": True,
    }
    assert "raid.created" not in _by_event(body)


def test_a_user_switches_their_notifications(tenant, client_for):
    client = client_for(tenant, user_id=7102)
    response = client.patch(MINE, {"subscriptions": {"deposit.received": False}}, format="json")
    assert response.status_code == 200, response.content
    assert _by_event(response.json())["deposit.received"]["enabled"] is False
    assert _by_event(client.get(MINE).json())["deposit.received"]["enabled"] is False
    assert Subscription.objects.get(tenant=tenant, chat_id=7102).enabled is False
    # Changing them makes the user reachable for the tenant's notifications.
    assert Recipient.objects.filter(tenant=tenant, chat_id=7102).exists()
    entry = Entry.objects.get(tenant=tenant, action="notifications.subscriptions_changed")
    assert entry.actor_id == "7102"


def test_an_empty_patch_changes_nothing(tenant, client_for):
    response = client_for(tenant, user_id=7103).patch(MINE, {}, format="json")
    assert response.status_code == 200
    assert not Entry.objects.filter(action="notifications.subscriptions_changed").exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"subscriptions": {"raid.created": False}}, "unknown_event"),
        ({"subscriptions": {"deposit.received": "maybe"}}, "invalid"),
        ({"subscription": {}}, "unknown_field"),
    ],
)
def test_bad_changes_are_refused(tenant, client_for, body, code):
    response = client_for(tenant, user_id=7104).patch(MINE, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Subscription.objects.exists()


def test_an_admin_reads_and_switches_a_groups_notifications(
    tenant, client_for, user_with_role, group
):
    chat_id = group(tenant, title="Fans")
    user_with_role(tenant, "admin", user_id=7110)
    client = client_for(tenant, user_id=7110)
    url = f"/api/v1/groups/{chat_id}/subscriptions"
    body = client.get(url).json()
    assert (body["chat_id"], body["title"]) == (chat_id, "Fans")
    assert _by_event(body)["mention.found"]["enabled"] is False
    assert "deposit.received" not in _by_event(body)

    response = client.patch(
        url, {"subscriptions": {"mention.found": True, "raid.ending": False}}, format="json"
    )
    assert response.status_code == 200, response.content
    states = _by_event(response.json())
    assert states["mention.found"]["enabled"] and not states["raid.ending"]["enabled"]
    entry = Entry.objects.get(tenant=tenant, action="notifications.subscriptions_changed")
    assert (entry.target_type, entry.target_id, entry.actor_id) == ("group", str(chat_id), "7110")


def test_a_member_may_not_touch_a_groups_notifications(tenant, client_for, group):
    chat_id = group(tenant)
    client = client_for(tenant, user_id=7120)
    url = f"/api/v1/groups/{chat_id}/subscriptions"
    assert client.get(url).status_code == 403
    response = client.patch(url, {"subscriptions": {"raid.created": False}}, format="json")
    assert response.status_code == 403
    assert not Subscription.objects.exists()


def test_another_tenants_group_is_not_found(make_tenant, client_for, user_with_role, group):
    mine, theirs = make_tenant(), make_tenant()
    their_chat = group(theirs, title="secret-title")
    user_with_role(mine, "owner", user_id=7130)
    client = client_for(mine, user_id=7130)
    url = f"/api/v1/groups/{their_chat}/subscriptions"
    response = client.get(url)
    assert response.status_code == 404
    assert response.json()["code"] == "group_not_found"
    assert b"secret-title" not in response.content
    response = client.patch(url, {"subscriptions": {"raid.created": False}}, format="json")
    assert response.status_code == 404
    assert not Subscription.objects.exists()

"""``user_start`` (/start): the user is registered, and what other apps hook onto
``accounts.signals.user_started`` happens in the same transaction. ``tenant_owner_set``:
staff name a community's owner."""

from __future__ import annotations

import pytest

from accounts.selectors import user_get, user_role
from accounts.services import tenant_owner_set, user_start
from accounts.signals import user_started
from config.errors import ServiceError
from history.models import Entry
from notifications.models import Recipient
from tenancy.selectors import tenant_get

ANN = {"id": 4242001, "first_name": "Ann", "username": "ann"}


def test_start_in_private_makes_the_user_reachable_by_the_community(tenant):
    user = user_start(tenant=tenant, profile=ANN, bot_id=777, private_chat=True)

    assert user_get(telegram_id=ANN["id"]).username == "ann"
    recipient = Recipient.objects.get(tenant=tenant, user=user)
    assert (recipient.chat_id, recipient.bot_id) == (ANN["id"], 777)


def test_start_in_a_group_or_with_the_platform_registers_no_recipient(tenant):
    user_start(tenant=tenant, profile=ANN, bot_id=777, private_chat=False)
    user_start(tenant=tenant_get(slug="public"), profile=ANN, bot_id=778, private_chat=True)

    assert user_get(telegram_id=ANN["id"]) is not None
    assert not Recipient.objects.filter(user__telegram_id=ANN["id"]).exists()


def test_staff_who_start_the_platform_bot_become_its_recipients(db):
    staff = user_start(tenant=tenant_get(slug="public"), profile=ANN, bot_id=778, private_chat=True)
    assert not Recipient.objects.filter(user=staff).exists()  # not staff yet: nobody to tell
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])

    user_start(tenant=tenant_get(slug="public"), profile=ANN, bot_id=778, private_chat=True)

    recipient = Recipient.objects.get(user=staff)
    assert (recipient.tenant.schema_name, recipient.chat_id, recipient.bot_id) == (
        "public",
        ANN["id"],
        778,
    )


def test_a_failing_hook_rolls_the_registration_back(tenant):
    def refuse(**kwargs):
        raise RuntimeError("refused")

    user_started.connect(refuse, dispatch_uid="test.refuse")
    try:
        with pytest.raises(RuntimeError, match="refused"):
            user_start(tenant=tenant, profile=ANN, bot_id=777, private_chat=True)
    finally:
        user_started.disconnect(dispatch_uid="test.refuse")

    assert user_get(telegram_id=ANN["id"]) is None
    assert not Recipient.objects.filter(user__telegram_id=ANN["id"]).exists()


def test_staff_name_an_owner_of_a_community_created_without_one(make_tenant):
    tenant = make_tenant()
    tenant_owner_set(tenant=tenant, owner_telegram_id=8080)

    assert user_role(tenant=tenant, user=user_get(telegram_id=8080)) == "owner"
    assert Entry.objects.get(tenant=tenant, action="role.assigned").data["reason"] == (
        "named by staff"
    )


@pytest.mark.parametrize("owner", [None, 0, -100123, True])
def test_staff_name_only_a_user_id_and_never_for_the_platform(make_tenant, owner):
    with pytest.raises(ServiceError) as err:
        tenant_owner_set(tenant=make_tenant(), owner_telegram_id=owner)
    assert err.value.code == "invalid_owner"
    with pytest.raises(ServiceError, match="the public tenant has no owners"):
        tenant_owner_set(tenant=tenant_get(slug="public"), owner_telegram_id=8080)
    assert not Entry.objects.filter(action="role.assigned").exists()

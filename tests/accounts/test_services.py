"""``user_start`` (/start): the user is registered, and what other apps hook onto
``accounts.signals.user_started`` happens in the same transaction."""

from __future__ import annotations

import pytest

from accounts.selectors import user_get
from accounts.services import user_start
from accounts.signals import user_started
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

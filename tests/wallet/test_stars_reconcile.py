"""Reconciliation with Telegram's getStarTransactions: a refund made outside the platform
is found and reversed (the group frozen and staff told when it had spent the Stars), a
payment whose update was lost is credited, other mismatches are reported to staff."""

from __future__ import annotations

from io import StringIO

import httpx
from django.core.management import call_command

from notifications.models import OutboxMessage
from tests.helpers import tenant_bot_token
from tests.wallet.helpers import assert_consistent, balance
from wallet.models import StarsDeposit
from wallet.selectors import is_frozen
from wallet.services import (
    stars_payment_credit,
    stars_reconcile,
)
from wallet.services.stars import stars_payload


def test_an_outside_refund_is_reversed_once(stars_group, person, platform_staff):
    group = stars_group()
    payer = person("payer")
    deposit = group.pay(payer, 40)
    kept = group.pay(payer, 5)
    group.refund_outside(deposit)

    result = stars_reconcile()

    assert (result.reversed, result.frozen, result.mismatches) == (1, 0, [])
    reversed_ = StarsDeposit.objects.get(pk=deposit.pk)
    assert reversed_.status == StarsDeposit.Status.REVERSED and reversed_.shortfall == 0
    assert StarsDeposit.objects.get(pk=kept.pk).status == StarsDeposit.Status.CREDITED
    assert balance(group.account()) == 5
    assert not is_frozen(tenant=group.tenant, owner_kind="group", owner_id=group.chat_id)
    [alert] = OutboxMessage.objects.filter(event="alert.wallet")
    assert alert.chat_id == platform_staff.telegram_id
    assert "1 deposit(s) refunded outside the platform reversed" in alert.text
    # Run again (the job runs at least once): nothing more moves.
    assert stars_reconcile().reversed == 0
    assert balance(group.account()) == 5
    assert_consistent()


def test_an_outside_refund_of_spent_stars_freezes_the_group_and_tells_staff(
    stars_group, person, platform_staff
):
    group = stars_group()
    deposit = group.pay(person("payer"), 40)
    group.hold(30, "raid:1", "raid-1")
    group.refund_outside(deposit)

    result = stars_reconcile()

    assert (result.reversed, result.frozen) == (1, 1)
    reversed_ = StarsDeposit.objects.get(pk=deposit.pk)
    assert (reversed_.reversal.amount, reversed_.shortfall) == (10, 30)
    assert balance(group.account()) == 0
    assert is_frozen(tenant=group.tenant, owner_kind="group", owner_id=group.chat_id)
    texts = list(
        OutboxMessage.objects.filter(chat_id=platform_staff.telegram_id).values_list(
            "text", flat=True
        )
    )
    assert any(f"group {group.chat_id} of {group.tenant.slug} frozen" in t for t in texts)
    assert_consistent()


def test_a_lost_payment_is_credited_and_mismatches_are_reported(
    stars_group, person, platform_staff
):
    group = stars_group()
    payer = person("payer")
    topup = group.topup(25)
    [update] = group.tg.pay_stars(group.bot_id, payer, stars_payload(topup), 25)
    # The bot agreed, then its successful_payment update was lost.
    httpx.post(
        f"{group.tg.base_url}/bot{tenant_bot_token(group.tenant)}/answerPreCheckoutQuery",
        json={"pre_checkout_query_id": update["pre_checkout_query"]["id"], "ok": True},
    ).raise_for_status()
    # A credit Telegram never saw (a forged update, had one been accepted).
    forged = group.topup(3)
    stars_payment_credit(
        bot_id=group.bot_id,
        payload=stars_payload(forged),
        currency="XTR",
        amount=3,
        charge_id="stxghost",
        payer_id=payer,
    )

    result = stars_reconcile()

    assert result.credited == 1
    assert StarsDeposit.objects.get(topup=topup).amount == 25
    assert balance(group.account()) == 25 + 3
    assert any("stxghost: credited, not in Telegram" in m for m in result.mismatches)
    [alert] = OutboxMessage.objects.filter(event="alert.wallet")
    assert "stxghost" in alert.text
    assert_consistent()


def test_the_wallet_command_reconciles_and_unfreezes(stars_group, person):
    group = stars_group()
    deposit = group.pay(person("payer"), 8)
    group.hold(8, "raid:2", "raid-2")
    group.refund_outside(deposit)
    out = StringIO()

    call_command("wallet", "stars-reconcile", stdout=out)
    assert "1 reversed, 1 frozen, 0 mismatches" in out.getvalue()
    assert is_frozen(tenant=group.tenant, owner_kind="group", owner_id=group.chat_id)
    call_command("wallet", "unfreeze", group.tenant.slug, str(group.chat_id), stdout=out)
    assert out.getvalue().endswith("unfrozen\n")
    assert not is_frozen(tenant=group.tenant, owner_kind="group", owner_id=group.chat_id)

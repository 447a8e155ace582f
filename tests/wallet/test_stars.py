"""Stars deposits in the services: credit once per charge, pre-checkout refusals, an
admin's refund (all or nothing, refused once the Stars are held), spending freezes."""

from __future__ import annotations

import pytest

from config.errors import ServiceError
from history.services import Actor
from tenancy.services import tenant_suspend
from tests.wallet.helpers import assert_consistent, balance
from wallet.errors import WalletError
from wallet.models import StarsDeposit, Transfer
from wallet.services import (
    spending_freeze,
    spending_unfreeze,
    stars_deposit_refund,
    stars_payment_credit,
    stars_precheckout_refusal,
    stars_topup_create,
)
from wallet.services.stars import stars_payload

ADMIN = Actor.user(1)


def test_a_charge_is_credited_once_and_only_through_the_bot_that_sent_the_invoice(
    stars_group, person
):
    group = stars_group()
    deposit = group.pay(person("payer"), 40)
    again = stars_payment_credit(
        bot_id=group.bot_id,
        payload=stars_payload(deposit.topup),
        currency="XTR",
        amount=40,
        charge_id=deposit.charge_id,
        payer_id=deposit.payer_id,
    )
    assert again is not None and again.pk == deposit.pk and again.replayed
    # The payload of this group's invoice, paid to another bot or at another price.
    for bot_id, currency, amount in (
        (group.bot_id + 1, "XTR", 40),
        (group.bot_id, "XTR", 41),
        (group.bot_id, "USD", 40),
    ):
        assert (
            stars_payment_credit(
                bot_id=bot_id,
                payload=stars_payload(deposit.topup),
                currency=currency,
                amount=amount,
                charge_id="stxother",
                payer_id=1,
            )
            is None
        )
    assert balance(group.account()) == 40
    assert Transfer.objects.filter(kind="deposit").count() == 1
    assert_consistent()


def test_pre_checkout_is_refused_for_a_suspended_tenant_and_once_paid(stars_group, person):
    group = stars_group()
    topup = group.topup(20)
    payload = stars_payload(topup)
    check = dict(bot_id=group.bot_id, payload=payload, currency="XTR", amount=20)
    assert stars_precheckout_refusal(**check) == ""
    tenant_suspend(tenant=group.tenant)
    assert stars_precheckout_refusal(**check) == "This community is suspended."

    paid = stars_group()
    deposit = paid.pay(person("payer"), 5)
    assert (
        stars_precheckout_refusal(
            bot_id=paid.bot_id, payload=stars_payload(deposit.topup), currency="XTR", amount=5
        )
        == "This invoice was paid already."
    )


def test_a_topup_outside_the_limits_or_for_an_unbound_group_is_refused(stars_group, settings):
    settings.WALLET_STARS_TOPUP_MIN, settings.WALLET_STARS_TOPUP_MAX = 10, 100
    group = stars_group()
    base = dict(
        tenant=group.tenant, requested_by=group.admin, bot_id=group.bot_id, invoice_chat_id=1
    )
    for amount in (9, 101, 0):
        with pytest.raises(WalletError) as refused:
            stars_topup_create(chat_id=group.chat_id, amount=amount, **base)
        assert refused.value.code == "amount_out_of_range"
    with pytest.raises(ServiceError) as unbound:
        stars_topup_create(chat_id=-100999, amount=50, **base)
    assert unbound.value.code == "group_not_bound"


def test_an_admin_refund_reverses_the_credit_and_telegram_refunds_the_payer(stars_group, person):
    group = stars_group()
    payer = person("payer")
    deposit = group.pay(payer, 40)
    assert group.tg.star_balance(group.bot_id) == 40

    refunded = stars_deposit_refund(
        tenant=group.tenant, chat_id=group.chat_id, deposit_id=deposit.pk, actor=ADMIN
    )

    assert refunded.status == StarsDeposit.Status.REFUNDED
    assert refunded.reversal.amount == 40 and refunded.reversal.kind == "refund"
    assert balance(group.account()) == 0
    assert group.tg.star_balance(group.bot_id) == 0
    [refund] = group.tg.calls(group.bot_id, "refundStarPayment")
    assert refund["params"]["telegram_payment_charge_id"] == deposit.charge_id
    with pytest.raises(ServiceError) as again:
        stars_deposit_refund(
            tenant=group.tenant, chat_id=group.chat_id, deposit_id=deposit.pk, actor=ADMIN
        )
    assert (again.value.code, again.value.status) == ("deposit_closed", 409)
    assert_consistent()


def test_a_refund_is_refused_once_the_stars_are_held(stars_group, person):
    group = stars_group()
    deposit = group.pay(person("payer"), 40)
    group.hold(30, "raid:1", "raid-1")
    transfers = Transfer.objects.count()

    with pytest.raises(ServiceError) as refused:
        stars_deposit_refund(
            tenant=group.tenant, chat_id=group.chat_id, deposit_id=deposit.pk, actor=ADMIN
        )

    assert (refused.value.code, refused.value.status) == ("funds_not_available", 409)
    assert Transfer.objects.count() == transfers
    assert StarsDeposit.objects.get().status == StarsDeposit.Status.CREDITED
    assert group.tg.calls(group.bot_id, "refundStarPayment") == []
    assert group.tg.star_balance(group.bot_id) == 40


def test_a_refund_telegram_refuses_moves_nothing(stars_group, person):
    group = stars_group()
    deposit = group.pay(person("payer"), 40)
    group.tg.world.charges.clear()  # Telegram no longer knows the charge: CHARGE_NOT_FOUND

    with pytest.raises(ServiceError) as refused:
        stars_deposit_refund(
            tenant=group.tenant, chat_id=group.chat_id, deposit_id=deposit.pk, actor=ADMIN
        )

    assert refused.value.code == "telegram_error"
    assert balance(group.account()) == 40
    assert StarsDeposit.objects.get().status == StarsDeposit.Status.CREDITED


def test_a_frozen_group_cannot_hold_until_unfrozen(stars_group, person):
    group = stars_group()
    group.pay(person("payer"), 40)
    spending_freeze(tenant=group.tenant, owner_kind="group", owner_id=group.chat_id, reason="test")
    with pytest.raises(WalletError) as frozen:
        group.hold(10, "r", "h1")
    assert (frozen.value.code, frozen.value.status) == ("spending_frozen", 409)
    assert spending_unfreeze(
        tenant=group.tenant, owner_kind="group", owner_id=group.chat_id, actor=ADMIN
    )
    group.hold(10, "r", "h1")

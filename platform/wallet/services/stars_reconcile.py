"""Reconciliation of Stars deposits with Telegram (the daily ``wallet.stars_reconcile``
job). A brand owner holds their bot's token and can refund a payment outside the
platform after the group was credited; a ``successful_payment`` update can be lost. For
each bot that sent top-up invoices, ``getStarTransactions`` is read back ``LOOKBACK``
and matched to the ledger:

- a refund of a credited deposit: the credit is reversed (``stars_deposit_reverse``;
  the group frozen for what it already spent);
- a payment of one of the platform's invoices never credited: credited now (Telegram
  itself confirms it);
- anything else that does not match (a payment or refund of an unknown invoice, an
  amount that differs, a credited deposit Telegram does not list, a bot the platform
  cannot read) is a mismatch, reported to platform staff.

Safe to run again: every write is keyed by the charge id.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from config.errors import ServiceError
from history.services import Actor
from tenancy.models import Tenant
from wallet import botapi
from wallet.models import StarsDeposit
from wallet.selectors import (
    STARS_PAYLOAD_PREFIX,
    bot_token_get,
    stars_bots,
    stars_deposit_by_charge,
)
from wallet.services.stars import STARS, staff_alert, stars_deposit_reverse, stars_payment_credit

logger = logging.getLogger(__name__)

LOOKBACK = timedelta(days=30)
ACTOR = Actor.system("stars_reconcile")


@dataclass
class Reconciliation:
    bots: int = 0
    transactions: int = 0
    credited: int = 0  # payments credited late (their update never arrived)
    reversed: int = 0  # deposits refunded outside the platform
    frozen: int = 0  # of those, groups that had spent part of it
    mismatches: list[str] = field(default_factory=list)


def _bot_reconcile(tenant: Tenant, bot_id: int, since, result: Reconciliation) -> None:
    token = bot_token_get(tenant=tenant, bot_id=bot_id)
    if token is None:
        result.mismatches.append(f"bot {bot_id} ({tenant.slug}): no token to read its Stars with")
        return
    try:
        transactions = botapi.star_transactions(token=token, bot_id=bot_id, since=since)
    except ServiceError as exc:
        result.mismatches.append(f"bot {bot_id} ({tenant.slug}): {exc.message}")
        return
    result.bots += 1
    result.transactions += len(transactions)
    paid: set[str] = set()
    for tx in transactions:
        if not tx.payload.startswith(STARS_PAYLOAD_PREFIX):
            continue  # the brand's own sales, not the platform's invoices
        deposit = stars_deposit_by_charge(charge_id=tx.charge_id)
        where = f"bot {bot_id} ({tenant.slug}) charge {tx.charge_id}"
        if tx.incoming:
            paid.add(tx.charge_id)
            if deposit is None:
                credited = stars_payment_credit(
                    bot_id=bot_id,
                    payload=tx.payload,
                    currency=STARS,
                    amount=tx.amount,
                    charge_id=tx.charge_id,
                    payer_id=tx.user_id or 0,
                    actor=ACTOR,
                )
                if credited is None:
                    result.mismatches.append(f"{where}: {tx.amount} Stars paid, no top-up")
                else:
                    result.credited += 1
            elif deposit.amount != tx.amount or deposit.bot_id != bot_id:
                result.mismatches.append(
                    f"{where}: Telegram says {tx.amount} Stars, the ledger {deposit.amount}"
                )
        elif deposit is None:
            result.mismatches.append(f"{where}: refunded, never credited")
        elif deposit.status == StarsDeposit.Status.CREDITED:
            reversed_ = stars_deposit_reverse(deposit=deposit, actor=ACTOR)
            result.reversed += 1
            result.frozen += reversed_.shortfall > 0
    unknown = StarsDeposit.objects.filter(bot_id=bot_id, created_at__gte=since).exclude(
        charge_id__in=paid
    )
    for deposit in unknown.order_by("pk"):
        result.mismatches.append(
            f"bot {bot_id} ({tenant.slug}) charge {deposit.charge_id}: credited, "
            "not in Telegram's transactions"
        )


def stars_reconcile(*, lookback: timedelta = LOOKBACK) -> Reconciliation:
    """Match every bot's Stars transactions of the last ``lookback`` to the ledger."""
    since = timezone.now() - lookback
    result = Reconciliation()
    for tenant, bot_id in stars_bots():
        _bot_reconcile(tenant, bot_id, since, result)
    if result.mismatches or result.reversed:
        lines = [
            f"Stars reconciliation: {result.reversed} deposit(s) refunded outside the platform "
            f"reversed ({result.frozen} group(s) frozen), {result.credited} credited late, "
            f"{len(result.mismatches)} mismatch(es)."
        ]
        lines += result.mismatches[:30]
        text = "\n".join(lines)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        staff_alert(text=text, key=f"stars:reconcile:{timezone.now():%Y-%m-%d}:{digest}")
    logger.info(
        "wallet.stars_reconciled",
        extra={
            "bots": result.bots,
            "transactions": result.transactions,
            "credited": result.credited,
            "reversed": result.reversed,
            "frozen": result.frozen,
            "mismatches": len(result.mismatches),
        },
    )
    return result

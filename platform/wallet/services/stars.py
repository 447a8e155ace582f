"""Telegram Stars deposits: a group's admin asks for a top-up, the group's bot sends an
``XTR`` invoice whose payload names a ``StarsTopUp`` row, the pre-checkout query is
answered after checking that row against what Telegram sends, and the successful
payment credits the group once per ``telegram_payment_charge_id``. An admin's refund
reverses the credit and calls ``refundStarPayment``; a refund made outside the platform
(the brand owner holds the bot's token) is found by reconciliation and reversed here,
freezing the group's spending for what it had already spent.

Ledger: a deposit moves Stars from the tenant's ``external`` XTR account to the group's
``available`` one (``stars:<charge id>``); its reversal back (``stars:<charge id>:refund``).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import history.services as history
from accounts.models import TelegramUser
from accounts.selectors import staff_list
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from notifications.selectors import bound_group_binding_get
from notifications.services import notify
from tenancy.models import Tenant
from tenancy.selectors import chat_binding_get, chat_tenant_for_bot, tenant_get
from wallet import botapi
from wallet.currencies import amount_format
from wallet.errors import WalletError
from wallet.models import Account, Freeze, StarsDeposit, StarsTopUp, Transfer
from wallet.selectors import (
    STARS_PAYLOAD_PREFIX,
    bot_token_get,
    funds_admins,
    group_bot_id,
    stars_deposit_get,
    stars_topup_by_payload,
)
from wallet.services.ledger import account_get_or_create, transfer_post

if TYPE_CHECKING:
    from collections.abc import Iterable

logger = logging.getLogger(__name__)

STARS = "XTR"
# An invoice older than this is refused at pre-checkout: a forgotten one cannot be paid
# months later, when its group or the limits have changed.
TOPUP_TTL = timedelta(days=1)


def stars_payload(topup: StarsTopUp) -> str:
    """The invoice payload of a top-up (at most 128 bytes, Telegram's limit)."""
    return f"{STARS_PAYLOAD_PREFIX}{topup.token}"


def topup_amount_check(amount: int) -> None:
    low, high = settings.WALLET_STARS_TOPUP_MIN, settings.WALLET_STARS_TOPUP_MAX
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise WalletError("a top-up is a whole number of Stars", code="invalid_amount")
    if not low <= amount <= high:
        raise WalletError(f"a top-up is {low} to {high} Stars", code="amount_out_of_range")


def _group_check(*, tenant: Tenant, chat_id: int, bot_id: int) -> None:
    """The group is still bound to ``tenant`` and served by ``bot_id``; the tenant active."""
    if tenant.status != Tenant.Status.ACTIVE:
        raise ServiceError("this community is suspended", code="tenant_inactive", status=409)
    bound = chat_tenant_for_bot(chat_id=chat_id, bot_id=bot_id)
    if bound is None or bound.pk != tenant.pk:
        raise ServiceError(
            "this group is not connected to the community (any more)",
            code="group_not_bound",
            status=409,
        )


def stars_topup_create(
    *,
    tenant: Tenant,
    chat_id: int,
    requested_by: int,
    amount: int,
    bot_id: int,
    invoice_chat_id: int,
    actor: Actor = SYSTEM,
    request: Any = None,
) -> StarsTopUp:
    """Record a top-up request; its token goes into the invoice's payload."""
    topup_amount_check(amount)
    _group_check(tenant=tenant, chat_id=chat_id, bot_id=bot_id)
    with transaction.atomic():
        topup = StarsTopUp.objects.create(
            tenant=tenant,
            chat_id=chat_id,
            requested_by=requested_by,
            bot_id=bot_id,
            amount=amount,
            token=secrets.token_urlsafe(24),
            invoice_chat_id=invoice_chat_id,
        )
        history.record(
            action="wallet.stars_topup_requested",
            actor=actor,
            tenant=tenant,
            target=("stars_topup", topup.pk),
            data={"chat_id": chat_id, "amount": amount, "bot_id": bot_id},
            request=request,
        )
    logger.info(
        "wallet.stars_topup_requested",
        extra={"tenant_id": tenant.pk, "chat_id": chat_id, "topup_id": topup.pk},
    )
    return topup


def stars_topup_request(
    *, tenant: Tenant, chat_id: int, user: TelegramUser, amount: int, request: Any = None
) -> StarsTopUp:
    """The API's top-up: the group's bot sends the invoice to the requesting admin's
    private chat (the admin pays it; a group invoice could be paid by anyone and would
    announce the request to the whole group). Nothing is kept if Telegram refuses it."""
    binding = bound_group_binding_get(tenant=tenant, chat_id=chat_id)
    bot_id = group_bot_id(binding=binding)
    token = bot_token_get(tenant=tenant, bot_id=bot_id) if bot_id is not None else None
    if bot_id is None or token is None:
        raise ServiceError(
            "the group's bot is not available to send an invoice",
            code="bot_unavailable",
            status=409,
        )
    with transaction.atomic():
        topup = stars_topup_create(
            tenant=tenant,
            chat_id=chat_id,
            requested_by=user.telegram_id,
            amount=amount,
            bot_id=bot_id,
            invoice_chat_id=user.telegram_id,
            actor=Actor.user(user),
            request=request,
        )
        title, description = invoice_texts(title=binding.title, amount=amount)
        botapi.invoice_send(
            token=token,
            chat_id=user.telegram_id,
            title=title,
            description=description,
            payload=stars_payload(topup),
            amount=amount,
        )
    return topup


def invoice_texts(*, title: str, amount: int) -> tuple[str, str]:
    """(title, description) of a top-up invoice (Telegram: 1-32 and 1-255 characters)."""
    group = title or "this group"
    return "Group wallet top-up"[:32], f"{amount} Stars for the wallet of {group}"[:255]


def stars_precheckout_refusal(*, bot_id: int, payload: str, currency: str, amount: int) -> str:
    """Why a pre-checkout query must be declined ("" to accept it). Everything comes from
    the top-up row the payload names and from what Telegram sends (bot, currency,
    amount); nothing from what the payload or the payer claim."""
    topup = stars_topup_by_payload(payload=payload)
    if topup is None or topup.bot_id != bot_id:
        return "This invoice is not valid."
    if currency != STARS or amount != topup.amount:
        return "This invoice does not match its top-up."
    if timezone.now() - topup.created_at > TOPUP_TTL:
        return "This invoice has expired; ask for a new top-up."
    if StarsDeposit.objects.filter(topup=topup).exists():
        return "This invoice was paid already."
    try:
        topup_amount_check(amount)
        _group_check(tenant=topup.tenant, chat_id=topup.chat_id, bot_id=bot_id)
    except ServiceError as exc:
        return exc.message[:1].upper() + exc.message[1:] + "."
    return ""


def _accounts(tenant: Tenant, chat_id: int) -> tuple[Account, Account]:
    external = account_get_or_create(
        tenant=tenant, owner_kind="tenant", owner_id=tenant.pk, currency=STARS, kind="external"
    )
    group = account_get_or_create(
        tenant=tenant, owner_kind="group", owner_id=chat_id, currency=STARS, kind="available"
    )
    return external, group


def stars_payment_credit(
    *,
    bot_id: int,
    payload: str,
    currency: str,
    amount: int,
    charge_id: str,
    payer_id: int,
    actor: Actor = SYSTEM,
) -> StarsDeposit | None:
    """Credit a payment Telegram confirmed (a ``successful_payment`` the bot received,
    or one reconciliation found in ``getStarTransactions``) to the group of its top-up,
    once per ``charge_id``: the same charge again returns the first deposit. None when
    the payment matches no top-up of this bot (logged; reconciliation reports it)."""
    topup = stars_topup_by_payload(payload=payload)
    if topup is None or topup.bot_id != bot_id or currency != STARS or amount != topup.amount:
        logger.warning(
            "wallet.stars_payment_unmatched",
            extra={"bot_id": bot_id, "charge_id": charge_id, "amount": amount},
        )
        return None
    tenant = topup.tenant
    external, group = _accounts(tenant, topup.chat_id)
    with transaction.atomic():
        transfer = transfer_post(
            tenant=tenant,
            debit=external,
            credit=group,
            amount=amount,
            kind=Transfer.Kind.DEPOSIT,
            idempotency_key=f"stars:{charge_id}",
            metadata={"charge_id": charge_id, "topup": topup.pk, "payer": payer_id},
            actor=actor,
        )
        deposit, created = StarsDeposit.objects.get_or_create(
            charge_id=charge_id,
            defaults={
                "tenant": tenant,
                "topup": topup,
                "chat_id": topup.chat_id,
                "bot_id": bot_id,
                "payer_id": payer_id,
                "amount": amount,
                "credit": transfer,
            },
        )
        if created:
            history.record(
                action="wallet.stars_deposit_credited",
                actor=actor,
                tenant=tenant,
                target=("stars_deposit", deposit.pk),
                data={"chat_id": topup.chat_id, "amount": amount, "payer": payer_id},
            )
            _deposit_announce(deposit)
    deposit.replayed = not created
    if created:
        logger.info(
            "wallet.stars_deposit_credited",
            extra={"tenant_id": tenant.pk, "chat_id": topup.chat_id, "deposit_id": deposit.pk},
        )
    return deposit


def _deposit_announce(deposit: StarsDeposit) -> None:
    """``deposit.received`` to the community's funds admins, in the deposit's transaction."""
    binding = chat_binding_get(tenant=deposit.tenant, chat_id=deposit.chat_id)
    group = (binding.title if binding else "") or str(deposit.chat_id)
    text = f"{amount_format(deposit.amount, STARS)} deposited to the wallet of {group}."
    for admin in funds_admins(tenant=deposit.tenant):
        notify(
            tenant=deposit.tenant,
            event="deposit.received",
            text=text,
            user=admin,
            idempotency_key=f"stars:{deposit.charge_id}:{admin.telegram_id}",
        )


def _lock_accounts(*accounts: Account) -> None:
    """Lock the accounts by id, the order every transfer takes them in."""
    list(
        Account.objects.select_for_update()
        .filter(pk__in=[a.pk for a in accounts])
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def stars_deposit_refund(
    *, tenant: Tenant, chat_id: int, deposit_id: int, actor: Actor, request: Any = None
) -> StarsDeposit:
    """An admin gives a deposit back: the credit is reversed and Telegram refunds the
    payer (``refundStarPayment``), all or nothing. Refused (409 ``funds_not_available``)
    when the group no longer has the Stars available (held for raids or paid out)."""
    bound_group_binding_get(tenant=tenant, chat_id=chat_id)  # 404 for another's group
    deposit = stars_deposit_get(tenant=tenant, chat_id=chat_id, deposit_id=deposit_id)
    token = bot_token_get(tenant=tenant, bot_id=deposit.bot_id)
    if token is None:
        raise ServiceError(
            "the bot that was paid is not available to refund", code="bot_unavailable", status=409
        )
    external, group = _accounts(tenant, chat_id)
    with transaction.atomic():
        locked = StarsDeposit.objects.select_for_update().get(pk=deposit.pk)
        if locked.status != StarsDeposit.Status.CREDITED:
            raise ServiceError(
                f"this deposit is already {locked.status}", code="deposit_closed", status=409
            )
        try:
            reversal = transfer_post(
                tenant=tenant,
                debit=group,
                credit=external,
                amount=locked.amount,
                kind=Transfer.Kind.REFUND,
                idempotency_key=f"stars:{locked.charge_id}:refund",
                metadata={"charge_id": locked.charge_id, "deposit": locked.pk},
                actor=actor,
            )
        except WalletError as exc:
            if exc.code != "insufficient_funds":
                raise
            raise ServiceError(
                "the group no longer has these Stars available (held for raids or paid out)",
                code="funds_not_available",
                status=409,
            ) from exc
        status = StarsDeposit.Status.REFUNDED
        try:
            botapi.star_payment_refund(
                token=token, user_id=locked.payer_id, charge_id=locked.charge_id
            )
        except ServiceError as exc:
            if exc.code != "charge_already_refunded":
                raise  # nothing reversed: the transaction rolls back
            status = StarsDeposit.Status.REVERSED  # refunded outside: the reversal stands
        _close(locked, status=status, reversal=reversal, shortfall=0)
        history.record(
            action="wallet.stars_deposit_refunded",
            actor=actor,
            tenant=tenant,
            target=("stars_deposit", locked.pk),
            data={"chat_id": chat_id, "amount": locked.amount, "status": status},
            request=request,
        )
    logger.info(
        "wallet.stars_deposit_refunded",
        extra={"tenant_id": tenant.pk, "deposit_id": locked.pk, "status": status},
    )
    return locked


def _close(
    deposit: StarsDeposit, *, status: str, reversal: Transfer | None, shortfall: int
) -> None:
    deposit.status, deposit.reversal, deposit.shortfall = status, reversal, shortfall
    deposit.closed_at = timezone.now()
    deposit.save(update_fields=["status", "reversal", "shortfall", "closed_at"])


def stars_deposit_reverse(*, deposit: StarsDeposit, actor: Actor = SYSTEM) -> StarsDeposit:
    """A deposit refunded outside the platform: take back what the group still has
    available; what it had already spent is its shortfall, and its spending is frozen
    until staff settle it (staff are told). Once per deposit."""
    tenant = deposit.tenant
    external, group = _accounts(tenant, deposit.chat_id)
    with transaction.atomic():
        locked = StarsDeposit.objects.select_for_update().get(pk=deposit.pk)
        if locked.status != StarsDeposit.Status.CREDITED:
            return locked
        _lock_accounts(external, group)
        available = Account.objects.get(pk=group.pk).balance
        take = min(available, locked.amount)
        reversal = None
        if take > 0:
            reversal = transfer_post(
                tenant=tenant,
                debit=group,
                credit=external,
                amount=take,
                kind=Transfer.Kind.REFUND,
                idempotency_key=f"stars:{locked.charge_id}:refund",
                metadata={"charge_id": locked.charge_id, "deposit": locked.pk, "outside": True},
                actor=actor,
            )
        shortfall = locked.amount - take
        _close(locked, status=StarsDeposit.Status.REVERSED, reversal=reversal, shortfall=shortfall)
        history.record(
            action="wallet.stars_deposit_reversed",
            actor=actor,
            tenant=tenant,
            target=("stars_deposit", locked.pk),
            data={"chat_id": locked.chat_id, "reversed": take, "shortfall": shortfall},
        )
        if shortfall:
            reason = f"Stars deposit {locked.pk} refunded outside the platform, {shortfall} short"
            spending_freeze(
                tenant=tenant,
                owner_kind="group",
                owner_id=locked.chat_id,
                reason=reason,
                actor=actor,
            )
            staff_alert(
                text=f"Wallet: group {locked.chat_id} of {tenant.slug} frozen. {reason}.",
                key=f"stars:{locked.charge_id}:frozen",
            )
    logger.warning(
        "wallet.stars_deposit_reversed",
        extra={"tenant_id": tenant.pk, "deposit_id": locked.pk, "shortfall": shortfall},
    )
    return locked


def spending_freeze(
    *, tenant: Tenant, owner_kind: str, owner_id: int, reason: str, actor: Actor = SYSTEM
) -> Freeze:
    """Stop the owner's spending (``hold_create`` refuses ``spending_frozen``) until
    ``spending_unfreeze``. Freezing a frozen owner keeps the first freeze."""
    with transaction.atomic():
        freeze, created = Freeze.objects.get_or_create(
            tenant=tenant,
            owner_kind=owner_kind,
            owner_id=owner_id,
            lifted_at=None,
            defaults={"reason": reason[:255]},
        )
        if created:
            history.record(
                action="wallet.spending_frozen",
                actor=actor,
                tenant=tenant,
                target=(owner_kind, owner_id),
                data={"reason": freeze.reason},
            )
    return freeze


def spending_unfreeze(*, tenant: Tenant, owner_kind: str, owner_id: int, actor: Actor) -> bool:
    """Lift the owner's freeze (staff, once the shortfall is settled); False if none."""
    with transaction.atomic():
        lifted = Freeze.objects.filter(
            tenant=tenant, owner_kind=owner_kind, owner_id=owner_id, lifted_at__isnull=True
        ).update(lifted_at=timezone.now())
        if lifted:
            history.record(
                action="wallet.spending_unfrozen",
                actor=actor,
                tenant=tenant,
                target=(owner_kind, owner_id),
            )
    return bool(lifted)


def staff_alert(*, text: str, key: str, staff: Iterable[TelegramUser] | None = None) -> int:
    """Queue ``text`` to every platform staff user through the platform bot (family
    ``alert.*``), in the caller's transaction; returns how many were queued."""
    platform = tenant_get(slug="public")
    if platform is None:
        return 0
    queued = 0
    for user in staff if staff is not None else staff_list():
        message = notify(
            tenant=platform,
            event="alert.wallet",
            text=text[:4096],
            user=user,
            idempotency_key=f"{key}:{user.telegram_id}"[:200],
        )
        queued += message is not None
    return queued

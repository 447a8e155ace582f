"""Plain functions the wallet tests share: accounts of a tenant, funding, invariants."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import httpx
from rest_framework.test import APIClient

from tenancy.services import chat_bind
from tests.helpers import tenant_bot_token
from wallet.models import Account, Entry, Hold, StarsDeposit, Transfer
from wallet.selectors import ledger_check
from wallet.services import (
    account_get_or_create,
    hold_create,
    stars_payment_credit,
    stars_topup_create,
    transfer_post,
)
from wallet.services.stars import stars_payload

_keys = itertools.count(1)


def key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}"


def external(tenant, currency: str = "USDT") -> Account:
    """Where a tenant's deposits come from and withdrawals go (a system account)."""
    return account_get_or_create(
        tenant=tenant, owner_kind="tenant", owner_id=tenant.pk, currency=currency, kind="external"
    )


def user_account(tenant, user_id: int, currency: str = "USDT") -> Account:
    return account_get_or_create(
        tenant=tenant, owner_kind="user", owner_id=user_id, currency=currency, kind="available"
    )


def group_account(tenant, chat_id: int = -100123, currency: str = "USDT") -> Account:
    return account_get_or_create(
        tenant=tenant, owner_kind="group", owner_id=chat_id, currency=currency, kind="available"
    )


def deposit(tenant, account: Account, amount: int) -> Transfer:
    return transfer_post(
        tenant=tenant,
        debit=external(tenant, account.currency),
        credit=account,
        amount=amount,
        kind="deposit",
        idempotency_key=key("deposit"),
    )


def balance(account: Account) -> int:
    return Account.objects.get(pk=account.pk).balance


def assert_consistent() -> None:
    """Every invariant ``wallet verify`` checks holds."""
    check = ledger_check()
    assert check.problem is None, check.problem


# --- Provider deposits and withdrawals (the sandbox provider over HTTP) ----------------

PROVIDER_API_KEY = "sk_test_wallet_provider"
PROVIDER_SECRET = "whsec_test_wallet_provider"
WEBHOOK_URL = "/api/v1/wallet/deposits/webhook/sandbox"
TRON_ADDRESS = "TJYeasTPa6gpEEfYqCVbV2vGT5tq1yfrPo"


def signature_for(body: bytes, *, secret: str = PROVIDER_SECRET, at: int | None = None) -> str:
    """A signature header the way the provider makes it (for bodies a test writes)."""
    from sandbox.provider.signing import header

    return header(secret, at if at is not None else int(time.time()), body)


def deliver(received, provider: str = "sandbox"):
    """Post what the sandbox provider delivered (its raw body and signature header, as
    received over HTTP) to the platform's webhook; returns the response."""
    return post_signed(received.body, received.headers.get("X-Provider-Signature"), provider)


def post_signed(body: bytes, signature: str | None, provider: str = "sandbox"):
    """Post ``body`` with that signature header (None: without one) to the webhook."""
    extra = {"HTTP_X_PROVIDER_SIGNATURE": signature} if signature is not None else {}
    return APIClient().post(
        f"/api/v1/wallet/deposits/webhook/{provider}",
        data=body,
        content_type="application/json",
        HTTP_HOST="testserver",
        **extra,
    )


def run_payout_jobs() -> list[str]:
    """Claim and run every due payout job, as the bot runtime would; their new statuses."""
    from botruntime.services import job_run, jobs_claim
    from wallet.services.withdrawals import PAYOUT_JOB

    ran = []
    while claimed := jobs_claim(worker="test", limit=10, kinds=[PAYOUT_JOB]):
        ran += [job_run(job=job, worker="test") for job in claimed]
    return ran


def fund_user(tenant, user_id: int, amount: int, currency: str = "USDT") -> Account:
    account = user_account(tenant, user_id, currency)
    deposit(tenant, account, amount)
    return account


def escrow_of_user(tenant, user_id: int, currency: str = "USDT") -> int:
    found = Account.objects.filter(
        tenant=tenant, owner_kind="user", owner_id=user_id, currency=currency, kind="escrow"
    ).first()
    return found.balance if found else 0


# --- Stars deposits ------------------------------------------------------------------


@dataclass
class StarsGroup:
    """A community whose bot serves a bound group on the sandbox, with its funds admin."""

    tg: Any
    tenant: Any
    bot_id: int
    chat_id: int
    admin: int

    def account(self) -> Account:
        return group_account(self.tenant, self.chat_id, currency="XTR")

    def join(self, user_id: int, status: str = "member") -> int:
        """``user_id`` in the group on Telegram (``status`` as getChatMember says it)."""
        self.tg.set_member(self.chat_id, user_id, status)
        return user_id

    def hold(self, amount: int, reference: str, idempotency_key: str) -> Hold:
        """A hold of ``amount`` on the group's Stars, as a raid's budget takes it."""
        return hold_create(
            tenant=self.tenant,
            group_account=self.account(),
            amount=amount,
            reference=reference,
            idempotency_key=idempotency_key,
        )

    def refund_outside(self, deposit: StarsDeposit) -> None:
        """The brand's owner refunds ``deposit`` with the bot's token, outside the platform."""
        self.tg.refund_star_payment(self.bot_id, deposit.payer_id, deposit.charge_id)

    def topup(self, amount: int) -> Any:
        """A top-up of ``amount`` the admin asked for, its invoice sent in the group."""
        return stars_topup_create(
            tenant=self.tenant,
            chat_id=self.chat_id,
            requested_by=self.admin,
            amount=amount,
            bot_id=self.bot_id,
            invoice_chat_id=self.chat_id,
        )

    def pay(self, payer: int, amount: int) -> StarsDeposit:
        """A top-up of ``amount`` paid by ``payer`` and credited, as the handlers do it
        (without a runtime): for tests of what follows a deposit."""
        topup = self.topup(amount)
        updates = self.tg.pay_stars(self.bot_id, payer, stars_payload(topup), amount)
        query = updates[0]["pre_checkout_query"]
        token = tenant_bot_token(self.tenant)
        answered = httpx.post(
            f"{self.tg.base_url}/bot{token}/answerPreCheckoutQuery",
            json={"pre_checkout_query_id": query["id"], "ok": True},
        )
        assert answered.status_code == 200, answered.text
        charge = self.tg.star_transactions(self.bot_id)[0]["id"]
        deposit = stars_payment_credit(
            bot_id=self.bot_id,
            payload=stars_payload(topup),
            currency="XTR",
            amount=amount,
            charge_id=charge,
            payer_id=payer,
        )
        assert deposit is not None
        return deposit


# --- the read API (tests of wallet.views) -------------------------------------------


def bind_group(tenant, chat_id: int = -100123, title: str = "Funds group") -> int:
    """A group bound to the tenant: what the API's group endpoints address."""
    chat_bind(tenant=tenant, chat_id=chat_id, title=title)
    return chat_id


def move(tenant, debit: Account, credit: Account, amount: int, kind: str, **metadata) -> Transfer:
    return transfer_post(
        tenant=tenant,
        debit=debit,
        credit=credit,
        amount=amount,
        kind=kind,
        idempotency_key=key(kind),
        metadata=metadata,
    )


def ledger_counts() -> tuple[int, int, int]:
    """Accounts, transfers and entries: a read must leave all three alone."""
    return Account.objects.count(), Transfer.objects.count(), Entry.objects.count()

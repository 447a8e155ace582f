"""Writes of the ledger, one module per sub-domain:

- ``ledger``: accounts and transfers (``account_get_or_create``, ``transfer_post``);
- ``holds``: escrow for raid budgets (``hold_create``, ``hold_settle``, ``hold_cancel``);
- ``retry``: one transaction per operation, retried on deadlock or serialization failure;
- ``deposits``: payment-provider webhooks (``provider_event_receive``);
- ``withdrawals``: users' withdrawals and their payouts (``withdrawal_request`` ...).

- ``stars``: Telegram Stars top-ups, deposits, refunds and spending freezes;
- ``stars_reconcile``: matching the bots' Stars transactions to the ledger (daily job).

Other apps import from here (``wallet.services.transfer_post``); reads are in
``wallet.selectors``. Errors are ``wallet.errors.WalletError`` with a ``code``.
"""

from wallet.services.deposits import Receipt, provider_event_receive
from wallet.services.holds import Settlement, hold_cancel, hold_create, hold_settle
from wallet.services.ledger import (
    account_get_or_create,
    accounts_get_or_create,
    is_system_account,
    transfer_post,
)
from wallet.services.stars import (
    spending_freeze,
    spending_unfreeze,
    stars_deposit_refund,
    stars_deposit_reverse,
    stars_payment_credit,
    stars_precheckout_refusal,
    stars_topup_create,
    stars_topup_request,
)
from wallet.services.stars_reconcile import stars_reconcile
from wallet.services.withdrawals import (
    Requested,
    withdrawal_approve,
    withdrawal_payout_record,
    withdrawal_payout_send,
    withdrawal_policy_set,
    withdrawal_reject,
    withdrawal_request,
)

__all__ = [
    "Receipt",
    "Requested",
    "Settlement",
    "account_get_or_create",
    "accounts_get_or_create",
    "hold_cancel",
    "hold_create",
    "hold_settle",
    "is_system_account",
    "provider_event_receive",
    "spending_freeze",
    "spending_unfreeze",
    "stars_deposit_refund",
    "stars_deposit_reverse",
    "stars_payment_credit",
    "stars_precheckout_refusal",
    "stars_reconcile",
    "stars_topup_create",
    "stars_topup_request",
    "transfer_post",
    "withdrawal_approve",
    "withdrawal_payout_record",
    "withdrawal_payout_send",
    "withdrawal_policy_set",
    "withdrawal_reject",
    "withdrawal_request",
]

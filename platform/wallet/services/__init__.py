"""Writes of the ledger, one module per sub-domain:

- ``ledger``: accounts and transfers (``account_get_or_create``, ``transfer_post``);
- ``holds``: escrow for raid budgets (``hold_create``, ``hold_settle``, ``hold_cancel``);
- ``retry``: one transaction per operation, retried on deadlock or serialization failure.

Other apps import from here (``wallet.services.transfer_post``); reads are in
``wallet.selectors``. Errors are ``wallet.errors.WalletError`` with a ``code``.
"""

from wallet.services.holds import Settlement, hold_cancel, hold_create, hold_settle
from wallet.services.ledger import (
    account_get_or_create,
    accounts_get_or_create,
    is_system_account,
    transfer_post,
)

__all__ = [
    "Settlement",
    "account_get_or_create",
    "accounts_get_or_create",
    "hold_cancel",
    "hold_create",
    "hold_settle",
    "is_system_account",
    "transfer_post",
]

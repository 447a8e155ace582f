"""Withdrawal destinations, checked per currency before anything is held: a payout to a
mistyped address is lost money. A currency with no rule here cannot be withdrawn (Stars,
XTR, only move inside Telegram)."""

from __future__ import annotations

import re

_TRON = r"T[1-9A-HJ-NP-Za-km-z]{33}"  # base58check, as USDT on TRON
_EVM = r"0x[0-9a-fA-F]{40}"  # USDT/USDC on Ethereum and its kin
_TON = r"(?:[EU]Q[A-Za-z0-9_-]{46}|-?[01]:[0-9a-fA-F]{64})"  # user-friendly or raw

RULES: dict[str, re.Pattern[str]] = {
    "USDT": re.compile(rf"^(?:{_TRON}|{_EVM})$"),
    "USDC": re.compile(rf"^{_EVM}$"),
    "ETH": re.compile(rf"^{_EVM}$"),
    "TON": re.compile(rf"^{_TON}$"),
    "BTC": re.compile(r"^(?:bc1[02-9ac-hj-np-z]{11,71}|[13][1-9A-HJ-NP-Za-km-z]{25,34})$"),
}


def withdrawable(currency: str) -> bool:
    return currency in RULES


def destination_valid(currency: str, destination: str) -> bool:
    rule = RULES.get(currency)
    return rule is not None and rule.match(destination) is not None

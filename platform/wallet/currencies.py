"""Currencies and amounts. An amount is an ``int`` count of the currency's minor unit
(10^-exponent of one unit) everywhere: in the database (bigint), in services and in
APIs. Only display turns it into a decimal string, and only parsing turns one back."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.conf import settings

_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
MAX_EXPONENT = 18  # 10^18 minor units still fit a bigint many times over for real sums


def currencies_parse(text: str) -> dict[str, int]:
    """``"XTR:0,USDT:6"`` → ``{"XTR": 0, "USDT": 6}`` (the ``WALLET_CURRENCIES`` setting).
    A malformed value stops the process at startup rather than mis-scaling amounts."""
    currencies: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        code, sep, exponent = item.partition(":")
        code = code.strip().upper()
        if not sep or not _CODE.match(code) or not exponent.strip().isdigit():
            raise ValueError(f"WALLET_CURRENCIES: {item!r} is not CODE:EXPONENT (e.g. USDT:6)")
        if int(exponent) > MAX_EXPONENT:
            raise ValueError(f"WALLET_CURRENCIES: exponent of {code} above {MAX_EXPONENT}")
        if code in currencies:
            raise ValueError(f"WALLET_CURRENCIES: {code} given twice")
        currencies[code] = int(exponent)
    if not currencies:
        raise ValueError("WALLET_CURRENCIES names no currency")
    return currencies


def currencies() -> dict[str, int]:
    configured: dict[str, int] = settings.WALLET_CURRENCIES
    return configured


def exponent_of(currency: str) -> int:
    """The currency's minor-unit exponent; KeyError for a currency not configured."""
    return currencies()[currency]


def amount_format(amount: int, currency: str) -> str:
    """1500000 minor units of USDT (exponent 6) → ``"1.5 USDT"``; integers only, so
    no rounding ever happens on the way."""
    return f"{amount_decimal(amount, exponent_of(currency))} {currency}"


def amount_parse(text: str, currency: str) -> int:
    """``"1.5"`` USDT → 1500000. More decimals than the currency has is an error, not a
    rounding."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    minor = value.scaleb(exponent_of(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{currency} has {exponent_of(currency)} decimal places at most")
    return int(minor)


def amount_decimal(amount: int, exponent: int) -> str:
    """The amount as a plain decimal string without its code (1500000, exponent 6 →
    ``"1.5"``), what exports and APIs show beside the raw minor units; exact (no floats)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("amounts are int minor units")
    whole, fraction = divmod(abs(amount), 10**exponent)
    sign = "-" if amount < 0 else ""
    digits = str(fraction).rjust(exponent, "0").rstrip("0") if exponent else ""
    return f"{sign}{whole}{'.' + digits if digits else ''}"

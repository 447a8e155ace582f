"""Amounts are integers of minor units; only display and parsing see decimals."""

from __future__ import annotations

import pytest

from wallet.currencies import amount_format, amount_parse, currencies_parse


def test_the_setting_parses_and_refuses_what_would_mis_scale_amounts():
    assert currencies_parse("XTR:0, usdt:6,TON:9") == {"XTR": 0, "USDT": 6, "TON": 9}
    for bad in ("", "USDT", "USDT:x", "USDT:6,USDT:2", "U:6", "USDT:-1", "USDT:19"):
        with pytest.raises(ValueError):
            currencies_parse(bad)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1_500_000, "USDT", "1.5 USDT"),
        (1, "USDT", "0.000001 USDT"),
        (-2_000_000, "USDT", "-2 USDT"),
        (0, "TON", "0 TON"),
        (1_000_000_001, "TON", "1.000000001 TON"),
        (250, "XTR", "250 XTR"),
    ],
)
def test_minor_units_format_and_parse_back(amount, currency, text):
    assert amount_format(amount, currency) == text
    assert amount_parse(text.split()[0], currency) == amount


def test_parsing_never_rounds():
    with pytest.raises(ValueError):
        amount_parse("0.0000001", "USDT")
    with pytest.raises(ValueError):
        amount_parse("1.5", "XTR")
    with pytest.raises(ValueError):
        amount_parse("NaN", "USDT")
    with pytest.raises(TypeError):
        amount_format(1.5, "USDT")  # type: ignore[arg-type]

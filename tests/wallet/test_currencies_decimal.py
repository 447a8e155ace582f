"""amount_decimal: minor units as an exact decimal string, the code left off."""

from __future__ import annotations

import pytest

from wallet.currencies import amount_decimal, amount_format


@pytest.mark.parametrize(
    ("amount", "exponent", "text"),
    [
        (1_500_000, 6, "1.5"),
        (-250_001, 6, "-0.250001"),
        (0, 9, "0"),
        (42, 0, "42"),
        (10**27 + 1, 9, "1000000000000000000.000000001"),
    ],
)
def test_amount_decimal(amount, exponent, text) -> None:
    assert amount_decimal(amount, exponent) == text


def test_amount_format_is_the_decimal_and_the_code(settings) -> None:
    assert amount_format(-1_500_000, "USDT") == "-1.5 USDT"
    with pytest.raises(TypeError):
        amount_decimal(1.5, 6)  # type: ignore[arg-type]  # what the check is for
    with pytest.raises(TypeError):
        amount_decimal(True, 0)

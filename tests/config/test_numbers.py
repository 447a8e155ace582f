"""Whole numbers as people type them: ASCII digits, bounded."""

from __future__ import annotations

from config.numbers import whole_number


def test_ascii_digits_up_to_the_bound_are_read():
    assert [whole_number(t) for t in ("0", "12", "9" * 18)] == [0, 12, int("9" * 18)]
    assert whole_number("12345", max_digits=5) == 12345


def test_anything_else_is_none():
    # "²" and "١٢" pass str.isdigit; the first makes int() raise, the second reads as 12.
    typed = ["²", "١٢", "9" * 19, "-1", "+1", " 1", "1.0", "1e3", "", "0x1"]
    assert [whole_number(t) for t in typed] == [None] * len(typed)
    assert whole_number("123456", max_digits=5) is None

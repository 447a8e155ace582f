"""Whole numbers as people and peers type them."""

from __future__ import annotations


def whole_number(text: str, *, max_digits: int = 18) -> int | None:
    """``text`` as a whole number of at most ``max_digits`` ASCII digits (18 fit a bigint);
    None for anything else. ``str.isdigit`` alone also accepts "²", which ``int()``
    refuses, and "١٢", which it reads: a command's argument is neither."""
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None

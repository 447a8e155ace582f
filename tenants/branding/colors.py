"""A brand's colours: hex values, their WCAG 2.x contrast, and the Mini App theme they
make (pure functions)."""

from __future__ import annotations

import re

HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
ROLES = ("primary", "accent", "background", "text")
# WCAG 2.x level AA for normal text.
MIN_CONTRAST = 4.5
# Text is read on the background and on buttons (the primary colour).
PAIRS = (("text", "background"), ("text", "primary"))


class ColorError(ValueError):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """WCAG 2.x relative luminance of ``#RRGGBB``."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio of two colours, from 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def colors_check(colors: dict[str, str]) -> dict[str, str]:
    """The four colours as lower-case ``#rrggbb`` if each is hex and text stays readable
    on the background and on buttons; ColorError names the pair and its ratio."""
    checked = {}
    for role in ROLES:
        value = colors.get(role)
        if not isinstance(value, str) or not HEX.match(value):
            raise ColorError(f"{role} must be a colour as #RRGGBB", code="invalid_color")
        checked[role] = value.lower()
    for fg, bg in PAIRS:
        ratio = contrast(checked[fg], checked[bg])
        if ratio < MIN_CONTRAST:
            raise ColorError(
                f"{fg} {checked[fg]} on {bg} {checked[bg]} has a contrast ratio of"
                f" {ratio:.2f}:1; at least {MIN_CONTRAST}:1 is needed (WCAG AA)",
                code="low_contrast",
            )
    return checked


def theme_params(colors: dict[str, str]) -> dict[str, str]:
    """The brand's colours as Telegram themeParams keys; the Mini App lays them over the
    themeParams Telegram gives it (keys not here keep Telegram's values). Empty when the
    brand has no colours."""
    if not colors:
        return {}
    return {
        "bg_color": colors["background"],
        "text_color": colors["text"],
        "button_color": colors["primary"],
        "button_text_color": colors["text"],
        "accent_text_color": colors["accent"],
    }

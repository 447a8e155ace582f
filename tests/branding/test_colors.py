"""Colours: WCAG 2.x contrast, the checks that keep text readable, and the themeParams."""

from __future__ import annotations

import pytest

from branding.colors import ColorError, colors_check, contrast, theme_params

GOOD = {"primary": "#F5A623", "accent": "#1A4D8F", "background": "#FFFFFF", "text": "#000000"}


def test_contrast_matches_the_wcag_reference_values():
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    # WebAIM's checker: #777777 on white is 4.48:1, #767676 4.54:1.
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


def test_good_colours_pass_lower_cased():
    checked = colors_check({**GOOD, "primary": "#AABBCC"} | {"text": "#000000"})
    assert checked["primary"] == "#aabbcc"


def test_text_too_light_on_the_background_is_refused_naming_pair_and_ratio():
    with pytest.raises(ColorError) as refused:
        colors_check({**GOOD, "text": "#777777"})
    assert refused.value.code == "low_contrast"
    message = refused.value.message
    assert "text #777777 on background #ffffff" in message and "4.48:1" in message


def test_text_unreadable_on_buttons_is_refused():
    with pytest.raises(ColorError) as refused:
        colors_check({**GOOD, "primary": "#111111"})
    assert "on primary #111111" in refused.value.message


@pytest.mark.parametrize("value", ["red", "#fff", "#GGGGGG", "#1234567", None, 123])
def test_a_colour_that_is_not_hex_rrggbb_is_refused(value):
    with pytest.raises(ColorError) as refused:
        colors_check({**GOOD, "accent": value})
    assert refused.value.code == "invalid_color" and "accent" in refused.value.message


def test_theme_params_map_the_colours_to_telegram_keys():
    assert theme_params(colors_check(GOOD)) == {
        "bg_color": "#ffffff",
        "text_color": "#000000",
        "button_color": "#f5a623",
        "button_text_color": "#000000",
        "accent_text_color": "#1a4d8f",
    }
    assert theme_params({}) == {}

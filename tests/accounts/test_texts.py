"""The core replies' text providers: the first that has a text wins, None keeps the
built-in text, registering twice registers once."""

from __future__ import annotations

import pytest

from accounts import texts


@pytest.fixture
def providers(monkeypatch):
    monkeypatch.setattr(texts, "_providers", [])
    return texts


def test_no_provider_keeps_the_built_in_text(providers):
    assert (
        providers.bot_text(tenant=None, bot_id=1, key="welcome", language="en", values={}) is None
    )


def test_the_first_provider_with_a_text_wins(providers):
    calls = []

    def silent(**kwargs):
        calls.append(kwargs["key"])
        return None

    def brand(**kwargs):
        return f"{kwargs['key']} for {kwargs['values']['first_name']}"

    providers.register(silent)
    providers.register(brand)
    providers.register(brand)
    text = providers.bot_text(
        tenant=None, bot_id=1, key="welcome", language="en", values={"first_name": "Al"}
    )
    assert text == "welcome for Al" and calls == ["welcome"]
    assert providers._providers == [silent, brand]
    providers.unregister(brand)
    assert providers.bot_text(tenant=None, bot_id=1, key="help", language="en", values={}) is None


def test_branding_registers_its_provider():
    from branding.texts import bot_text

    assert bot_text in texts._providers

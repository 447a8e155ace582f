"""WALLET_PROVIDERS: parsed once at startup (a malformed value stops the process), the
sandbox by default in development only, secrets in clear or encrypted."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from config.encryption import encrypt
from wallet.providers import provider_default, provider_get
from wallet.providers.config import ProviderConfig, providers_parse
from wallet.providers.sandbox import SandboxProvider


def test_unset_is_the_sandbox_in_development_and_nothing_in_production():
    assert list(providers_parse("", development=True)) == ["sandbox"]
    assert providers_parse("  ", development=False) == {}


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        "{}",
        '{"Bad-Name": {}}',
        '{"acme": "x"}',
        '{"acme": {"adapter": "sandbox", "base_url": "http://x", "api_key": "k"}}',
        '{"acme": {"adapter": "sandbox", "base_url": "http://x", "api_key": "k", '
        '"webhook_secret": "s", "extra": 1}}',
    ],
)
def test_a_malformed_value_is_a_startup_error(text):
    with pytest.raises(ValueError, match="WALLET_PROVIDERS"):
        providers_parse(text, development=True)


def test_encrypted_secrets_reach_the_adapter_in_clear(settings):
    text = json.dumps(
        {
            "acme": {
                "adapter": "sandbox",
                "base_url": "http://127.0.0.1:1/",
                "api_key": "fernet:" + encrypt("sk_live_1"),
                "webhook_secret": "whsec_clear",
            }
        }
    )
    settings.WALLET_PROVIDERS = providers_parse(text, development=False)
    settings.WALLET_WITHDRAWAL_PROVIDER = ""
    adapter = provider_default()
    assert isinstance(adapter, SandboxProvider)
    assert (adapter.name, adapter.base_url, adapter.api_key, adapter.webhook_secret) == (
        "acme",
        "http://127.0.0.1:1",
        "sk_live_1",
        "whsec_clear",
    )
    assert provider_get("sandbox") is None
    settings.WALLET_PROVIDERS = {"x": ProviderConfig("x", "no-such-adapter", "http://x", "k", "s")}
    assert provider_get("x") is None and provider_default() is None


def test_an_unknown_adapter_stops_the_process_at_startup(settings):
    settings.WALLET_PROVIDERS = {"x": ProviderConfig("x", "no-such-adapter", "http://x", "k", "s")}
    with pytest.raises(ImproperlyConfigured, match="no-such-adapter"):
        apps.get_app_config("wallet").ready()


def test_a_providers_secrets_stay_out_of_its_printed_form():
    config = ProviderConfig(
        name="acme",
        adapter="sandbox",
        base_url="https://pay.example",
        api_key="sk_live_do_not_print",
        webhook_secret="whsec_do_not_print",
    )
    shown = repr({"acme": config})
    assert "acme" in shown and "https://pay.example" in shown
    assert "sk_live_do_not_print" not in shown and "whsec_do_not_print" not in shown

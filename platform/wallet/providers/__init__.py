"""Payment-provider adapters: ``base.Provider`` and the adapters by name (``ADAPTERS``),
configured by the ``WALLET_PROVIDERS`` setting (``config.py``). ``provider_get(name)``
answers the adapter of a configured provider, ``provider_default()`` the one withdrawals
use (``WALLET_WITHDRAWAL_PROVIDER``, else the first configured)."""

from __future__ import annotations

from django.conf import settings

from config.encryption import decrypt
from wallet.providers.base import Provider
from wallet.providers.config import ENCRYPTED_PREFIX, ProviderConfig
from wallet.providers.sandbox import SandboxProvider

# adapter name (the "adapter" of a WALLET_PROVIDERS entry) → its class
ADAPTERS: dict[str, type[Provider]] = {"sandbox": SandboxProvider}


def _secret(value: str) -> str:
    return (
        decrypt(value.removeprefix(ENCRYPTED_PREFIX))
        if value.startswith(ENCRYPTED_PREFIX)
        else value
    )


def providers() -> dict[str, ProviderConfig]:
    configured: dict[str, ProviderConfig] = settings.WALLET_PROVIDERS
    return configured


def provider_get(name: str) -> Provider | None:
    """The adapter of the provider configured as ``name``; None when there is none."""
    config = providers().get(name)
    if config is None or config.adapter not in ADAPTERS:
        return None
    return ADAPTERS[config.adapter](
        name=config.name,
        base_url=config.base_url,
        api_key=_secret(config.api_key),
        webhook_secret=_secret(config.webhook_secret),
        tolerance=settings.WALLET_WEBHOOK_TOLERANCE_S,
    )


def provider_default() -> Provider | None:
    name = settings.WALLET_WITHDRAWAL_PROVIDER or next(iter(providers()), "")
    return provider_get(name) if name else None

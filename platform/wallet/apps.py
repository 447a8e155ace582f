from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class WalletConfig(AppConfig):
    name = "wallet"
    verbose_name = "Wallet"

    def ready(self) -> None:
        from wallet import notices  # noqa: F401  registers the withdrawal.* notifications
        from wallet.providers import ADAPTERS, providers

        # A provider whose adapter does not exist would refuse every webhook: stop instead.
        unknown = sorted(c.adapter for c in providers().values() if c.adapter not in ADAPTERS)
        if unknown:
            raise ImproperlyConfigured(
                f"WALLET_PROVIDERS names unknown adapters {unknown}; known: {sorted(ADAPTERS)}"
            )

"""The texts of the core commands' replies, which an app above accounts may supply: a
brand's own /start and /help (branding registers its provider in ``AppConfig.ready``).
accounts cannot import those apps, so they register here instead; with no provider, or
when every provider returns None, the core commands keep their built-in texts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tenancy.models import Tenant


class TextProvider(Protocol):
    def __call__(
        self,
        *,
        tenant: Tenant,
        bot_id: int,
        key: str,
        language: str,
        values: Mapping[str, object],
    ) -> str | None: ...


_providers: list[TextProvider] = []


def register(provider: TextProvider) -> None:
    """Add ``provider`` (once: ``ready`` may run again in tests)."""
    if provider not in _providers:
        _providers.append(provider)


def unregister(provider: TextProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def bot_text(
    *, tenant: Tenant, bot_id: int, key: str, language: str, values: Mapping[str, object]
) -> str | None:
    """The reply ``key`` ("welcome", "help") of bot ``bot_id`` in ``language`` as Telegram
    HTML, from the first provider that has one; None keeps the built-in text. Sync: call
    it through ``sync_to_async`` (providers read the tenant's schema)."""
    for provider in _providers:
        text = provider(tenant=tenant, bot_id=bot_id, key=key, language=language, values=values)
        if text is not None:
            return text
    return None

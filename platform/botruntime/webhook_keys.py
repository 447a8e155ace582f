"""The webhook secrets: what Telegram must send in ``X-Telegram-Bot-Api-Secret-Token`` for a
bot's update to be accepted.

A secret is an HMAC of the bot's id under a key only the servers hold
(``BOT_WEBHOOK_SECRET_KEY``), never of the bot's token: a tenant owner holds their token,
and a secret they could compute would let them POST any update (any sender, any chat) to
their bot's webhook. Stable across restarts and replicas that share the key.

Rotation: set the new key, move the old one to ``BOT_WEBHOOK_SECRET_KEY_PREVIOUS`` and
restart the runtimes; each registers its bots' webhooks with the new key's secret while
either key's secret is accepted. Once every runtime runs the new key, drop the previous
one: its secrets are refused from then on.

Without ``BOT_WEBHOOK_SECRET_KEY`` (development) the key is derived from ``SECRET_KEY``
and a warning says so; ``manage.py check --deploy`` refuses that when webhooks are
configured (``botruntime.checks``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math

from django.conf import settings

from config.cache import MISS, TTLCache

logger = logging.getLogger(__name__)

KEY_VERSION = "v2"  # v1 was keyed by the bot's token
MIN_KEY_LENGTH = 32


def _derived(secret_key: str) -> str:
    return hmac.new(secret_key.encode(), b"bragabot webhook secret key", hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=8)
def _keys(current: str, previous: str, secret_key: str) -> tuple[bytes, ...]:
    if not current:
        logger.warning(
            "botruntime.webhook_key_derived",
            extra={"detail": "BOT_WEBHOOK_SECRET_KEY is unset: derived from SECRET_KEY"},
        )
        current = _derived(secret_key)
    return tuple(key.encode() for key in (current, previous) if key)


def webhook_keys() -> tuple[bytes, ...]:
    """The accepted keys: the current one first, then the previous one during a rollover."""
    return _keys(
        settings.BOT_WEBHOOK_SECRET_KEY,
        settings.BOT_WEBHOOK_SECRET_KEY_PREVIOUS,
        settings.SECRET_KEY,
    )


def webhook_secret_for(bot_id: int, key: bytes) -> str:
    """64 hex digits: within the ``[A-Za-z0-9_-]{1,256}`` Telegram allows."""
    message = f"bragabot webhook {KEY_VERSION}:{bot_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def webhook_secret(bot_id: int) -> str:
    """The secret registered with setWebhook for this bot: the current key's."""
    return webhook_secret_for(bot_id, webhook_keys()[0])


# A bot's secrets under a key set: derived once, not for every webhook delivery. A pure
# function of its key (no TTL); a rollover is a new key set, so it derives them anew.
SECRETS: TTLCache[tuple[int, tuple[bytes, ...]], tuple[bytes, ...]] = TTLCache(
    "botruntime.webhook_secrets", ttl=math.inf, maxsize=100_000
)


def _secrets(bot_id: int, keys: tuple[bytes, ...]) -> tuple[bytes, ...]:
    found = SECRETS.get((bot_id, keys))
    if found is MISS:
        found = tuple(webhook_secret_for(bot_id, key).encode() for key in keys)
        SECRETS.set((bot_id, keys), found)
    return found


def webhook_secret_accepted(bot_id: int, presented: str) -> bool:
    """Whether ``presented`` is this bot's secret under the current or the previous key
    (compared in constant time, every key tried)."""
    given = presented.encode()
    matches = [hmac.compare_digest(given, secret) for secret in _secrets(bot_id, webhook_keys())]
    return any(matches)

"""Deployment checks of the bot runtime (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from botruntime.webhook_keys import MIN_KEY_LENGTH


@checks.register(checks.Tags.security, deploy=True)
def webhook_secret_key_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Webhooks in production need a key of their own: one derived from SECRET_KEY ties
    the webhooks' secrets to it, and a short key can be guessed offline from one secret."""
    if not settings.BOT_WEBHOOK_URL:
        return []
    key = settings.BOT_WEBHOOK_SECRET_KEY
    if not key:
        return [
            checks.Error(
                "BOT_WEBHOOK_URL is set but BOT_WEBHOOK_SECRET_KEY is not: the webhooks' "
                "secret tokens would be derived from SECRET_KEY",
                hint="set BOT_WEBHOOK_SECRET_KEY to a random string of 32+ characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')",
                id="botruntime.E001",
            )
        ]
    if len(key) < MIN_KEY_LENGTH:
        return [
            checks.Error(
                f"BOT_WEBHOOK_SECRET_KEY is shorter than {MIN_KEY_LENGTH} characters",
                id="botruntime.E002",
            )
        ]
    return []

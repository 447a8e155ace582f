"""Getting updates: getUpdates (long polling), setWebhook, deleteWebhook, getWebhookInfo."""

from __future__ import annotations

import re
from typing import Any

from sandbox.telegram.errors import ApiError, bad_request
from sandbox.telegram.methods.registry import Call, method
from sandbox.telegram.objects import JSONDict
from sandbox.telegram.results import Described
from sandbox.telegram.world import UPDATE_TYPES, BotState, Webhook


def webhook_active() -> ApiError:
    return ApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    )


def terminated() -> ApiError:
    return ApiError(
        409,
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    )


_SECRET = re.compile(r"[A-Za-z0-9_-]+")


def _allowed_updates(call: Call) -> None:
    """An allowed_updates list replaces the bot's setting; absent, the last one stays.
    Names Telegram does not know are ignored, as Telegram does."""
    if "allowed_updates" not in call.params.values:
        return
    allowed = call.params.json("allowed_updates")
    if allowed is None:
        return
    if not isinstance(allowed, list):
        raise bad_request("can't parse allowed_updates JSON array")
    call.bot.allowed_updates = tuple(a for a in allowed if a in UPDATE_TYPES)


def _confirm(bot: BotState, offset: int) -> None:
    """Forget confirmed updates: below a positive offset, or all but the last -offset."""
    if offset > 0:
        bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
    elif offset < 0:
        bot.updates = bot.updates[offset:]


@method("getUpdates")
async def get_updates(call: Call) -> list[JSONDict]:
    world, bot, params = call.world, call.bot, call.params
    with world.lock:
        if bot.webhook is not None:
            raise webhook_active()
        offset = params.int("offset", default=0) or 0
        limit = min(max(params.int("limit", default=100) or 100, 1), 100)
        timeout = max(params.int("timeout", default=0) or 0, 0)
        _allowed_updates(call)
        _confirm(bot, offset)
        batch = [dict(u) for u in bot.updates[:limit]]
    if batch or timeout == 0:
        return batch
    outcome = await call.delivery.wait_for_update(bot.id, timeout)
    if outcome == "terminated":
        raise terminated()
    if outcome == "webhook":
        raise webhook_active()
    if outcome == "reset":
        return []
    with world.lock:
        return [dict(u) for u in bot.updates[:limit]]


@method("setWebhook")
def set_webhook(call: Call) -> Described:
    bot, params = call.bot, call.params
    url = params.str("url", default="") or ""
    if not url:
        return _delete(call)
    if not re.match(r"https?://[^/\s]+", url):
        # Telegram takes HTTPS only; the sandbox also takes http:// for loopback receivers.
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.str("secret_token")
    if secret is not None:
        if len(secret) > 256:
            raise bad_request("secret token is too long")
        if not _SECRET.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
    max_connections = min(max(params.int("max_connections", default=40) or 40, 1), 100)
    _allowed_updates(call)
    if params.bool("drop_pending_updates"):
        bot.updates.clear()
    current = bot.webhook
    webhook = Webhook(
        url=url,
        secret_token=secret or None,
        max_connections=max_connections,
        ip_address=params.str("ip_address") or None,
        has_custom_certificate="certificate" in params.files,
    )
    if current is not None and _same(current, webhook):
        return Described(True, "Webhook is already set")
    bot.webhook = webhook
    call.delivery.webhook_changed(bot.id, webhook)
    return Described(True, "Webhook was set")


def _same(a: Webhook, b: Webhook) -> bool:
    keys = ("url", "secret_token", "max_connections", "ip_address", "has_custom_certificate")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def _delete(call: Call) -> Described:
    bot = call.bot
    if call.params.bool("drop_pending_updates"):
        bot.updates.clear()
    if bot.webhook is None:
        return Described(True, "Webhook is already deleted")
    bot.webhook = None
    call.delivery.webhook_changed(bot.id, None)
    return Described(True, "Webhook was deleted")


@method("deleteWebhook")
def delete_webhook(call: Call) -> Described:
    return _delete(call)


@method("getWebhookInfo")
def get_webhook_info(call: Call) -> JSONDict:
    bot, webhook = call.bot, call.bot.webhook
    info: dict[str, Any] = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": bool(webhook and webhook.has_custom_certificate),
        "pending_update_count": len(bot.updates),
    }
    if webhook is None:
        return info
    if webhook.ip_address:
        info["ip_address"] = webhook.ip_address
    if webhook.last_error_date is not None:
        info["last_error_date"] = webhook.last_error_date
        info["last_error_message"] = webhook.last_error_message or ""
    info["max_connections"] = webhook.max_connections
    if bot.allowed_updates:
        info["allowed_updates"] = list(bot.allowed_updates)
    return info

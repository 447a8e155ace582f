"""The bot profile through the Bot API (python-telegram-bot): set it, then read back what
Telegram now shows. Sync functions for services, on short-lived sessions
(``botruntime.outgoing``) against ``settings.TELEGRAM_API_BASE``. Telegram's refusals
become ServiceErrors with stable codes, never raw exceptions."""

from __future__ import annotations

import logging
import math
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    MenuButton,
    MenuButtonCommands,
    MenuButtonDefault,
    MenuButtonWebApp,
    WebAppInfo,
)
from telegram import error as tg_error

from botruntime.outgoing import bot_session, run_sync
from botruntime.replies import retry_after_seconds
from config.errors import ServiceError

logger = logging.getLogger(__name__)


def _menu_button(spec: dict[str, Any]) -> MenuButton:
    if spec.get("type") == "web_app":
        return MenuButtonWebApp(text=spec["text"], web_app=WebAppInfo(spec["url"]))
    if spec.get("type") == "default":
        return MenuButtonDefault()
    return MenuButtonCommands()


def _menu_spec(button: MenuButton) -> dict[str, Any]:
    if isinstance(button, MenuButtonWebApp):
        return {"type": "web_app", "text": button.text, "url": button.web_app.url}
    return {"type": button.type}


async def _read(bot: Bot) -> dict[str, Any]:
    return {
        "name": (await bot.get_my_name()).name,
        "description": (await bot.get_my_description()).description,
        "short_description": (await bot.get_my_short_description()).short_description,
        "commands": [
            {"command": c.command, "description": c.description}
            for c in await bot.get_my_commands()
        ],
        "menu_button": _menu_spec(await bot.get_chat_menu_button()),
    }


async def _apply(token: str, profile: dict[str, Any]) -> dict[str, Any]:
    async with bot_session(token) as bot:
        await bot.set_my_name(name=profile["name"])
        await bot.set_my_description(description=profile["description"])
        await bot.set_my_short_description(short_description=profile["short_description"])
        if profile["commands"]:
            await bot.set_my_commands(
                [BotCommand(c["command"], c["description"]) for c in profile["commands"]]
            )
        else:
            await bot.delete_my_commands()
        await bot.set_chat_menu_button(menu_button=_menu_button(profile["menu_button"]))
        return await _read(bot)


def error_of(exc: tg_error.TelegramError) -> ServiceError:
    """Telegram's refusal as the error the brand's admin sees."""
    if isinstance(exc, tg_error.InvalidToken):
        return ServiceError(
            "Telegram rejected the bot's token", code="bot_token_rejected", status=502
        )
    if isinstance(exc, tg_error.RetryAfter):
        seconds = math.ceil(retry_after_seconds(exc))
        return ServiceError(
            f"Telegram is rate limiting the bot; try again in {seconds} s",
            code="telegram_rate_limited",
            status=503,
        )
    if isinstance(exc, tg_error.BadRequest):
        return ServiceError(
            f"Telegram refused the profile: {exc.message}", code="telegram_refused", status=409
        )
    if isinstance(exc, tg_error.NetworkError):
        return ServiceError(
            "Telegram could not be reached; try again shortly",
            code="telegram_unavailable",
            status=503,
        )
    return ServiceError(
        f"Telegram refused the request: {exc.message}", code="telegram_error", status=502
    )


def profile_apply(*, bot_id: int, token: str, profile: dict[str, Any]) -> dict[str, Any]:
    """Set the bot's name, descriptions, commands and menu button (default scope and
    language), then read them back: returns what Telegram shows, in ``profile``'s shape."""
    try:
        return run_sync(_apply(token, profile))
    except tg_error.TelegramError as exc:
        # InvalidToken's message repeats the token: log the error class only for it.
        detail = "" if isinstance(exc, tg_error.InvalidToken) else exc.message
        logger.warning(
            "branding.telegram.profile_failed",
            extra={"bot_id": bot_id, "error": type(exc).__name__, "detail": detail},
        )
        raise error_of(exc) from exc

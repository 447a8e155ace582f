"""The core commands every hosted bot answers: /start (with deep-link payloads), /help
and /profile. They belong to accounts (who the user is, their role here); the bot
runtime only hosts and routes them, as it does every app's ``<app>/telegram.py``
(``handlers()``, and optionally ``commands()`` for the bot's command menu; accounts
comes first among the apps, so these lead the menu)."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from telegram import (
    BotCommand,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
    WebAppInfo,
)
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from accounts.selectors import profile_view
from accounts.services import user_start, user_touch
from accounts.texts import bot_text
from botruntime.context import tenant_of
from botruntime.selectors import mini_app_url
from tenancy.models import Tenant

logger = logging.getLogger(__name__)

PLATFORM_NAME = "Bragabot"
OPEN_APP = "Open the app"


def commands() -> list[BotCommand]:
    return [
        BotCommand("start", "Open the community app"),
        BotCommand("help", "What this bot can do"),
        BotCommand("profile", "Your profile and role in this community"),
    ]


def _name(tenant: Tenant) -> str:
    return PLATFORM_NAME if tenant.is_public else tenant.name


def _profile(update: Update) -> dict[str, Any] | None:
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    return user.to_dict()


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, profile = update.effective_message, _profile(update)
    if message is None or profile is None:
        return
    tenant = await tenant_of(update, context)
    if tenant is None:
        return  # nobody's bot, or a suspended community: stay silent
    private = bool(update.effective_chat and update.effective_chat.type == Chat.PRIVATE)
    await sync_to_async(user_start)(
        tenant=tenant, profile=profile, bot_id=context.bot.id, private_chat=private
    )
    url = await sync_to_async(mini_app_url)(tenant=tenant)
    first_name = profile.get("first_name") or "friend"
    lines = [f"Welcome to {_name(tenant)}, {first_name}!"]
    markup = None
    # Telegram allows web_app buttons in private chats only.
    if url and private:
        lines.append("Open the app to join raids, climb the leaderboard and track rewards.")
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(OPEN_APP, web_app=WebAppInfo(url))]])
    lines.append("Send /help to see what I can do.")
    branded = await sync_to_async(bot_text)(
        tenant=tenant,
        bot_id=context.bot.id,
        key="welcome",
        language=profile.get("language_code") or "",
        values={"first_name": first_name},
    )
    if branded is not None:  # the brand's welcome (Telegram HTML), same button
        await message.reply_text(branded, reply_markup=markup, parse_mode=ParseMode.HTML)
        return
    await message.reply_text("\n".join(lines), reply_markup=markup)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    tenant = await tenant_of(update, context)
    user = update.effective_user
    if tenant is not None:
        branded = await sync_to_async(bot_text)(
            tenant=tenant,
            bot_id=context.bot.id,
            key="help",
            language=(user.language_code if user else None) or "",
            values={"first_name": (user.first_name if user else "") or "friend"},
        )
        if branded is not None:  # the brand's help (Telegram HTML)
            await message.reply_text(branded, parse_mode=ParseMode.HTML)
            return
    menu = context.bot_data.get("commands") or commands()
    lines = ["Commands:"] + [f"/{c.command} - {c.description}" for c in menu]
    await message.reply_text("\n".join(lines))


async def on_profile(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, profile = update.effective_message, _profile(update)
    if message is None or profile is None:
        return
    tenant = await tenant_of(update, context)
    if tenant is None:
        return
    user = await sync_to_async(user_touch)(profile=profile)
    view = await sync_to_async(profile_view)(tenant=tenant, user=user)
    name = " ".join(p for p in (user.first_name, user.last_name) if p) or str(user.telegram_id)
    lines = [name + (f" (@{user.username})" if user.username else "")]
    lines.append(f"Telegram id: {user.telegram_id}")
    if not tenant.is_public:
        lines.append(f"Role in {tenant.name}: {view['role']}")
        if view["capabilities"]:
            lines.append("Can: " + ", ".join(view["capabilities"]))
    if view["is_staff"]:
        lines.append("Platform staff")
    lines.append(f"First seen: {user.first_seen:%Y-%m-%d}")
    await message.reply_text("\n".join(lines))


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("start", on_start),
        CommandHandler("help", on_help),
        CommandHandler("profile", on_profile),
    ]

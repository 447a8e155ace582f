"""Outgoing: the Telegram Bot API calls community services and jobs make, through
python-telegram-bot. (Incoming updates are ``community.handlers``; they answer with the
bot that received the update, not with these.)

Sync services call these plain functions; each opens a short-lived ``telegram.Bot`` on
``settings.TELEGRAM_API_BASE`` (the real API, or the sandbox loopback in tests and the
demo). Telegram failures become ServiceErrors with stable codes, never raw exceptions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import telegram
from telegram import error as tg_error
from telegram.request import HTTPXRequest

from botruntime.outgoing import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    api_base_url,
    bot_session,
    run_sync,
    ssl_context,
)
from config.errors import ServiceError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Admin checks happen inside API requests and bot commands: fail fast rather than hang.


@dataclass(frozen=True)
class ChatAdmin:
    """One entry of getChatAdministrators, reduced to what the platform keeps."""

    telegram_id: int
    status: str  # "creator" or "administrator"
    is_bot: bool
    first_name: str
    last_name: str = ""
    username: str = ""
    language_code: str = ""
    is_premium: bool = False
    custom_title: str = ""
    can_restrict_members: bool = False
    can_delete_messages: bool = False
    can_promote_members: bool = False

    def profile(self) -> dict[str, Any]:
        """The user as a Telegram User dict (what accounts.services.user_touch takes)."""
        return {
            "id": self.telegram_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "language_code": self.language_code,
            "is_premium": self.is_premium,
        }


def service_error_of(exc: tg_error.TelegramError, *, chat_id: int) -> ServiceError:
    """Translate a Telegram failure into the error users and admins see."""
    text = exc.message
    if isinstance(exc, tg_error.InvalidToken):
        return ServiceError(
            "Telegram rejected this community's bot token", code="bot_token_rejected", status=502
        )
    if isinstance(exc, tg_error.RetryAfter):
        return ServiceError(
            "Telegram is rate limiting the bot; try again shortly",
            code="telegram_rate_limited",
            status=503,
        )
    if isinstance(exc, tg_error.Forbidden):
        # "bot was kicked from the supergroup chat", "bot is not a member of ..."
        return ServiceError(
            "the bot is not in this chat (it was removed or never added)",
            code="bot_not_in_chat",
            status=409,
        )
    if isinstance(exc, tg_error.BadRequest) and "chat not found" in text.lower():
        return ServiceError(
            f"Telegram does not know chat {chat_id} (or the bot cannot see it)",
            code="telegram_chat_not_found",
            status=409,
        )
    if isinstance(exc, tg_error.ChatMigrated):
        return ServiceError(
            "this group was upgraded to a supergroup; bind the new chat",
            code="chat_migrated",
            status=409,
        )
    # BadRequest subclasses NetworkError in python-telegram-bot; it is not a network fault.
    if isinstance(exc, tg_error.NetworkError) and not isinstance(exc, tg_error.BadRequest):
        return ServiceError(
            "Telegram could not be reached; try again shortly",
            code="telegram_unavailable",
            status=503,
        )
    return ServiceError(f"Telegram refused the request: {text}", code="telegram_error", status=502)


def _session(coro: Coroutine[Any, Any, T], *, event: str, chat_id: int, **extra: Any) -> T:
    """Run one Bot API session from sync code. A Telegram failure is logged as ``event``
    and raised as the ServiceError users and admins see."""
    try:
        return run_sync(coro)
    except tg_error.TelegramError as exc:
        # InvalidToken's message repeats the token: log the error class only for it.
        detail = "" if isinstance(exc, tg_error.InvalidToken) else exc.message
        logger.warning(
            event,
            extra={"chat_id": chat_id, **extra, "error": type(exc).__name__, "detail": detail},
        )
        raise service_error_of(exc, chat_id=chat_id) from exc


def _chat_admin(member: telegram.ChatMember) -> ChatAdmin:
    user = member.user
    return ChatAdmin(
        telegram_id=user.id,
        status=member.status,
        is_bot=user.is_bot,
        first_name=user.first_name or "",
        last_name=user.last_name or "",
        username=user.username or "",
        language_code=user.language_code or "",
        is_premium=bool(user.is_premium),
        custom_title=getattr(member, "custom_title", None) or "",
        can_restrict_members=bool(getattr(member, "can_restrict_members", False)),
        can_delete_messages=bool(getattr(member, "can_delete_messages", False)),
        can_promote_members=bool(getattr(member, "can_promote_members", False)),
    )


async def _administrators(token: str, chat_id: int) -> tuple[telegram.ChatMember, ...]:
    async with bot_session(token) as bot:
        return await bot.get_chat_administrators(chat_id)


def chat_administrators(*, token: str, chat_id: int) -> list[ChatAdmin]:
    """The chat's creator and administrators (other bots excluded, as Telegram does)."""
    members = _session(
        _administrators(token, chat_id),
        event="community.telegram.get_chat_administrators_failed",
        chat_id=chat_id,
    )
    admin_statuses = (telegram.ChatMember.OWNER, telegram.ChatMember.ADMINISTRATOR)
    return [_chat_admin(m) for m in members if m.status in admin_statuses]


@dataclass(frozen=True)
class GroupFacts:
    """What Telegram says about a chat before anything is bound to it: its type and
    title, the asking bot's own status in it, and (for groups) its administrators."""

    chat_type: str
    title: str
    bot_status: str
    admins: list[ChatAdmin]

    @property
    def is_group(self) -> bool:
        return self.chat_type in (telegram.Chat.GROUP, telegram.Chat.SUPERGROUP)

    @property
    def bot_present(self) -> bool:
        return self.bot_status in (telegram.ChatMember.ADMINISTRATOR, telegram.ChatMember.MEMBER)

    def administers(self, telegram_id: int) -> bool:
        return any(a.telegram_id == telegram_id and not a.is_bot for a in self.admins)


async def _group_facts(token: str, chat_id: int) -> GroupFacts:
    async with bot_session(token) as bot:
        chat = await bot.get_chat(chat_id)
        if chat.type not in (telegram.Chat.GROUP, telegram.Chat.SUPERGROUP):
            # A channel or a private chat: nothing more to ask (private chats have no admins).
            return GroupFacts(chat_type=chat.type, title=chat.title or "", bot_status="", admins=[])
        me = await bot.get_chat_member(chat_id, bot.id)
        admins = await bot.get_chat_administrators(chat_id)
    admin_statuses = (telegram.ChatMember.OWNER, telegram.ChatMember.ADMINISTRATOR)
    return GroupFacts(
        chat_type=chat.type,
        title=chat.title or "",
        bot_status=me.status,
        admins=[_chat_admin(m) for m in admins if m.status in admin_statuses],
    )


def group_facts(*, token: str, chat_id: int) -> GroupFacts:
    """getChat, then (for groups) getChatMember of the bot itself and
    getChatAdministrators, in one session. A bot that is not in the chat gets
    Telegram's refusal: ServiceError ``bot_not_in_chat`` or ``telegram_chat_not_found``."""
    return _session(
        _group_facts(token, chat_id), event="community.telegram.group_facts_failed", chat_id=chat_id
    )


async def _chat(token: str, chat_id: int) -> telegram.ChatFullInfo:
    async with bot_session(token) as bot:
        return await bot.get_chat(chat_id)


def chat_title(*, token: str, chat_id: int) -> str:
    """The chat's current title (getChat)."""
    chat = _session(
        _chat(token, chat_id), event="community.telegram.get_chat_failed", chat_id=chat_id
    )
    return chat.title or ""


# ---- group members ----------------------------------------------------------------------


async def _kick(token: str, chat_id: int, user_id: int, message_id: int | None) -> None:
    async with bot_session(token) as bot:
        # Telegram has no "kick": a ban removes the member, the unban lets them rejoin.
        await bot.ban_chat_member(chat_id, user_id)
        await bot.unban_chat_member(chat_id, user_id, only_if_banned=True)
        if message_id is not None:
            try:
                await bot.delete_message(chat_id, message_id)
            except tg_error.BadRequest as exc:  # already deleted by an admin: fine
                logger.info(
                    "community.telegram.delete_skipped",
                    extra={"chat_id": chat_id, "message_id": message_id, "detail": exc.message},
                )


def member_kick(*, token: str, chat_id: int, user_id: int, message_id: int | None = None) -> None:
    """Remove ``user_id`` from the chat (ban + unban: they may join again later) and
    delete ``message_id`` (the welcome they did not answer). ServiceError on refusal."""
    _session(
        _kick(token, chat_id, user_id, message_id),
        event="community.telegram.kick_failed",
        chat_id=chat_id,
        user_id=user_id,
    )


# ---- membership of many users ------------------------------------------------------------
MEMBER_CONCURRENCY = 16  # getChatMember calls in flight at once (Telegram: ~30 requests/s)
IN_CHAT = frozenset({"creator", "administrator", "member"})


async def _statuses(
    token: str, chat_id: int, user_ids: list[int], concurrency: int
) -> dict[int, str]:
    gate = asyncio.Semaphore(concurrency)
    pooled = HTTPXRequest(
        connection_pool_size=concurrency,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        pool_timeout=READ_TIMEOUT,
        httpx_kwargs={"verify": ssl_context()},
    )
    found: dict[int, str] = {}

    async def one(bot: telegram.Bot, user_id: int) -> None:
        async with gate:
            try:
                member = await bot.get_chat_member(chat_id, user_id)
            except tg_error.BadRequest as exc:
                # "user not found" / "participant_id_invalid": never in this chat.
                if "chat not found" in exc.message.lower():
                    raise
                found[user_id] = "left"
                return
        is_member = getattr(member, "is_member", None)  # restricted: still in, or gone
        restricted = member.status == telegram.ChatMember.RESTRICTED
        found[user_id] = ("member" if is_member else "left") if restricted else member.status

    async with telegram.Bot(token, base_url=api_base_url(), request=pooled) as bot:
        await asyncio.gather(*(one(bot, u) for u in user_ids))
    return found


def chat_member_statuses(
    *, token: str, chat_id: int, user_ids: Iterable[int], concurrency: int = MEMBER_CONCURRENCY
) -> dict[int, str]:
    """Each user's status in the chat per getChatMember ("creator", "administrator",
    "member", "left", "kicked"; a restricted user counts as "member" while still in it),
    at most ``concurrency`` calls at once, in one session. A bot that cannot see the chat
    gets Telegram's refusal: ServiceError ``bot_not_in_chat`` or
    ``telegram_chat_not_found``; a transient failure ``telegram_unavailable`` or
    ``telegram_rate_limited``."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    return _session(
        _statuses(token, chat_id, ids, max(1, concurrency)),
        event="community.telegram.chat_member_statuses_failed",
        chat_id=chat_id,
        users=len(ids),
    )


def chat_member_status(*, token: str, chat_id: int, user_id: int) -> str:
    """What Telegram says ``user_id`` is in the chat now: ``chat_member_statuses`` of one
    user ("member" for a restricted user still in it; "left" for one Telegram never saw
    there)."""
    return chat_member_statuses(token=token, chat_id=chat_id, user_ids=[user_id])[user_id]

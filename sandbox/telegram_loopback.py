"""A minimal loopback Telegram Bot API server.

Speaks the real wire protocol on ``/bot<token>/<method>`` (GET or POST; query string,
form-urlencoded, multipart or JSON parameters, method names case-insensitive as on
Telegram) and answers with Bot API envelopes: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}``.
Every object it returns uses only fields the Bot API documents for its type
(tests/community/test_telegram_loopback.py checks that against the published spec).

State lives in memory and is set from Python: bots (by token), users, chats, their
members and administrators. Sent messages are recorded in ``sent_messages``. The server
runs on its own event loop in a background thread::

    server = TelegramLoopback()
    base = server.start()                     # "http://127.0.0.1:PORT"
    server.add_bot("123:AA...", username="brand_bot")
    server.add_chat(-100123, title="Fans", admins=[server.owner(user)])
    telegram.Bot(token, base_url=f"{base}/bot")
    server.stop()

Supported methods: getMe, getChat, getChatAdministrators, getChatMember, sendMessage.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]
MESSAGE_MAX_LENGTH = 4096
GROUP_TYPES = ("group", "supergroup")
# Statuses of a ChatMember that is in the chat (restricted ones only with is_member).
PRESENT_STATUSES = ("creator", "administrator", "member")


class ApiError(Exception):
    """A Bot API error answer: HTTP status = ``error_code``."""

    def __init__(self, error_code: int, description: str) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


@dataclass(frozen=True)
class SentMessage:
    """A message a bot sent: the Message object returned, and the request's parameters."""

    bot_id: int
    chat_id: int
    text: str
    message: JSONDict
    params: JSONDict


@dataclass
class _Bot:
    token: str
    user: JSONDict


@dataclass
class _Chat:
    info: JSONDict  # a Chat object: id, type, title/username/first_name...
    members: dict[int, JSONDict] = field(default_factory=dict)  # user id -> ChatMember
    next_message_id: int = 1


def user_object(
    user_id: int,
    first_name: str,
    *,
    username: str | None = None,
    last_name: str | None = None,
    is_bot: bool = False,
    language_code: str | None = None,
) -> JSONDict:
    """A Bot API User object."""
    user: JSONDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if last_name:
        user["last_name"] = last_name
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user


def owner(user: JSONDict, *, custom_title: str | None = None) -> JSONDict:
    """ChatMemberOwner for ``user``."""
    member: JSONDict = {"status": "creator", "user": user, "is_anonymous": False}
    if custom_title:
        member["custom_title"] = custom_title
    return member


ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)


def administrator(user: JSONDict, *, custom_title: str | None = None, **rights: bool) -> JSONDict:
    """ChatMemberAdministrator for ``user``; every required right defaults to True except
    can_promote_members and can_be_edited (what a typical promoted moderator gets)."""
    unknown = set(rights) - {
        *ADMIN_RIGHTS,
        "can_be_edited",
        "can_pin_messages",
        "can_manage_topics",
        "is_anonymous",
    }
    if unknown:
        raise ValueError(f"unknown administrator rights: {sorted(unknown)}")
    member: JSONDict = {
        "status": "administrator",
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        **{right: right != "can_promote_members" for right in ADMIN_RIGHTS},
        **rights,
    }
    if custom_title:
        member["custom_title"] = custom_title
    return member


def member(user: JSONDict) -> JSONDict:
    """ChatMemberMember for ``user``."""
    return {"status": "member", "user": user}


class TelegramLoopback:
    """In-memory Telegram with a real HTTP front. Thread-safe: state is changed from the
    test thread while the server thread answers requests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.base_url = ""
        self.sent_messages: list[SentMessage] = []
        self.requests: list[tuple[str, JSONDict]] = []
        self._lock = threading.RLock()
        self._bots: dict[str, _Bot] = {}
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, _Chat] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Callable[[_Bot, JSONDict], Any]] = {
            "getme": self._get_me,
            "getchat": self._get_chat,
            "getchatadministrators": self._get_chat_administrators,
            "getchatmember": self._get_chat_member,
            "sendmessage": self._send_message,
        }

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> str:
        """Serve in a background thread; return the base URL (``http://host:port``).
        python-telegram-bot takes ``base_url=f"{base}/bot"``."""
        if self._thread is not None:
            return self.base_url
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_site())
            except OSError as exc:  # port taken: report to start(), end the thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="telegram-loopback", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        if failure:
            self._thread = None
            raise failure[0]
        logger.info("sandbox.telegram.started", extra={"base_url": self.base_url})
        return self.base_url

    async def _start_site(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.port = port
        self.base_url = f"http://{host}:{port}"

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def reset(self) -> None:
        """Forget every bot, user, chat and recorded message."""
        with self._lock:
            self._bots.clear()
            self._users.clear()
            self._chats.clear()
            self.sent_messages.clear()
            self.requests.clear()

    # ---- state, set from Python -------------------------------------------------------
    owner = staticmethod(owner)
    administrator = staticmethod(administrator)
    member = staticmethod(member)

    def add_bot(
        self, token: str, *, username: str | None = None, first_name: str | None = None
    ) -> JSONDict:
        """Register a bot by its token (``<id>:<secret>``); return its User object."""
        bot_id = int(token.split(":", 1)[0])
        username = username or f"bot{bot_id}_bot"
        user = user_object(bot_id, first_name or username, username=username, is_bot=True)
        with self._lock:
            self._bots[token] = _Bot(token=token, user=user)
            self._users[bot_id] = user
        return copy.deepcopy(user)

    def bot_user(self, token: str) -> JSONDict:
        """The User object of a registered bot."""
        with self._lock:
            return copy.deepcopy(self._bots[token].user)

    def add_user(self, user_id: int, first_name: str | None = None, **fields: Any) -> JSONDict:
        user = user_object(user_id, first_name or f"User{user_id}", **fields)
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def add_chat(
        self,
        chat_id: int,
        *,
        title: str | None = None,
        chat_type: str = "supergroup",
        username: str | None = None,
        admins: Sequence[JSONDict] = (),
        members: Sequence[JSONDict] = (),
        bots: Sequence[str] = (),
    ) -> JSONDict:
        """Create (or replace) a chat with its admins, members and bots (by token; a bot
        added this way is a plain member unless it also appears in ``admins``)."""
        info: JSONDict = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            user = self._users.get(chat_id)
            info["first_name"] = user["first_name"] if user else f"User{chat_id}"
        else:
            info["title"] = title or f"Chat {chat_id}"
        if username:
            info["username"] = username
        chat = _Chat(info=info)
        with self._lock:
            for token in bots:
                bot_user = self._bots[token].user
                chat.members[bot_user["id"]] = member(bot_user)
            for entry in [*members, *admins]:
                self._users.setdefault(entry["user"]["id"], entry["user"])
                chat.members[entry["user"]["id"]] = copy.deepcopy(entry)
            self._chats[chat_id] = chat
        return copy.deepcopy(info)

    def set_member(self, chat_id: int, chat_member: JSONDict) -> None:
        """Add, promote or demote one member (a ChatMember object)."""
        with self._lock:
            self._users.setdefault(chat_member["user"]["id"], chat_member["user"])
            self._chats[chat_id].members[chat_member["user"]["id"]] = copy.deepcopy(chat_member)

    def set_admins(self, chat_id: int, admins: list[JSONDict]) -> None:
        """Replace the chat's administrators; former ones stay as plain members."""
        with self._lock:
            chat = self._chats[chat_id]
            for user_id, current in list(chat.members.items()):
                if current["status"] in ("creator", "administrator"):
                    chat.members[user_id] = member(current["user"])
            for entry in admins:
                self._users.setdefault(entry["user"]["id"], entry["user"])
                chat.members[entry["user"]["id"]] = copy.deepcopy(entry)

    def remove_member(self, chat_id: int, user_id: int, *, kicked: bool = False) -> None:
        """The user (or bot) leaves the chat, or is banned with ``kicked``."""
        with self._lock:
            chat = self._chats[chat_id]
            user = self._users[user_id]
            chat.members[user_id] = (
                {"status": "kicked", "user": user, "until_date": 0}
                if kicked
                else {"status": "left", "user": user}
            )

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent_messages if m.chat_id == chat_id]

    # ---- HTTP -------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        try:
            params = await _parameters(request)
            with self._lock:
                bot = self._bots.get(token)
                if bot is None:
                    raise ApiError(401, "Unauthorized")
                handler = self._methods.get(method.lower())
                if handler is None:
                    raise ApiError(404, "Not Found")
                self.requests.append((method, params))
                result = handler(bot, params)
            body: JSONDict = {"ok": True, "result": result}
            status = 200
        except ApiError as exc:
            body = {"ok": False, "error_code": exc.error_code, "description": exc.description}
            status = exc.error_code
        return web.json_response(body, status=status)

    # ---- helpers used by methods (caller holds the lock) ------------------------------
    def _chat(self, bot: _Bot, params: JSONDict, *, must_be_member: bool = True) -> _Chat:
        raw = params.get("chat_id")
        if raw in (None, ""):
            raise bad_request("chat_id is empty")
        chat = self._find_chat(raw)
        if chat is None:
            raise bad_request("chat not found")
        if must_be_member and chat.info["type"] in GROUP_TYPES:
            status = chat.members.get(bot.user["id"], {}).get("status")
            kind = "supergroup" if chat.info["type"] == "supergroup" else "group"
            if status == "kicked":
                raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
            if not _is_present(chat.members.get(bot.user["id"])):
                raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        return chat

    def _find_chat(self, raw: Any) -> _Chat | None:
        if isinstance(raw, str) and raw.startswith("@"):
            name = raw[1:].lower()
            return next(
                (c for c in self._chats.values() if c.info.get("username", "").lower() == name),
                None,
            )
        try:
            return self._chats.get(int(raw))
        except (TypeError, ValueError):
            return None

    # ---- methods ----------------------------------------------------------------------
    def _get_me(self, bot: _Bot, params: JSONDict) -> JSONDict:
        return {
            **bot.user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_chat(self, bot: _Bot, params: JSONDict) -> JSONDict:
        chat = self._chat(bot, params)
        return {
            **chat.info,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_chat_administrators(self, bot: _Bot, params: JSONDict) -> list[JSONDict]:
        chat = self._chat(bot, params)
        if chat.info["type"] not in (*GROUP_TYPES, "channel"):
            raise bad_request("there are no administrators in the private chat")
        return_bots = _boolean(params.get("return_bots"))
        admins = []
        for entry in chat.members.values():
            if entry["status"] not in ("creator", "administrator"):
                continue
            # Other bots are left out unless asked for; the calling bot is always listed.
            if (
                entry["user"]["is_bot"]
                and entry["user"]["id"] != bot.user["id"]
                and not return_bots
            ):
                continue
            admins.append(copy.deepcopy(entry))
        # Telegram lists the creator first.
        admins.sort(key=lambda e: e["status"] != "creator")
        return admins

    def _get_chat_member(self, bot: _Bot, params: JSONDict) -> JSONDict:
        chat = self._chat(bot, params)
        try:
            user_id = int(params.get("user_id"))
        except (TypeError, ValueError):
            raise bad_request("invalid user_id specified") from None
        entry = chat.members.get(user_id)
        if entry is not None:
            return copy.deepcopy(entry)
        user = self._users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        return {"status": "left", "user": copy.deepcopy(user)}

    def _send_message(self, bot: _Bot, params: JSONDict) -> JSONDict:
        chat = self._chat(bot, params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MESSAGE_MAX_LENGTH:
            raise bad_request("message is too long")
        message: JSONDict = {
            "message_id": chat.next_message_id,
            "from": copy.deepcopy(bot.user),
            "chat": copy.deepcopy(chat.info),
            "date": int(time.time()),
            "text": text,
        }
        chat.next_message_id += 1
        thread_id = params.get("message_thread_id")
        if thread_id not in (None, ""):
            message["message_thread_id"] = int(thread_id)
        self.sent_messages.append(
            SentMessage(
                bot_id=bot.user["id"],
                chat_id=chat.info["id"],
                text=text,
                message=copy.deepcopy(message),
                params=dict(params),
            )
        )
        return message


def _is_present(entry: JSONDict | None) -> bool:
    if entry is None:
        return False
    if entry["status"] == "restricted":
        return bool(entry.get("is_member"))
    return entry["status"] in PRESENT_STATUSES


def _boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _decode(value: str) -> Any:
    """Form values are JSON-serialized when they are not strings (python-telegram-bot and
    Telegram's docs); keep plain strings as they are."""
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _parameters(request: web.Request) -> JSONDict:
    params: JSONDict = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad_request("can't parse JSON object")
            params.update(body)
            return params
        form = await request.post()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    # chat_id/user_id/text etc. arrive as strings; numbers and objects were JSON-encoded.
    return {
        key: (value if key in ("text", "chat_id") or not isinstance(value, str) else _decode(value))
        for key, value in params.items()
    }


__all__ = [
    "ApiError",
    "SentMessage",
    "TelegramLoopback",
    "administrator",
    "member",
    "owner",
    "user_object",
]

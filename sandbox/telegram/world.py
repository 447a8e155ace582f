"""The sandbox's Telegram: bots, users, groups, private chats, their messages, and each
bot's queue of updates. Everything lives in memory behind one lock, because the test
thread changes it while the server thread answers requests.

Private chats belong to a (bot, user) pair, as on Telegram: each bot has its own history
with a user, under the user's id. A private chat exists once the user has written to the
bot; until then the bot cannot message the user.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from sandbox.telegram.errors import SandboxError, bad_request, forbidden
from sandbox.telegram.objects import (
    DEFAULT_PERMISSIONS,
    GROUP_TYPES,
    JSONDict,
    chat_member,
    is_admin,
    is_present,
    private_chat,
    user_object,
)

UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "pre_checkout_query",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "message_reaction_count",
)
CALL_LOG_LIMIT = 100_000  # Bot API calls kept per bot for calls()
# Without allowed_updates a bot gets every kind except these (Bot API getUpdates).
OPT_IN_UPDATES = ("chat_member", "message_reaction", "message_reaction_count")


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    has_custom_certificate: bool
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class BotState:
    token: str
    user: JSONDict
    can_read_all_group_messages: bool = False
    updates: list[JSONDict] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: tuple[str, ...] = ()  # empty: the default set
    webhook: Webhook | None = None
    names: dict[str, str] = field(default_factory=dict)  # language -> name ("" = default)
    descriptions: dict[str, str] = field(default_factory=dict)
    short_descriptions: dict[str, str] = field(default_factory=dict)
    commands: dict[tuple[str, str], list[JSONDict]] = field(default_factory=dict)
    menu_buttons: dict[int | None, JSONDict] = field(default_factory=dict)  # None: default
    star_balance: int = 0
    # StarTransaction objects, oldest first: payments in (source), refunds out (receiver).
    star_transactions: list[JSONDict] = field(default_factory=list)
    # The newest calls only, so a long-running demo does not grow without bound.
    calls: deque[JSONDict] = field(default_factory=lambda: deque(maxlen=CALL_LOG_LIMIT))

    @property
    def id(self) -> int:
        return self.user["id"]

    def accepts(self, kind: str) -> bool:
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in OPT_IN_UPDATES


@dataclass
class Stored:
    """A message in a chat and the order it was stored in (across all chats)."""

    seq: int
    message: JSONDict
    deleted: bool = False


@dataclass
class Conversation:
    """A chat's history: a group's, or one bot's private chat with one user."""

    chat: JSONDict  # the Chat object bots see
    messages: dict[int, Stored] = field(default_factory=dict)
    next_message_id: int = 1

    @property
    def id(self) -> int:
        return self.chat["id"]

    @property
    def is_group(self) -> bool:
        return self.chat["type"] != "private"

    def get(self, message_id: int) -> JSONDict | None:
        stored = self.messages.get(message_id)
        return None if stored is None or stored.deleted else stored.message


@dataclass
class Group(Conversation):
    members: dict[int, JSONDict] = field(default_factory=dict)  # user id -> ChatMember
    permissions: JSONDict = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    description: str = ""

    def member(self, user_id: int) -> JSONDict | None:
        return self.members.get(user_id)

    def kind(self) -> str:
        """How Telegram names the chat in errors: "supergroup", "group" or "channel"."""
        return self.chat["type"]


@dataclass
class Private(Conversation):
    bot_id: int = 0
    user_id: int = 0


class World:
    def __init__(self, notify: Callable[[int], None], wall_clock: Callable[[], float]) -> None:
        self.lock = threading.RLock()
        self._notify = notify
        self.wall_clock = wall_clock
        self.clear()

    def clear(self) -> None:
        self.bots: dict[int, BotState] = {}
        self.tokens: dict[str, int] = {}
        self.users: dict[int, JSONDict] = {}
        self.groups: dict[int, Group] = {}
        self.privates: dict[tuple[int, int], Private] = {}
        self.blocked: set[tuple[int, int]] = set()  # (user id, bot id)
        self.callbacks: dict[str, JSONDict] = {}  # id -> {bot_id, user_id, answer}
        self.pre_checkouts: dict[str, JSONDict] = {}
        self.charges: dict[str, JSONDict] = {}
        self.files: dict[str, JSONDict] = {}  # file_id -> PhotoSize fields, data, ...
        self.invoices: dict[tuple[int, int, int], str] = {}  # (bot, chat, message) -> payload
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)

    def now(self) -> int:
        return int(self.wall_clock())

    def serial(self) -> int:
        """A fresh number for ids the sandbox invents (callback queries, charges, files)."""
        return next(self._ids)

    # ---- registry ---------------------------------------------------------------------
    def add_bot(
        self,
        token: str,
        *,
        username: str | None,
        first_name: str | None,
        can_read_all_group_messages: bool = False,
    ) -> BotState:
        head, _, secret = token.partition(":")
        if not head.isdigit() or not secret:
            raise SandboxError(
                "a bot token looks like <bot id>:<secret>", code="invalid_token", status=400
            )
        bot_id = int(head)
        username = username or f"bot{bot_id}_bot"
        if not username.lower().endswith("bot"):
            raise SandboxError(
                "a bot's username must end in 'bot'", code="invalid_username", status=400
            )
        for other in self.bots.values():
            if other.id != bot_id and other.user.get("username", "").lower() == username.lower():
                raise SandboxError(
                    f"@{username} is taken by bot {other.id}", code="username_taken", status=400
                )
        user = user_object(bot_id, first_name or username, is_bot=True, username=username)
        previous = self.bots.get(bot_id)
        if previous is not None:
            self.tokens.pop(previous.token, None)
            previous.token, previous.user = token, user
            previous.can_read_all_group_messages = can_read_all_group_messages
            bot = previous
        else:
            bot = BotState(
                token=token, user=user, can_read_all_group_messages=can_read_all_group_messages
            )
            self.bots[bot_id] = bot
        self.tokens[token] = bot_id
        self.users[bot_id] = user
        return bot

    def bot_by_token(self, token: str) -> BotState | None:
        bot_id = self.tokens.get(token)
        return None if bot_id is None else self.bots[bot_id]

    def bot(self, bot_id: int) -> BotState:
        bot = self.bots.get(int(bot_id))
        if bot is None:
            raise SandboxError(f"no bot {bot_id}", code="bot_not_found", status=404)
        return bot

    def user(self, user_id: int) -> JSONDict:
        user = self.users.get(int(user_id))
        if user is None:
            raise SandboxError(f"no user {user_id}", code="user_not_found", status=404)
        return user

    def person(self, user_id: int) -> JSONDict:
        """A user who is not a bot (only people use Telegram's apps)."""
        user = self.user(user_id)
        if user["is_bot"]:
            raise SandboxError(f"{user_id} is a bot", code="is_a_bot", status=400)
        return user

    def group(self, chat_id: int) -> Group:
        group = self.groups.get(int(chat_id))
        if group is None:
            raise SandboxError(f"no group {chat_id}", code="group_not_found", status=404)
        return group

    # ---- chats ------------------------------------------------------------------------
    @overload
    def private(self, bot_id: int, user_id: int, *, create: Literal[True]) -> Private: ...

    @overload
    def private(self, bot_id: int, user_id: int, *, create: bool = False) -> Private | None: ...

    def private(self, bot_id: int, user_id: int, *, create: bool = False) -> Private | None:
        key = (bot_id, user_id)
        chat = self.privates.get(key)
        if chat is None and create:
            user = self.user(user_id)
            chat = self.privates[key] = Private(
                chat=private_chat(user), bot_id=bot_id, user_id=user_id
            )
        return chat

    def find_chat(self, bot: BotState, raw: int | str) -> Conversation | None:
        """The chat ``chat_id`` names for this bot: a group (by id or @username) or the
        bot's private chat with a user."""
        if isinstance(raw, str):
            name = raw[1:].lower()
            return next(
                (g for g in self.groups.values() if g.chat.get("username", "").lower() == name),
                None,
            )
        return self.groups.get(raw) or self.privates.get((bot.id, raw))

    def chat_for(self, bot: BotState, raw: int | str, *, member: bool = True) -> Conversation:
        """The chat, or Telegram's error: chat not found, or (``member``) Forbidden when
        the bot is not in the group."""
        chat = self.find_chat(bot, raw)
        if chat is None:
            raise bad_request("chat not found")
        if member and isinstance(chat, Group):
            self.require_in_group(bot, chat)
        return chat

    def require_in_group(self, bot: BotState, group: Group) -> JSONDict:
        entry = group.member(bot.id)
        if entry is not None and entry["status"] == "kicked":
            raise forbidden(f"bot was kicked from the {group.kind()} chat")
        if not is_present(entry):
            raise forbidden(f"bot is not a member of the {group.kind()} chat")
        return entry

    def sendable(self, bot: BotState, raw: int | str) -> Conversation:
        """The chat a bot may send to, or Telegram's refusal."""
        chat = self.find_chat(bot, raw)
        if chat is None and isinstance(raw, int) and raw in self.users:
            if self.users[raw]["is_bot"]:
                raise forbidden("bot can't send messages to bots")
            raise forbidden("bot can't initiate conversation with a user")
        if chat is None:
            raise bad_request("chat not found")
        if isinstance(chat, Group):
            entry = self.require_in_group(bot, chat)
            if entry["status"] == "restricted" and not entry.get("can_send_messages"):
                raise bad_request("not enough rights to send text messages to the chat")
        elif (chat.id, bot.id) in self.blocked:
            raise forbidden("bot was blocked by the user")
        return chat

    # ---- messages ---------------------------------------------------------------------
    def store(self, chat: Conversation, sender: JSONDict, **content: Any) -> JSONDict:
        """Add a message to the chat; return (a copy of) the Message object."""
        message: JSONDict = {
            "message_id": chat.next_message_id,
            "from": copy.deepcopy(sender),
            "date": self.now(),
            "chat": copy.deepcopy(chat.chat),
            **content,
        }
        chat.next_message_id += 1
        chat.messages[message["message_id"]] = Stored(seq=next(self._seq), message=message)
        return copy.deepcopy(message)

    def reply_target(self, chat: Conversation, reply: Any) -> JSONDict | None:
        """The message ``reply_parameters`` (or a legacy ``reply_to_message_id``) points
        to, stripped of its own reply as Telegram nests only one level."""
        if reply is None:
            return None
        message_id: Any  # as the client sent it: int() below refuses what is no id
        if isinstance(reply, dict):
            if "chat_id" in reply and reply["chat_id"] not in (chat.id, None):
                raise bad_request("message to be replied not found")
            message_id, optional = reply.get("message_id"), reply.get("allow_sending_without_reply")
        else:
            message_id, optional = reply, False
        try:
            target = chat.get(int(message_id))
        except (TypeError, ValueError):
            target = None
        if target is None:
            if optional:
                return None
            raise bad_request("message to be replied not found")
        return {k: copy.deepcopy(v) for k, v in target.items() if k != "reply_to_message"}

    def messages_sent_by(self, bot_id: int) -> Iterator[tuple[Conversation, Stored]]:
        for chat in [*self.groups.values(), *self.privates.values()]:
            if isinstance(chat, Private) and chat.bot_id != bot_id:
                continue
            for stored in chat.messages.values():
                if stored.message["from"]["id"] == bot_id:
                    yield chat, stored

    # ---- updates ----------------------------------------------------------------------
    def enqueue(self, bot: BotState, kind: str, payload: JSONDict) -> JSONDict | None:
        """Queue an update for the bot, unless its allowed_updates leave that kind out
        (Telegram never creates those). Returns the Update."""
        if not bot.accepts(kind):
            return None
        update = {"update_id": bot.next_update_id, kind: copy.deepcopy(payload)}
        bot.next_update_id += 1
        bot.updates.append(update)
        self._notify(bot.id)
        return copy.deepcopy(update)

    def bots_in(self, group: Group) -> list[BotState]:
        return [
            self.bots[user_id]
            for user_id, entry in group.members.items()
            if user_id in self.bots and is_present(entry)
        ]

    def sees(self, bot: BotState, group: Group, message: JSONDict) -> bool:
        """Privacy mode: a bot that is not an admin and does not read all messages gets
        commands (its own, or ones not addressed to another bot), replies to its messages
        and service messages only."""
        if is_admin(group.member(bot.id)) or bot.can_read_all_group_messages:
            return True
        if "text" not in message and "caption" not in message:
            return True  # service messages and media without caption reach every bot
        reply = message.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == bot.id:
            return True
        text = message.get("text", "")
        if not text.startswith("/"):
            return False
        _, _, target = text.split()[0].partition("@")
        return not target or target.lower() == bot.user["username"].lower()

    def deliver(self, chat: Conversation, message: JSONDict, *, kind: str = "message") -> dict:
        """Queue a user's message to the bots that get it; {bot id: Update}."""
        if isinstance(chat, Private):
            update = self.enqueue(self.bots[chat.bot_id], kind, message)
            return {chat.bot_id: update} if update else {}
        assert isinstance(chat, Group)
        updates = {}
        for bot in self.bots_in(chat):
            if bot.id != message["from"]["id"] and self.sees(bot, chat, message):
                update = self.enqueue(bot, kind, message)
                if update:
                    updates[bot.id] = update
        return updates

    def member_changed(
        self, group: Group, old: JSONDict, new: JSONDict, *, by: JSONDict
    ) -> list[tuple[int, JSONDict]]:
        """Tell bots a member's status changed: the bot itself gets my_chat_member,
        admin bots that asked for them get chat_member (Bot API)."""
        change = {
            "chat": copy.deepcopy(group.chat),
            "from": copy.deepcopy(by),
            "date": self.now(),
            "old_chat_member": copy.deepcopy(old),
            "new_chat_member": copy.deepcopy(new),
        }
        updates = []
        subject = new["user"]["id"]
        if subject in self.bots:
            update = self.enqueue(self.bots[subject], "my_chat_member", change)
            if update:
                updates.append((subject, update))
        for bot in self.bots_in(group):
            if bot.id != subject and is_admin(group.member(bot.id)):
                update = self.enqueue(bot, "chat_member", change)
                if update:
                    updates.append((bot.id, update))
        return updates

    def set_status(self, group: Group, user_id: int, status: str, **options: Any) -> JSONDict:
        """Replace a member's ChatMember; return the previous one (``left`` if none)."""
        user = self.user(user_id)
        old = group.members.get(user_id) or chat_member(user, "left")
        group.members[user_id] = chat_member(user, status, **options)
        return old

    def member_or_left(self, group: Group, user_id: int) -> JSONDict:
        entry = group.member(user_id)
        if entry is not None:
            return copy.deepcopy(entry)
        return chat_member(self.users[user_id], "left")

    def check_member_target(self, bot: BotState, group: Group, user_id: int) -> JSONDict:
        """Whom a bot may restrict or ban: not itself, not the owner, not an admin."""
        if group.chat["type"] not in (*GROUP_TYPES, "channel"):
            raise bad_request("chat member status can't be changed in private chats")
        if user_id not in self.users:
            raise bad_request("user not found")
        admin = self.require_in_group(bot, group)
        if not is_admin(admin) or (
            admin["status"] == "administrator" and not admin.get("can_restrict_members")
        ):
            raise bad_request("not enough rights to restrict/unrestrict chat member")
        if user_id == bot.id:
            raise bad_request("can't restrict self")
        target = group.member(user_id)
        if target is not None and target["status"] == "creator":
            raise bad_request("can't remove chat owner")
        if target is not None and target["status"] == "administrator":
            raise bad_request("user is an administrator of the chat")
        return self.member_or_left(group, user_id)

"""SandboxTelegram: the HTTP server (Bot API, files, control API, web page) and the
Python control methods tests call.

It serves on its own event loop in a background thread (``start``/``stop``), or in the
foreground (``serve_forever``, used by ``python -m sandbox.telegram``).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.serving import BackgroundServer, add_web_page
from sandbox.telegram import actions, webapp
from sandbox.telegram.control import control_routes
from sandbox.telegram.delivery import Delivery
from sandbox.telegram.errors import ApiError, SandboxError
from sandbox.telegram.limits import Clock, FloodControl, Limits
from sandbox.telegram.methods import Call, lookup
from sandbox.telegram.objects import GROUP_TYPES, JSONDict, user_object
from sandbox.telegram.params import Params, read_params
from sandbox.telegram.results import Described
from sandbox.telegram.world import BotState, Conversation, Group, World

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"


class SandboxTelegram(BackgroundServer):
    """A loopback Telegram: python-telegram-bot talks to it with
    ``base_url=f"{tg.start()}/bot"``; tests drive the people in it from Python."""

    thread_name = "sandbox-telegram"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: Limits | None = None,
        clock: Clock = time.monotonic,
        webhook_backoff: tuple[float, float] = (1.0, 60.0),
        webhook_timeout: float = 10.0,
    ) -> None:
        super().__init__(host, port)
        self.clock = clock
        self.flood = FloodControl(limits if limits is not None else Limits(), clock)
        self.world = World(notify=self._notify, wall_clock=time.time)
        self.delivery = Delivery(
            self.world, backoff=webhook_backoff, timeout=webhook_timeout, execute=self._execute
        )

    @property
    def limits(self) -> Limits:
        return self.flood.limits

    # ---- lifecycle --------------------------------------------------------------------
    async def _start_site(self) -> None:
        await self.delivery.start()
        await self._open_site(self.app())
        logger.info("sandbox.telegram.started", extra={"base_url": self.base_url})

    async def _stop_site(self) -> None:
        await self.delivery.stop()
        await self._close_site()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=50 * 1024 * 1024)  # Telegram's upload limit
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        add_web_page(app, WEB_DIR, "Sandbox Telegram")
        app.router.add_routes(control_routes(self))
        return app

    def _notify(self, bot_id: int) -> None:
        self.delivery.notify(bot_id)

    # ---- the Bot API ------------------------------------------------------------------
    async def _handle_api(self, request: web.Request) -> web.Response:
        token, name = request.match_info["token"], request.match_info["method"]
        try:
            params = await read_params(request)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.error_code)
        with self.world.lock:
            bot = self.world.bot_by_token(token)
        if bot is None:
            # Telegram: 404 for a malformed token, 401 for a well-formed unknown one.
            head, _, secret = token.partition(":")
            error = (
                ApiError(401, "Unauthorized")
                if head.isdigit() and secret
                else ApiError(404, "Not Found")
            )
            return web.json_response(error.body(), status=error.error_code)
        status, body = await self._call(bot, name, params)
        return web.json_response(body, status=status, dumps=_dumps)

    async def _call(self, bot: BotState, name: str, params: Params) -> tuple[int, JSONDict]:
        method = lookup(name)
        call = Call(
            world=self.world, bot=bot, params=params, flood=self.flood, delivery=self.delivery
        )
        try:
            if method is None:
                raise ApiError(404, "Not Found")
            if method.is_async:
                result = await method.func(call)
            else:
                with self.world.lock:
                    result = method.func(call)
            body: JSONDict = {"ok": True, "result": result}
            if isinstance(result, Described):
                body = {"ok": True, "result": result.result, "description": result.description}
            status = 200
        except ApiError as exc:
            body, status = exc.body(), exc.error_code
        self._log_call(bot, method.name if method else name, params, status)
        return status, body

    def _call_now(self, bot: BotState, name: str, params: Params) -> tuple[int, JSONDict]:
        """A synchronous Bot API method called from the control side (any thread), as if
        its request had arrived with the bot's token."""
        method = lookup(name)
        assert method is not None and not method.is_async, name
        call = Call(
            world=self.world, bot=bot, params=params, flood=self.flood, delivery=self.delivery
        )
        try:
            with self.world.lock:
                status, body = 200, {"ok": True, "result": method.func(call)}
        except ApiError as exc:
            body, status = exc.body(), exc.error_code
        self._log_call(bot, method.name, params, status)
        return status, body

    def _log_call(self, bot: BotState, name: str, params: Params, status: int) -> None:
        with self.world.lock:
            bot.calls.append(
                {"method": name, "params": params.loggable(), "status": status, "ts": self.clock()}
            )
        if status >= 400:
            logger.info(
                "sandbox.telegram.refused",
                extra={"bot_id": bot.id, "method": name, "status": status},
            )

    async def _execute(self, bot: BotState, name: str, values: dict[str, Any]) -> None:
        """A method a webhook answered with; Telegram does not report its outcome."""
        await self._call(bot, name, Params(values))

    async def _handle_file(self, request: web.Request) -> web.Response:
        with self.world.lock:
            bot = self.world.bot_by_token(request.match_info["token"])
            path = request.match_info["path"]
            record = next((f for f in self.world.files.values() if f["file_path"] == path), None)
        if bot is None or record is None or not record["data"]:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=record["data"], content_type=record["content_type"])

    # ---- control: the world -----------------------------------------------------------
    def reset(self) -> None:
        """Forget every bot, user, chat, message, update, call and flood count."""
        with self.world.lock:
            self.world.clear()
            self.flood.reset()
        self.delivery.notify_reset()

    def add_bot(
        self,
        token: str,
        *,
        username: str | None = None,
        first_name: str | None = None,
        can_read_all_group_messages: bool = False,
    ) -> JSONDict:
        """Register a bot by its token (``<bot id>:<secret>``); return its User object.
        ``can_read_all_group_messages`` turns its privacy mode off."""
        with self.world.lock:
            bot = self.world.add_bot(
                token,
                username=username,
                first_name=first_name,
                can_read_all_group_messages=can_read_all_group_messages,
            )
            return copy.deepcopy(bot.user)

    def add_user(
        self,
        user_id: int | None = None,
        first_name: str | None = None,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> JSONDict:
        """Create (or update) a person; without ``user_id`` one is picked. Returns the
        User object."""
        with self.world.lock:
            if user_id is None:
                user_id = max([u for u in self.world.users if u < 10**9] + [10_000]) + 1
            if user_id <= 0:
                raise SandboxError("a user id is a positive number", code="invalid_id")
            user = user_object(
                int(user_id),
                first_name or f"User{user_id}",
                username=username,
                last_name=last_name,
                language_code=language_code,
                is_premium=is_premium,
            )
            if user_id in self.world.bots:
                raise SandboxError(f"{user_id} is a bot", code="is_a_bot")
            self.world.users[user_id] = user
            return copy.deepcopy(user)

    def add_group(
        self,
        chat_id: int | None = None,
        *,
        title: str = "Group",
        type: str = "supergroup",
        username: str | None = None,
        description: str = "",
    ) -> JSONDict:
        """Create (or replace) a group, supergroup or channel; return its Chat object.
        Without ``chat_id`` one is picked (-100... for supergroups, as on Telegram)."""
        if type not in (*GROUP_TYPES, "channel"):
            raise SandboxError(f"unknown chat type {type!r}", code="invalid_type")
        with self.world.lock:
            if chat_id is None:
                # Supergroup and channel ids start at -100..., basic groups' are short.
                big = type != "group"
                taken = [g for g in self.world.groups if (g <= -(10**12)) == big]
                chat_id = min([*taken, -1_001_000_000_000 if big else -4_000_000]) - 1
            if chat_id >= 0:
                raise SandboxError("group ids are negative", code="invalid_id")
            chat: JSONDict = {"id": chat_id, "type": type, "title": title}
            if username:
                chat["username"] = username
            self.world.groups[chat_id] = Group(chat=chat, description=description)
            return copy.deepcopy(chat)

    def set_member(
        self, chat_id: int, user_id: int, status: str = "member", **options: Any
    ) -> JSONDict:
        """Set someone's ChatMember in a group, silently (no updates): creator,
        administrator (rights as ``can_*=...``, ``custom_title``), member, restricted
        (permissions as ``can_*=...``, ``until_date``), left, kicked. Returns it."""
        with self.world.lock:
            group = self.world.group(chat_id)
            try:
                self.world.set_status(group, int(user_id), status, **options)
            except ValueError as exc:
                if isinstance(exc, SandboxError):
                    raise
                raise SandboxError(str(exc), code="invalid_member") from None
            return copy.deepcopy(group.members[int(user_id)])

    def block_bot(self, user_id: int, bot_id: int) -> None:
        """The user blocks the bot: sends to them get 403 until they write to it again."""
        with self.world.lock:
            self.world.person(user_id)
            self.world.bot(bot_id)
            self.world.blocked.add((int(user_id), int(bot_id)))

    def unblock_bot(self, user_id: int, bot_id: int) -> None:
        with self.world.lock:
            self.world.blocked.discard((int(user_id), int(bot_id)))

    # ---- control: people act ----------------------------------------------------------
    def send_message(
        self, bot_id: int, chat_id: int, user_id: int, text: str, **extra: Any
    ) -> JSONDict:
        """The user writes in a chat (``chat_id == user_id``: their private chat with the
        bot). Returns the Update the bot gets (via getUpdates or its webhook), {} if none."""
        with self.world.lock:
            return actions.send_message(
                self.world, int(bot_id), int(chat_id), int(user_id), text, **extra
            )

    def join(self, chat_id: int, user_id: int, bot_id: int | None = None) -> list[JSONDict]:
        """The user joins the group: a new_chat_members message, and chat_member updates
        for admin bots that asked for them. Returns the updates (``bot_id``'s only, if
        given)."""
        with self.world.lock:
            return actions.join(
                self.world, int(chat_id), int(user_id), None if bot_id is None else int(bot_id)
            )

    def add_bot_to_group(
        self, bot_id: int, chat_id: int, by_user_id: int, status: str = "member"
    ) -> JSONDict:
        """A member of the group adds the bot; returns its my_chat_member Update."""
        with self.world.lock:
            return actions.add_bot_to_group(
                self.world, int(bot_id), int(chat_id), int(by_user_id), status
            )

    def change_member(
        self, chat_id: int, user_id: int, status: str, by_user_id: int, **options: Any
    ) -> list[JSONDict]:
        """An admin (or the user themself) changes a member's status, with the updates
        and service messages Telegram sends. Returns the updates queued."""
        with self.world.lock:
            pairs = actions.change_member(
                self.world, int(chat_id), int(user_id), status, int(by_user_id), **options
            )
            return [update for _, update in pairs]

    def press_button(
        self, bot_id: int, chat_id: int, user_id: int, message_id: int, data: str
    ) -> JSONDict:
        """The user presses an inline button; returns the callback_query Update."""
        with self.world.lock:
            return actions.press_button(
                self.world, int(bot_id), int(chat_id), int(user_id), int(message_id), data
            )

    def pay_stars(self, bot_id: int, user_id: int, payload: str, amount: int) -> list[JSONDict]:
        """The user pays Stars; returns the pre_checkout_query Update. Once the bot answers
        ok, it gets the successful_payment message."""
        with self.world.lock:
            return actions.pay_stars(
                self.world, int(bot_id), int(user_id), payload, amount, self.clock
            )

    def pay_invoice(
        self, bot_id: int, chat_id: int, user_id: int, message_id: int
    ) -> list[JSONDict]:
        """The user presses Pay under an invoice the bot sent: pay_stars with its payload
        and price."""
        with self.world.lock:
            payload = self.world.invoices.get((int(bot_id), int(chat_id), int(message_id)))
            chat = self.world.groups.get(int(chat_id)) or self.world.private(
                int(bot_id), int(chat_id)
            )
            message = chat.get(int(message_id)) if chat is not None else None
            if payload is None or message is None:
                raise SandboxError(
                    f"no invoice {message_id} from bot {bot_id} in chat {chat_id}",
                    code="invoice_not_found",
                    status=404,
                )
            amount = message["invoice"]["total_amount"]
            return actions.pay_stars(
                self.world, int(bot_id), int(user_id), payload, amount, self.clock
            )

    def refund_star_payment(self, bot_id: int, user_id: int, charge_id: str) -> None:
        """The bot's owner refunds a payment outside the platform (a script with the bot's
        token): refundStarPayment as the bot, in its call log, the refunded_payment message
        and the refund in getStarTransactions. Telegram's refusal (CHARGE_NOT_FOUND,
        CHARGE_ALREADY_REFUNDED) raises SandboxError with its description."""
        with self.world.lock:
            bot = self.world.bot(bot_id)
        params = Params({"user_id": int(user_id), "telegram_payment_charge_id": str(charge_id)})
        status, body = self._call_now(bot, "refundStarPayment", params)
        if status != 200:
            raise SandboxError(body["description"], code="refused", status=status)

    def web_app_url(
        self, bot_id: int, user_id: int, url: str, *, chat_type: str = "private"
    ) -> str:
        """The URL a Telegram app opens for the bot's Mini App at ``url``: signed initData
        for the user in the fragment, as python-side validators and telegram-web-app.js
        expect it."""
        with self.world.lock:
            bot = self.world.bot(bot_id)
            user = self.world.person(user_id)
            data = webapp.init_data(
                bot_token=bot.token,
                user=user,
                auth_date=self.world.now(),
                query_id=f"AAE{self.world.serial():012d}",
                chat_type=chat_type,
            )
        if not re.match(r"https?://\S+$", url):
            raise SandboxError("a Mini App URL is an http(s) URL", code="invalid_url")
        return webapp.launch_url(url, data)

    def file(self, file_id: str) -> tuple[bytes, str] | None:
        """The bytes and content type of a file a bot uploaded (None for URL photos)."""
        with self.world.lock:
            record = self.world.files.get(file_id)
            if record is None or not record["data"]:
                return None
            return record["data"], record["content_type"]

    # ---- control: what happened -------------------------------------------------------
    def sent(self, bot_id: int, chat_id: int | None = None) -> list[JSONDict]:
        """The messages the bot sent (all chats, or one), oldest first, as they are now:
        edits applied, deleted ones left out."""
        with self.world.lock:
            found = [
                stored
                for chat, stored in self.world.messages_sent_by(int(bot_id))
                if not stored.deleted and (chat_id is None or chat.id == int(chat_id))
            ]
            return [copy.deepcopy(s.message) for s in sorted(found, key=lambda s: s.seq)]

    def calls(self, bot_id: int, method: str | None = None) -> list[JSONDict]:
        """Every Bot API call the bot made: ``{"method", "params", "status", "ts"}``
        (``ts`` on the sandbox's clock), refused ones (429, 403, ...) included."""
        with self.world.lock:
            calls = self.world.bot(bot_id).calls
            wanted = method.lower() if method else None
            return [copy.deepcopy(c) for c in calls if wanted in (None, c["method"].lower())]

    def chat_messages(
        self, chat_id: int, *, bot_id: int | None = None, limit: int = 200
    ) -> list[JSONDict]:
        """A chat's history both ways (what the people in it see): a group's, or with
        ``bot_id`` the private chat between that bot and user ``chat_id``."""
        with self.world.lock:
            chat: Conversation | None = self.world.groups.get(int(chat_id))
            if chat is None and bot_id is not None:
                chat = self.world.private(int(bot_id), int(chat_id))
            if chat is None:
                return []
            live = [s.message for s in chat.messages.values() if not s.deleted]
            return copy.deepcopy(live[-limit:])

    def pending_updates(self, bot_id: int) -> list[JSONDict]:
        """Updates queued for the bot and not yet confirmed or delivered."""
        with self.world.lock:
            return copy.deepcopy(self.world.bot(bot_id).updates)

    def callback_answer(self, query_id: str) -> JSONDict | None:
        """How the bot answered a button press (text, show_alert, url), None until then."""
        with self.world.lock:
            record = self.world.callbacks.get(query_id)
            if record is None:
                raise SandboxError(f"no callback query {query_id}", code="not_found", status=404)
            return copy.deepcopy(record["answer"])

    def star_balance(self, bot_id: int) -> int:
        with self.world.lock:
            return self.world.bot(bot_id).star_balance

    def star_transactions(self, bot_id: int) -> list[JSONDict]:
        """The bot's StarTransaction objects, newest first (getStarTransactions' order)."""
        with self.world.lock:
            return copy.deepcopy(self.world.bot(bot_id).star_transactions[::-1])

    def member(self, chat_id: int, user_id: int) -> JSONDict:
        """The user's ChatMember in the group (``left`` if they never were in it)."""
        with self.world.lock:
            group = self.world.group(chat_id)
            self.world.user(user_id)
            return self.world.member_or_left(group, int(user_id))

    def snapshot(self) -> JSONDict:
        """Bots (without tokens, with their default menu button if one was set), people,
        and groups with their members, for the page."""
        with self.world.lock:
            return {
                "bots": [
                    {**copy.deepcopy(b.user), "menu_button": b.menu_buttons.get(None)}
                    for b in self.world.bots.values()
                ],
                "users": [copy.deepcopy(u) for u in self.world.users.values() if not u["is_bot"]],
                "groups": [
                    {
                        **copy.deepcopy(g.chat),
                        "members": [
                            {"user_id": uid, "status": m["status"]} for uid, m in g.members.items()
                        ],
                    }
                    for g in self.world.groups.values()
                ],
            }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)

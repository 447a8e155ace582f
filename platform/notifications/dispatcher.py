"""The per-bot dispatcher: sends a bot's outbox within Telegram's limits.

The bot runtime starts one per hosted bot::

    dispatcher = Dispatcher(bot_id=bot.id, bot=bot)   # bot: an initialised telegram.Bot
    await dispatcher.run(stop)                        # until stop (an asyncio.Event) is set

A pipeline: the dispatcher keeps up to ``batch_size`` claimed rows in hand and claims more
(after housekeeping: mark sends orphaned by a dead dispatcher ``uncertain``, expand a batch
of a broadcast, complete finished broadcasts) as soon as half of them are done, so the
sends never wait for the database. One task per chat sends its rows in order. Before each
send the rate limiter (shared through Redis when ``REDIS_URL`` is set) must grant the
bot's window (30/s, or the paid 1,000/s), the chat's (1/s) and a group's (20/min); one
task at a time waits for the bot's window (the others queue behind it in claim order), and
free sends are spread over the window rather than sent in bursts. A chat that has no room
yet gives its rows back with ``not_before`` moved (the dispatcher never holds rows while a
chat cools down); a short bot-level wait is slept. Every send is marked ``sending`` just
before its HTTP request and its result recorded right after, each in its own statement.

Setting ``stop`` is the graceful stop: no further claims or sends, in-flight requests
finish and are recorded, unsent claimed rows are given back. See docs/architecture.md
("Notifications") for what survives a hard kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
import warnings
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from botruntime.gate import gated, is_gated
from notifications import conf, services
from notifications.conf import RateLimits
from notifications.ratelimit import Limiter, Rule, limiter_for
from notifications.services import Claimed

logger = logging.getLogger(__name__)

# httpx failures that prove the request never left this process.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _ambiguous(exc: NetworkError) -> bool:
    """Did the request perhaps reach Telegram? A NetworkError with no cause is Telegram's
    own 5xx answer (it refused the message); a connect/pool failure never left; anything
    else (a read timeout, a dropped connection) may have been delivered."""
    cause = exc.__cause__
    if cause is None:
        return False
    return not isinstance(cause, _NOT_SENT)


class _NotStarted(Exception):
    """Raised by a send's start: its request must not leave."""


class _Start:
    """The start of one send, run by the HTTP client right before the request leaves
    (botruntime.gate): commit the row as ``sending``, so a kill from then on leaves it
    ``uncertain``, never resent. The request is built by then, so the window between that
    commit and the request on the wire is a hand-off from the database thread and a
    socket write. Outcomes: LOST (the lease was lost or the row cancelled: not ours to
    send), LATE (the database held the send up past its rate windows: given back for
    ``delay``), SENDING (the request went out)."""

    PENDING, SENDING, LOST, LATE = "pending", "sending", "lost", "late"

    def __init__(self, dispatcher: Dispatcher, row: Claimed, token: str) -> None:
        self.dispatcher = dispatcher
        self.row = row
        self.token = token  # the rate limiter's grant for this send
        self.counted_at = time.monotonic()
        self.outcome = self.PENDING
        self.delay = 0.0

    async def __call__(self) -> None:
        d, row = self.dispatcher, self.row
        started = await d._db(
            services.outbox_mark_sending,
            message_id=row.id,
            owner=d.owner,
            lease_seconds=d.lease_seconds,
        )
        if not started:
            self.outcome = self.LOST
            raise _NotStarted
        self.outcome = self.SENDING
        if time.monotonic() - self.counted_at > d.limits.margin / 2:
            # The database held us up: the send would land later than its windows counted
            # it. Count it again at its real time (the earlier places are released in the
            # same step). Rare, so the row may wait marked; not behind the gate, where the
            # next send may be waiting for the window.
            delay, _ = await d._acquire(row, release=self.token, gated=False)
            if delay is not None:
                await d._db(services.outbox_unmark, message_id=row.id, owner=d.owner, delay=delay)
                self.outcome, self.delay = self.LATE, delay
                raise _NotStarted


class Dispatcher:
    def __init__(
        self,
        *,
        bot_id: int,
        bot: Bot,
        limits: RateLimits | None = None,
        limiter: Limiter | None = None,
        batch_size: int = 100,
        concurrency: int = 64,
        lease_seconds: float | None = None,
        max_sleep: float = 2.0,
        retry_base: float = 1.0,
        retry_cap: float = 300.0,
        resend_ambiguous: bool = False,
        expand_batch: int = 500,
        housekeeping_seconds: float = 5.0,
        idle_seconds: tuple[float, float] = (0.1, 2.0),
        thread_sensitive: bool = True,
        spacing: float = 0.9,
        isolated_429_pause: float = 0.1,
    ) -> None:
        if not is_gated(bot.request):
            raise TypeError(
                "the dispatcher's bot must use botruntime.gate.GatedRequest, which marks "
                "each send as started right before its request leaves"
            )
        self.bot_id = bot_id
        self.bot = bot
        self.limits = limits or RateLimits.from_settings()
        self._limiter = limiter
        self._owns_limiter = limiter is None
        # Rows claimed and not yet done: at most batch_size; more are claimed once no more
        # than half of them are left, while the rest are being sent.
        self.batch_size = batch_size
        self.refill_at = batch_size // 2
        self.lease_seconds = conf.lease_seconds() if lease_seconds is None else lease_seconds
        self.max_sleep = max_sleep
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.resend_ambiguous = resend_ambiguous
        self.expand_batch = expand_batch
        self.housekeeping_seconds = housekeeping_seconds
        self.idle_seconds = idle_seconds
        # True: database calls run on the one thread Django's async bridge keeps for sync
        # code (what tests need: the test's transaction). False: a thread pool, each thread
        # with its own connection — more throughput for paid broadcasts.
        self.thread_sensitive = thread_sensitive
        # Free sends of the bot are at least spacing * window / limit apart: spread over
        # the window instead of a burst of 30 at once, so no send queues behind the others
        # (in the database, the HTTP client, Telegram) and arrives later than it was
        # counted. Below 1, so a send held up a moment can be caught up with; the window
        # itself stays the limit. 0: no spacing.
        self.spacing = spacing
        # How long one 429 (no other chat refused within two seconds) pauses the whole bot.
        self.isolated_429_pause = isolated_429_pause
        self.owner = uuid.uuid4()  # this dispatcher's lease identity
        self.concurrency = concurrency
        self._semaphore: asyncio.Semaphore | None = None
        self._gate: asyncio.Lock | None = None  # one task at a time waits for the bot
        self._nudge: asyncio.Event | None = None  # wakes the claiming loop
        self._want_room = False  # the loop waits until few enough rows are in hand
        self._tasks: set[asyncio.Task] = set()
        self._in_hand = 0  # claimed rows whose chat task has not finished
        self._returned: list[int] = []  # claimed rows not started when the stop came
        self._stop: asyncio.Event | None = None
        self._last_housekeeping = float("-inf")
        self._last_429: tuple[int, float] | None = None
        self._wake_at = float("inf")  # when the earliest message this one put back is due
        self.expanded = 0  # recipients expanded by the last housekeeping
        self.uncertain = 0  # sends this dispatcher's housekeeping found orphaned
        self.sent = 0  # messages this dispatcher delivered

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def limiter(self) -> Limiter:
        if self._limiter is None:
            self._limiter = limiter_for(settings.REDIS_URL)
        return self._limiter

    async def aclose(self) -> None:
        if self._owns_limiter and self._limiter is not None:
            await self._limiter.aclose()
            self._limiter = None

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; then finish and record what is in flight and give
        back what was claimed but not started. Cancelled (a hard stop), it cancels its
        sends where they are."""
        self._stop = stop
        # Made per run: asyncio primitives belong to the loop that first waits on them.
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._gate = asyncio.Lock()
        self._nudge = asyncio.Event()
        watcher = asyncio.create_task(self._watch(stop))
        logger.info("notifications.dispatcher.started", extra={"bot_id": self.bot_id})
        try:
            await self._loop(stop)
            await self._finish()
        except BaseException:
            for task in list(self._tasks):
                task.cancel()
            raise
        finally:
            watcher.cancel()
            await self.aclose()
            logger.info("notifications.dispatcher.stopped", extra={"bot_id": self.bot_id})

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        assert self._nudge is not None
        self._nudge.set()

    async def _loop(self, stop: asyncio.Event) -> None:
        idle_min, idle_max = self.idle_seconds
        idle = idle_min
        assert self._nudge is not None
        while not stop.is_set():
            try:
                claimed = await self._refill()
            except (DatabaseError, InterfaceError):
                logger.exception(
                    "notifications.dispatcher.database_error", extra={"bot_id": self.bot_id}
                )
                await self._db(connection.close)  # reconnect on the next call
                claimed, idle, self.expanded = 0, idle_max, 0
            except Exception:
                # Redis unreachable, a bug: this bot's notifications must not stop for
                # good. Claimed rows come back when their lease runs out.
                logger.exception("notifications.dispatcher.error", extra={"bot_id": self.bot_id})
                claimed, idle, self.expanded = 0, idle_max, 0
            if claimed or self.expanded:
                idle = idle_min
                if self._in_hand <= self.refill_at:
                    continue  # room for more right away
                # Busy: claim again once half of what is in hand is done (housekeeping at
                # the latest when it is due).
                timeout, self._want_room = self.housekeeping_seconds, True
            else:
                # Idle: poll less and less often, but wake for a message this dispatcher
                # put back until a known time.
                timeout = min(idle, max(self._wake_at - time.monotonic(), 0.01))
                idle = min(idle * 2, idle_max)
            self._nudge.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudge.wait(), timeout=timeout)
            self._want_room = False

    async def _finish(self) -> None:
        """The graceful end: wait for the chat tasks (in-flight sends finish and are
        recorded), then give back every claimed row that was not started."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        returned, self._returned = self._returned, []
        if returned:
            try:
                await self._db(
                    services.outbox_release, message_ids=returned, owner=self.owner, delay=0.0
                )
            except (DatabaseError, InterfaceError):  # their leases run out instead
                logger.exception(
                    "notifications.dispatcher.database_error", extra={"bot_id": self.bot_id}
                )

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _db(self, func: Callable[..., Any], /, **kwargs: Any) -> Any:
        return await sync_to_async(func, thread_sensitive=self.thread_sensitive)(**kwargs)

    # --- claiming ----------------------------------------------------------------------

    async def _refill(self) -> int:
        """Housekeeping, then claim up to what is missing from a full hand and start a task
        for each chat. Returns how many rows were claimed."""
        await self._housekeeping()
        wanted = self.batch_size - self._in_hand
        if self._stopping() or wanted <= 0:
            return 0
        if self._wake_at <= time.monotonic():
            self._wake_at = float("inf")
        claimed: list[Claimed] = await self._db(
            services.outbox_claim,
            bot_id=self.bot_id,
            owner=self.owner,
            limit=wanted,
            lease_seconds=self.lease_seconds,
        )
        # Only a chat's head is claimable, and a claimed head is not claimed again while
        # it is in hand: a chat never has rows in two tasks, so its order holds.
        by_chat: dict[int, list[Claimed]] = defaultdict(list)
        for row in claimed:
            by_chat[row.chat_id].append(row)
        for rows in by_chat.values():
            self._in_hand += len(rows)
            task = asyncio.create_task(self._chat(rows))
            self._tasks.add(task)
            task.add_done_callback(self._chat_done)
        return len(claimed)

    def _chat_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            # The rows' leases run out: unsent ones are claimed again, a send that was in
            # flight becomes uncertain.
            logger.error(
                "notifications.dispatcher.chat_failed",
                exc_info=error,
                extra={"bot_id": self.bot_id},
            )

    async def _housekeeping(self) -> None:
        self.expanded = await self._db(
            services.broadcast_expand, bot_id=self.bot_id, batch_size=self.expand_batch
        )
        now = time.monotonic()
        if now - self._last_housekeeping < self.housekeeping_seconds:
            return
        self._last_housekeeping = now
        self.uncertain += await self._db(services.outbox_reap, bot_id=self.bot_id)
        await self._db(services.broadcast_finish, bot_id=self.bot_id)

    async def _put_back(self, message_ids: list[int], delay: float) -> None:
        if not message_ids:
            return
        if self._stopping() and not delay:  # given back together when the dispatcher ends
            self._returned += message_ids
            return
        await self._db(
            services.outbox_release, message_ids=message_ids, owner=self.owner, delay=delay
        )
        self._wake_at = min(self._wake_at, time.monotonic() + delay)

    # --- one chat ----------------------------------------------------------------------

    async def _chat(self, rows: list[Claimed]) -> None:
        """Send one chat's claimed rows in order; give the rest back when the chat has no
        room yet or the dispatcher stops."""
        try:
            await self._chat_rows(rows)
        finally:
            self._in_hand -= len(rows)
            if self._want_room and self._in_hand <= self.refill_at:
                assert self._nudge is not None
                self._nudge.set()

    async def _chat_rows(self, rows: list[Claimed]) -> None:
        for index, row in enumerate(rows):
            rest = [r.id for r in rows[index:]]
            if self._stopping():
                await self._put_back(rest, 0.0)
                return
            assert self._semaphore is not None
            async with self._semaphore:
                delay, token = await self._acquire(row)
                if delay is not None:
                    await self._put_back(rest, delay)
                    return
                start = _Start(self, row, token)
                retry_in = await self._send(row, start)
                if start.outcome == _Start.LOST:
                    continue
                if start.outcome == _Start.LATE:
                    await self._put_back(rest[1:], start.delay)
                    return
            if retry_in is not None:
                # Later messages to this chat wait as long, so they keep their order.
                self._wake_at = min(self._wake_at, time.monotonic() + retry_in)
                await self._put_back([r.id for r in rows[index + 1 :]], retry_in)
                return

    # --- rate limits -------------------------------------------------------------------

    def _rules(self, row: Claimed) -> tuple[list[Rule], list[str], set[str]]:
        limits, margin = self.limits, self.limits.margin
        chat = f"chat:{self.bot_id}:{row.chat_id}"
        # One message per 1/rate seconds in a chat: Telegram allows short bursts, but how
        # long is not documented, so none are taken.
        rules = [Rule(chat, 1, 1.0 / max(limits.per_chat_per_s, 0.001) + margin)]
        if row.chat_id < 0:
            group = f"group:{self.bot_id}:{row.chat_id}"
            rules.append(Rule(group, max(int(limits.per_group_per_min), 1), 60.0 + margin))
        chat_keys = {rule.key for rule in rules} | {chat}
        # One log of the bot's sends, as Telegram counts them: a paid broadcast may fill it
        # up to 1,000 a second, any other send only while it holds fewer than 30.
        rate = max(int(limits.paid_per_s if row.paid else limits.per_bot_per_s), 1)
        window = 1.0 + margin
        rules.append(Rule(f"bot:{self.bot_id}", rate, window))
        if not row.paid and self.spacing > 0:
            rules.append(Rule(f"pace:{self.bot_id}", 1, self.spacing * window / rate))
        return rules, [chat, f"bot:{self.bot_id}"], chat_keys

    async def _acquire(
        self, row: Claimed, *, release: str = "", gated: bool = True
    ) -> tuple[float | None, str]:
        """(None, token): send now. (seconds, ""): give the row back for that long (its
        chat has no room, the bot is paused for long, or the dispatcher is stopping: 0).

        Gated, the wait for the bot's window happens behind this dispatcher's gate: one
        task asks the limiter and sleeps until the window has room, the others queue in
        the order they were claimed (no herd of tasks polling the limiter, no send jumping
        the queue)."""
        rules, pauses, chat_keys = self._rules(row)
        assert self._gate is not None
        async with self._gate if gated else contextlib.nullcontext():
            while True:
                if self._stopping():
                    return 0.0, ""
                verdict = await self.limiter.acquire(rules, pauses, release=release)
                release = ""  # released by the first call, granted or not
                if verdict.ok:
                    return None, verdict.token
                if verdict.key in chat_keys or verdict.wait > self.max_sleep:
                    return verdict.wait, ""
                await asyncio.sleep(verdict.wait)

    async def _on_retry_after(self, row: Claimed, seconds: float) -> None:
        """A 429 does not say whether the chat or the whole bot hit a limit. The chat waits
        the full retry_after; the bot too when a second chat is refused within two seconds
        (a bot-wide flood wait). Otherwise the bot waits only ``isolated_429_pause`` (100
        ms): a lone 429 is most often one send that arrived a few milliseconds too early
        for Telegram's window (the time to Telegram varied by more than the margin), and
        that window has room again within milliseconds. Pausing the bot for retry_after's
        whole second each time cost about 30 sends; if it was the bot's limit after all,
        the next refusal makes it a bot-wide wait."""
        now = time.monotonic()
        await self.limiter.pause(f"chat:{self.bot_id}:{row.chat_id}", seconds)
        bot_wide = (
            self._last_429 is not None
            and self._last_429[0] != row.chat_id
            and now - self._last_429[1] < 2.0
        )
        pause = seconds if bot_wide else min(seconds, self.isolated_429_pause)
        await self.limiter.pause(f"bot:{self.bot_id}", pause)
        self._last_429 = (row.chat_id, now)

    # --- one send ----------------------------------------------------------------------

    def _text(self, exc: Exception) -> str:
        """An error's message for logs and last_error, never with the bot's token."""
        return str(exc).replace(self.bot.token, "<token>")

    def _backoff(self, attempts: int) -> float:
        delay = min(self.retry_base * 2**attempts, self.retry_cap)
        return delay * random.uniform(0.8, 1.2)  # noqa: S311

    def _send_kwargs(self, row: Claimed) -> dict[str, Any]:
        options = row.options
        kwargs: dict[str, Any] = {"chat_id": row.chat_id, "text": row.text}
        for key in ("parse_mode", "disable_notification", "protect_content", "message_thread_id"):
            if key in options:
                kwargs[key] = options[key]
        if options.get("link_preview_disabled"):
            kwargs["link_preview_options"] = LinkPreviewOptions(is_disabled=True)
        if options.get("reply_markup"):
            kwargs["reply_markup"] = InlineKeyboardMarkup.de_json(options["reply_markup"], None)
        if row.paid:
            kwargs["allow_paid_broadcast"] = True
        return kwargs

    async def _send(self, row: Claimed, start: _Start) -> float | None:
        """One HTTP request, marked as started by ``start`` right before it leaves, then its
        result recorded at once. Returns the delay when the message goes back to pending
        (a 429 or a retryable error), else None."""
        log = {"bot_id": self.bot_id, "outbox_id": row.id, "chat_id": row.chat_id}
        record: partial[Any]  # retry (-> str) or an outcome (-> bool); the result is unused
        retry, final = services.outbox_record_retry, services.outbox_record_final
        try:
            kwargs = self._send_kwargs(row)
        except (ValueError, TypeError, KeyError) as exc:  # e.g. a malformed reply_markup
            with contextlib.suppress(_NotStarted):
                await start()  # recorded like any send: marked first
                await self._db(
                    final, message_id=row.id, owner=self.owner, status="failed", error=repr(exc)
                )
            return None
        try:
            try:
                async with gated(start):
                    message = await self.bot.send_message(**kwargs)
            except Exception as exc:
                if start.outcome == _Start.SENDING:
                    raise
                if start.outcome == _Start.PENDING:
                    # Refused before the request was built: nothing left, the row is
                    # still pending and ours. It waits, and the chat's next rows after it.
                    delay = self._backoff(row.attempts)
                    logger.warning(
                        "notifications.send_not_started", extra={**log, "error": self._text(exc)}
                    )
                    await self._put_back([row.id], delay)
                    return delay
                return None  # LOST or LATE: the caller reads start.outcome
        except InvalidToken:
            # The bot's token was revoked: nothing will go out; keep the messages. (Its
            # error message may quote the token: only the class is kept.)
            await self.limiter.pause(f"bot:{self.bot_id}", 60.0)
            record = partial(retry, delay=60.0, error="InvalidToken", count_attempt=False)
            logger.error("notifications.invalid_token", extra=log)
        except RetryAfter as exc:
            seconds = retry_after_seconds(exc)
            await self._on_retry_after(row, seconds)
            record = partial(retry, delay=seconds, error=self._text(exc), count_attempt=False)
            logger.info("notifications.retry_after", extra={**log, "seconds": seconds})
        except Forbidden as exc:
            record = partial(
                services.outbox_record_blocked, bot_id=self.bot_id, error=self._text(exc)
            )
        except ChatMigrated as exc:
            record = partial(services.outbox_record_migrated, new_chat_id=exc.new_chat_id)
        except BadRequest as exc:
            record = partial(final, status="failed", error=self._text(exc))
            logger.warning("notifications.bad_request", extra={**log, "error": self._text(exc)})
        except NetworkError as exc:  # TimedOut included
            error = f"{type(exc).__name__}: {self._text(exc)}"
            if _ambiguous(exc) and not self.resend_ambiguous:
                record = partial(final, status="uncertain", error=error)
                logger.warning("notifications.uncertain_send", extra={**log, "error": error})
            else:
                record = partial(retry, delay=self._backoff(row.attempts), error=error)
                logger.info("notifications.send_retry", extra={**log, "error": error})
        except TelegramError as exc:
            record = partial(final, status="failed", error=self._text(exc))
            logger.warning("notifications.send_failed", extra={**log, "error": self._text(exc)})
        else:
            record = partial(services.outbox_record_sent, telegram_message_id=message.message_id)
            self.sent += 1
        await self._db(record, message_id=row.id, owner=self.owner)
        return record.keywords.get("delay") if record.func is retry else None

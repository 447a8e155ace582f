"""The bot runtime: one process hosting one or many Telegram bots, plus the durable jobs.

Per bot, one python-telegram-bot ``Application`` (no Updater, no JobQueue of its own),
all sharing one HTTP connection pool. Updates arrive by long polling (one asyncio task
per bot) or through one aiohttp webhook server for every bot
(``/telegram/webhook/<bot_id>``, checked against a per-bot secret). Either way an update
is first recorded in PostgreSQL as ``received``, with its JSON and a lease
(``updates_accept``, deduplicated by (bot, update_id); updates arriving together share
one statement, written on threads of their own, ``BOT_ACCEPT_THREADS``, so that they
never wait behind the runtime's other database work; see ``batching.GroupCommit``) and
only then handed to the Application;
while the database is down the webhook answers 503 and the poller does not advance its
offset, so Telegram delivers the update again.

Handlers buffer their hot-path writes (``batching.WriteBehind``); the runtime applies
them every ``BOT_WRITE_BEHIND_S`` seconds and once more when it stops, and in the same
transaction marks ``done`` the updates whose handlers had returned (``pipeline``). It
renews the leases of the updates it holds; a ``received`` update whose lease ran out (its
runtime died) is run again by the runtime hosting its bot (``rerun_updates``). Replies
that meet Telegram's flood control wait and go again (``replies``).

One PTB ``JobQueue`` ticks every second: it claims due rows of the jobs table and runs
them on worker threads (``JOB_WORKERS``), off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import itertools
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from aiohttp import web
from asgiref.sync import sync_to_async
from django.apps import apps
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import close_old_connections, connection, transaction
from telegram import BotCommand, MenuButtonWebApp, Update, WebAppInfo
from telegram import error as tg_error
from telegram.ext import Application, ApplicationBuilder, BaseHandler, ContextTypes

from botruntime.batching import GroupCommit, WriterThreads, buffers
from botruntime.bot_changes import BotChanges
from botruntime.gate import GatedRequest
from botruntime.pipeline import HandledReporter
from botruntime.replies import ReplyRetry, retry_after_seconds
from botruntime.selectors import mini_app_url
from botruntime.services import (
    job_renew,
    job_run,
    jobs_claim,
    jobs_schedule_recurring,
    updates_accept,
    updates_done,
    updates_reclaim,
    updates_renew,
)
from botruntime.shards import Shard
from botruntime.webhook_keys import webhook_secret, webhook_secret_accepted
from config.job_registry import job_kinds
from tenancy.models import Bot, Tenant
from tenancy.selectors import bot_placement, bot_tokens

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook/{bot_id}"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POLL_TIMEOUT = 30  # seconds Telegram holds a getUpdates call open
RETRY_MIN, RETRY_MAX = 1.0, 30.0  # backoff while Telegram or the database is unreachable
SCHEDULE_EVERY = 60.0  # seconds between passes that keep recurring jobs scheduled
STARTUP_CONCURRENCY = 16  # bots initialised at once (getMe, commands, webhook)
BOTS_REFRESH_EVERY = 60.0  # seconds between checks for added, removed or changed bots
LEASE_RENEWALS = 3  # a running job's lease is renewed this many times per lease period
# Why a bot is not served: its stored token cannot be decrypted with FIELD_ENCRYPTION_KEY,
# or Telegram refused it (getMe) at start.
TOKEN_UNREADABLE, TELEGRAM_REFUSED = "token_unreadable", "telegram_refused"
# What a runtime serves (``runbots --serve``): its bots' updates (polling or webhooks, the
# handlers), its bots' notification dispatchers, the durable jobs. Default: all three.
UPDATES, DISPATCH, JOBS = "updates", "dispatch", "jobs"
SERVE_PARTS = (UPDATES, DISPATCH, JOBS)

HandlerFactory = Callable[[], list[tuple[BaseHandler, int]]]


def api_base() -> str:
    return settings.TELEGRAM_API_BASE.rstrip("/")


def _telegram_modules() -> Iterable[Any]:
    for config in apps.get_app_configs():
        name = f"{config.name}.telegram"
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def collect_handlers() -> list[tuple[BaseHandler, int]]:
    """Every installed app's handlers: ``<app>/telegram.py`` defines ``handlers()``
    returning handlers, or ``(handler, group)`` pairs (lower groups run first)."""
    found: list[tuple[BaseHandler, int]] = []
    for module in _telegram_modules():
        factory = getattr(module, "handlers", None)
        for item in factory() if factory else []:
            found.append(item if isinstance(item, tuple) else (item, 0))
    return found


def collect_commands() -> list[BotCommand]:
    """The command menu: each app's optional ``commands()`` in app order (accounts' core
    commands, /start, /help and /profile, first); the first definition of a name wins."""
    seen: dict[str, BotCommand] = {}
    for module in _telegram_modules():
        for command in getattr(module, "commands", list)():
            seen.setdefault(command.command, command)
    return list(seen.values())


class SharedRequest(GatedRequest):
    """One connection pool for every hosted bot, gated (the dispatchers mark each send as
    started right before its request leaves: botruntime.gate). PTB initialises and shuts
    down a bot's request objects with the bot; shared ones must outlive any single bot, so
    only the runtime closes this one (``close``)."""

    __slots__ = ()

    async def shutdown(self) -> None:
        """Left open for the other bots; see ``close``."""

    async def close(self) -> None:
        await super().shutdown()


@dataclass(eq=False)
class HostedBot:
    bot_id: int
    tenant: Tenant
    application: Application
    token: str = field(repr=False)
    secret: str = field(repr=False)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task] = field(default_factory=list)  # its poller, its dispatcher


def _db_ready() -> None:
    """Drop this thread's connection if an earlier error or its age made it unusable, so
    the runtime recovers by itself once the database is back. Never inside a transaction
    (a test's, or a caller's): that connection is not ours to close."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def _accept(updates: list[tuple[int, int, str | None]]) -> list[bool]:
    _db_ready()
    try:
        return updates_accept(updates=updates)
    except DatabaseError:
        _db_ready()
        raise


class HandledUpdates:
    """Updates this runtime accepted and has not yet recorded as done (``held``: their
    leases are renewed), and those of them whose handlers returned (``handled``: recorded
    done with the next write-behind flush). Handlers report on the event loop, the flush
    takes them on Django's database thread: a lock between."""

    def __init__(self) -> None:
        self._held: set[tuple[int, int]] = set()
        self._handled: list[tuple[int, int]] = []
        self._lock = threading.Lock()

    def hold(self, key: tuple[int, int]) -> None:
        with self._lock:
            self._held.add(key)

    def handled(self, key: tuple[int, int]) -> None:
        with self._lock:
            self._handled.append(key)

    def __len__(self) -> int:
        return len(self._handled)

    def take(self) -> list[tuple[int, int]]:
        with self._lock:
            taken, self._handled = self._handled, []
        return taken

    def put_back(self, keys: list[tuple[int, int]]) -> None:
        with self._lock:
            self._handled[:0] = keys

    def release(self, keys: list[tuple[int, int]]) -> None:
        with self._lock:
            self._held.difference_update(keys)

    def holding(self) -> list[tuple[int, int]]:
        with self._lock:
            return sorted(self._held)

    def holds(self, key: tuple[int, int]) -> bool:
        return key in self._held


def _flush_buffers() -> tuple[int, bool, bool]:
    """Flush every write-behind buffer, each in a savepoint of the caller's transaction.
    (keys written, whether all succeeded, whether any wrote something)."""
    written, ok = 0, True
    for buffer in buffers():
        try:
            with transaction.atomic():
                written += buffer.flush()
        except Exception as exc:  # put back by the buffer; the others still flush
            ok = False
            logger.warning(
                "botruntime.write_behind_failed",
                extra={"buffer": buffer.name, "pending": len(buffer), "error": str(exc)[:200]},
            )
    return written, ok, written > 0


def _flush(updates: HandledUpdates) -> int:
    """Write what the handlers buffered and, in the same transaction, mark done the
    updates whose handlers had returned before it started: a buffered count is committed
    exactly when its update stops being re-runnable. Updates are taken first, so every
    count they buffered is in this flush (counts of updates handled meanwhile may ride
    along and are marked done with the next flush)."""
    _db_ready()
    handled = updates.take()
    wrote = False
    try:
        with transaction.atomic():
            written, ok, wrote = _flush_buffers()
            if connection.needs_rollback:  # a savepoint could not be rolled back
                raise DatabaseError("the write-behind flush lost its transaction")
            if ok:
                updates_done(updates=handled)
    except DatabaseError:
        _db_ready()
        if wrote:
            # The transaction that held their counts is gone: no longer held, they are
            # re-run once their lease runs out, and count again. (A buffer that failed in
            # that flush put its batch back: its counts for them are then written twice.)
            updates.release(handled)
        else:
            updates.put_back(handled)
        raise
    if ok:
        updates.release(handled)
    else:
        updates.put_back(handled)  # done with the flush that writes their counts
    return written


def _close_connections(executor: ThreadPoolExecutor, threads: int) -> None:
    """Close the database connection of each of the executor's ``threads`` threads: one
    task per thread, each held at a barrier until all run, so no thread takes two."""
    barrier = threading.Barrier(threads)

    def close() -> None:
        connection.close()
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=5)  # a thread still running a job never arrives

    for future in [executor.submit(close) for _ in range(threads)]:
        with contextlib.suppress(Exception):
            future.result(timeout=10)


def _close_connection() -> None:
    """Close the calling thread's database connection (``connection`` is per thread: it
    must be looked up on the thread that closes it, not where this is handed over)."""
    connection.close()


def _db_call(func: Callable[..., Any], /, **kwargs: Any) -> Any:
    _db_ready()
    try:
        return func(**kwargs)
    except DatabaseError:
        _db_ready()
        raise


def _renew(*, job: Any, worker: str, lease: timedelta) -> bool:
    _db_ready()
    return job_renew(job=job, worker=worker, lease=lease)


def _fresh_connections(func: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    close_old_connections()
    try:
        return func(**kwargs)
    finally:
        close_old_connections()


class Runtime:
    """Hosts bots and runs durable jobs until ``stop()``.

    ``bot_ids``: only these bots, whatever their placement (default: every active pooled
    bot with a token, plus the PLATFORM_BOT_TOKEN bot; isolated bots run in workloads of
    their own, ``runbots --bot ID``). ``shard``: of those default bots, only the ones
    hashed to this shard (``botruntime.shards``). ``serve``: which of ``SERVE_PARTS`` this
    runtime serves (default all; ``jobs=False`` drops "jobs"): without "updates" and
    "dispatch" it hosts no bot; with "dispatch" alone it hosts its bots to send their
    outbox, without polling or webhooks. ``webhook``: serve webhooks on ``listen:port``
    and register ``webhook_url`` (default: the local address) with Telegram; else long
    polling (either only when serving updates).
    ``job_threads``: threads durable jobs run on; 0 runs them on Django's database
    thread like the handlers' queries (tests do, to share their transaction).
    ``job_kinds``: claim only these kinds (default: every registered kind).
    ``accept_threads``: connections recording arriving updates (``BOT_ACCEPT_THREADS``);
    0 records them on Django's database thread (tests, to share their transaction).
    """

    def __init__(
        self,
        *,
        bot_ids: list[int] | None = None,
        webhook: bool = False,
        webhook_url: str | None = None,
        listen: str = "127.0.0.1",
        port: int = 0,
        jobs: bool = True,
        shard: Shard | None = None,
        serve: Iterable[str] | None = None,
        job_threads: int | None = None,
        job_tick: float = 1.0,
        job_kinds: list[str] | None = None,
        accept_threads: int | None = None,
        poll_timeout: int = POLL_TIMEOUT,
        handlers: HandlerFactory = collect_handlers,
    ) -> None:
        asked = frozenset(SERVE_PARTS if serve is None else serve)
        parts = asked if jobs else asked - {JOBS}
        if asked - set(SERVE_PARTS) or not parts:
            raise ValueError(f"serve is some of {', '.join(SERVE_PARTS)}, got {sorted(parts)}")
        self.serve = parts
        self.shard = shard
        self.updates = UPDATES in self.serve
        self.hosts_bots = bool(self.serve & {UPDATES, DISPATCH})
        # A runtime hosting no bot hosts none, even if asked for some.
        self.bot_ids = bot_ids if self.hosts_bots else []
        # Webhooks carry updates: a runtime that does not serve them has no server.
        self.webhook = (webhook or bool(webhook_url)) and self.updates
        self.webhook_url = webhook_url.rstrip("/") if webhook_url else None
        self.listen, self.port = listen, port
        self.jobs = JOBS in self.serve
        self.job_threads = settings.JOB_WORKERS if job_threads is None else job_threads
        self.job_tick = job_tick
        self.job_kinds = job_kinds
        self.poll_timeout = poll_timeout
        self.handlers = handlers
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.bots: dict[int, HostedBot] = {}
        # Bots not served, and why (TOKEN_UNREADABLE, TELEGRAM_REFUSED): runbots prints it.
        self.skipped: dict[int, str] = {}
        self.started = asyncio.Event()
        self._stopping = asyncio.Event()
        self._request: SharedRequest | None = None
        self._updates_request: SharedRequest | None = None
        self._site_runner: web.AppRunner | None = None
        self._jobs_app: Application | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lease_executor: ThreadPoolExecutor | None = None
        self._running_jobs: set[asyncio.Task] = set()
        self._dispatcher: Any = None
        self._commands: list[BotCommand] = []
        self._refreshing = asyncio.Lock()
        self._changes: BotChanges | None = None
        threads = settings.BOT_ACCEPT_THREADS if accept_threads is None else accept_threads
        self._accept_writers = (
            WriterThreads(threads, name="accept", on_exit=_close_connection)
            if threads > 0
            else None
        )
        self._accepts = GroupCommit(_accept, writers=self._accept_writers)
        self._flusher: asyncio.Task | None = None
        self._replies = ReplyRetry()
        self._updates = HandledUpdates()
        self.update_lease = timedelta(seconds=settings.BOT_UPDATE_LEASE_S)

    # ---- lifecycle -------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Start, serve until ``stop`` is set, then stop cleanly."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def start(self) -> None:
        specs = await sync_to_async(self._load_bots)()
        self._request = SharedRequest(connection_pool_size=64, read_timeout=10.0)
        if self.updates and not self.webhook:
            # Each poller holds one connection open for up to poll_timeout seconds, and
            # bots come and go: no upper bound on this pool.
            unbounded = httpx.Limits(max_connections=None, max_keepalive_connections=None)
            self._updates_request = SharedRequest(
                read_timeout=10.0, pool_timeout=None, httpx_kwargs={"limits": unbounded}
            )
        self._commands = collect_commands()
        self._dispatcher = _dispatcher_class()
        if self.webhook:
            await self._serve_webhooks()
        gate = asyncio.Semaphore(STARTUP_CONCURRENCY)
        await asyncio.gather(*(self._host(gate, *spec) for spec in specs))
        if self.updates:
            await self.rerun_updates()  # what a runtime that died left half done
        await self._start_queue()
        self._flusher = asyncio.create_task(self._flush_every(), name="write-behind")
        if self.hosts_bots:
            loop = asyncio.get_running_loop()
            self._changes = BotChanges(
                lambda: asyncio.run_coroutine_threadsafe(self._refresh(None), loop)
            )
            self._changes.start()
        self.started.set()
        logger.info(
            "botruntime.started",
            extra={
                "bots": sorted(self.bots),
                "skipped": {str(bot_id): why for bot_id, why in sorted(self.skipped.items())},
                "mode": "webhook" if self.webhook else "polling",
                "shard": str(self.shard) if self.shard else None,
                "serve": sorted(self.serve),
                "worker": self.worker,
                "webhook_base": self.webhook_base if self.webhook else None,
            },
        )

    async def stop(self) -> None:
        self._stopping.set()  # a notice heard from now on refreshes nothing
        if self._site_runner is not None:
            await self._site_runner.cleanup()  # no new webhook deliveries
        if self._jobs_app is not None and self._jobs_app.job_queue is not None:
            await self._jobs_app.job_queue.stop(wait=True)
        if self._running_jobs:
            # Jobs run on threads and cannot be interrupted; a job still running when the
            # runtime is gone is reclaimed by the next runtime after its lease.
            await asyncio.wait(self._running_jobs, timeout=30)
        async with self._refreshing:
            await asyncio.gather(*(self._unhost(h) for h in list(self.bots.values())))
        if self._flusher is not None:
            await self._flusher
        await self.flush()  # what the released bots' last updates wrote
        for request in (self._request, self._updates_request):
            if request is not None:
                await request.close()
        if self._accept_writers is not None:
            await asyncio.to_thread(self._accept_writers.close)
        for executor, threads in ((self._executor, self.job_threads), (self._lease_executor, 1)):
            if executor is not None:
                await asyncio.to_thread(_close_connections, executor, threads)
                executor.shutdown(wait=False, cancel_futures=True)
        if self._changes is not None:
            await asyncio.to_thread(self._changes.stop)
        logger.info("botruntime.stopped", extra={"worker": self.worker})

    # ---- bots ------------------------------------------------------------------------
    def _load_bots(self) -> list[tuple[int, str, Tenant]]:
        if not self.hosts_bots:
            return []
        if self.bot_ids is not None:  # named bots, whatever their placement
            loaded = bot_tokens(bot_ids=self.bot_ids)
        else:  # the pooled bots, of this shard's share
            keep = self.shard.hosts if self.shard is not None else None
            loaded = bot_tokens(placement=Bot.Placement.POOLED, keep=keep)
        specs = {spec[0]: spec for spec in loaded if spec[1]}
        self._own_token(specs, loaded)
        platform_token = settings.PLATFORM_BOT_TOKEN
        head = platform_token.split(":", 1)[0]
        if head.isdigit() and int(head) not in specs and self._wants_platform_bot(int(head)):
            public = Tenant.objects.filter(schema_name="public").first()
            if public is not None:
                specs[int(head)] = (int(head), platform_token, public)
        unreadable = {bot_id for bot_id, token, _ in loaded if not token} - specs.keys()
        self._note_unreadable(unreadable, known=specs.keys() | unreadable)
        if self.bot_ids is not None:
            missing = sorted(set(self.bot_ids) - set(specs) - unreadable)
            if missing:
                logger.warning("botruntime.bots_not_found", extra={"bot_ids": missing})
            return [specs[b] for b in self.bot_ids if b in specs]
        return list(specs.values())

    def _own_token(
        self, specs: dict[int, tuple[int, str, Tenant]], loaded: list[tuple[int, str, Tenant]]
    ) -> None:
        """An isolated bot's workload is handed its token (BOT_TOKEN, from the Secret the
        provisioner writes on each deploy and rotation): a named, known bot uses it."""
        token = settings.BOT_TOKEN
        head = token.split(":", 1)[0]
        if self.bot_ids is None or not head.isdigit() or int(head) not in self.bot_ids:
            return
        tenants = {bot_id: tenant for bot_id, _, tenant in loaded}
        if int(head) in tenants:  # the database says whose bot it is, and that it is active
            specs[int(head)] = (int(head), token, tenants[int(head)])

    def _wants_platform_bot(self, bot_id: int) -> bool:
        """The PLATFORM_BOT_TOKEN bot is hosted like a pooled bot (hashed to its shard)
        unless a row of its own places it in a workload of its own."""
        if self.bot_ids is not None:
            return bot_id in self.bot_ids
        if self.shard is not None and not self.shard.hosts(bot_id):
            return False
        return bot_placement(bot_id=bot_id) != Bot.Placement.ISOLATED

    def _note_unreadable(self, unreadable: set[int], *, known: set[int]) -> None:
        """Skip the bots whose token cannot be decrypted, each logged once, so the others
        run; forget skipped bots that are gone or readable again."""
        before = {b for b, why in self.skipped.items() if why == TOKEN_UNREADABLE}
        for bot_id in sorted(unreadable - before):
            logger.error(
                "botruntime.bot_skipped", extra={"bot_id": bot_id, "reason": TOKEN_UNREADABLE}
            )
        kept = {b: why for b, why in self.skipped.items() if b in known and b not in before}
        self.skipped = kept | dict.fromkeys(unreadable, TOKEN_UNREADABLE)

    def _shared_request(self) -> SharedRequest:
        # start() makes it before any bot or the job queue is built.
        assert self._request is not None, "the runtime has not started"
        return self._request

    def _build(self, token: str) -> Application:
        base = api_base()
        request = self._shared_request()
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .request(request)
            .updater(None)
            .job_queue(None)
            .rate_limiter(self._replies)
            .concurrent_updates(HandledReporter(self._handled))
        )
        if self._updates_request is not None:
            builder = builder.get_updates_request(self._updates_request)
        else:
            builder = builder.get_updates_request(request)
        return builder.build()

    async def _host(self, gate: asyncio.Semaphore, bot_id: int, token: str, tenant: Tenant) -> None:
        async with gate:
            app = self._build(token)
            if self.updates:
                for handler, group in self.handlers():
                    app.add_handler(handler, group)
                app.add_error_handler(self._on_error)
                app.bot_data["commands"] = self._commands
            secret = webhook_secret(bot_id) if self.webhook else ""  # polling needs none
            hosted = HostedBot(bot_id, tenant, app, token, secret)
            try:
                await app.initialize()  # getMe: checks the token
                await app.start()
            except tg_error.TelegramError as exc:
                # InvalidToken's message repeats the token: log the class only.
                logger.error(
                    "botruntime.bot_unavailable",
                    extra={"bot_id": bot_id, "error": type(exc).__name__},
                )
                self.skipped[bot_id] = TELEGRAM_REFUSED
                await app.shutdown()
                return
            self.skipped.pop(bot_id, None)
            self.bots[bot_id] = hosted
            if self.updates:
                await self._configure(hosted)
                if self.webhook:
                    await self._register_webhook(hosted)
                else:
                    poller = asyncio.create_task(self._poll(hosted), name=f"poll:{bot_id}")
                    hosted.tasks.append(poller)
            if DISPATCH in self.serve and self._dispatcher is not None:
                # The notifications outbox of this bot, sent at Telegram's pace.
                runner = self._dispatcher(bot_id=bot_id, bot=app.bot)
                hosted.tasks.append(
                    asyncio.create_task(runner.run(hosted.stop), name=f"dispatch:{bot_id}")
                )
            logger.info("botruntime.bot_hosted", extra={"bot_id": bot_id, "tenant": tenant.slug})

    async def _unhost(self, hosted: HostedBot) -> None:
        """Stop serving one bot: its poller and dispatcher end, updates in hand finish."""
        hosted.stop.set()
        for task in hosted.tasks:
            if task.get_name().startswith("poll:"):
                task.cancel()  # a long poll in flight: nothing to finish
        await asyncio.gather(*hosted.tasks, return_exceptions=True)
        app = hosted.application
        with contextlib.suppress(RuntimeError):  # not running
            await app.stop()
        await app.shutdown()
        self.bots.pop(hosted.bot_id, None)
        logger.info("botruntime.bot_released", extra={"bot_id": hosted.bot_id})

    async def refresh_bots(self) -> None:
        """Follow the database: host bots added since (a new community), release removed
        ones (a suspended or deleted community, a deactivated bot), re-host a bot whose
        token changed. Runs every minute."""
        async with self._refreshing:
            if self._stopping.is_set():
                return
            specs = {spec[0]: spec for spec in await sync_to_async(self._load_bots)()}
            changed = [
                hosted
                for bot_id, hosted in self.bots.items()
                if bot_id not in specs or specs[bot_id][1] != hosted.token
            ]
            await asyncio.gather(*(self._unhost(hosted) for hosted in changed))
            for bot_id in specs.keys() & self.bots.keys():
                self.bots[bot_id].tenant = specs[bot_id][2]  # name, status, domain
            gate = asyncio.Semaphore(STARTUP_CONCURRENCY)
            added = [spec for bot_id, spec in specs.items() if bot_id not in self.bots]
            await asyncio.gather(*(self._host(gate, *spec) for spec in added))

    async def _refresh(self, context: ContextTypes.DEFAULT_TYPE | None) -> None:
        try:
            await self.refresh_bots()
        except DatabaseError as exc:
            logger.warning("botruntime.refresh_failed", extra={"error": str(exc)[:200]})

    async def _configure(self, hosted: HostedBot) -> None:
        """The command menu and the Mini App menu button. Failures are logged: a bot
        without them still answers."""
        bot = hosted.application.bot
        url = await sync_to_async(mini_app_url)(tenant=hosted.tenant)
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("setMyCommands", lambda: bot.set_my_commands(self._commands))
        ]
        if url:
            button = MenuButtonWebApp(text="App", web_app=WebAppInfo(url))
            steps.append(
                ("setChatMenuButton", lambda: bot.set_chat_menu_button(menu_button=button))
            )
        for method, call in steps:
            try:
                await call()
            except tg_error.TelegramError as exc:
                # Real Telegram refuses a Mini App URL that is not https (BUTTON_URL_INVALID).
                detail = exc.message if isinstance(exc, tg_error.BadRequest) else ""
                logger.warning(
                    "botruntime.configure_failed",
                    extra={
                        "bot_id": hosted.bot_id,
                        "method": method,
                        "error": type(exc).__name__,
                        "detail": detail,
                    },
                )

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        update_id = getattr(update, "update_id", None)
        extra = {"bot_id": context.bot.id, "update_id": update_id, "error": type(error).__name__}
        if isinstance(error, tg_error.InvalidToken):
            logger.error("botruntime.handler_failed", extra=extra)
            return
        logger.error("botruntime.handler_failed", extra=extra, exc_info=error)

    async def flush(self) -> int:
        """Apply the handlers' buffered writes now and record their updates done; the
        keys written."""
        if not len(self._updates) and not any(len(buffer) for buffer in buffers()):
            return 0
        try:
            return await sync_to_async(_flush)(self._updates)
        except DatabaseError as exc:
            logger.warning("botruntime.flush_failed", extra={"error": str(exc)[:200]})
            return 0

    def _handled(self, update: Any) -> None:
        if isinstance(update, Update):  # PTB also runs other objects put on its queue
            self._updates.handled((update.get_bot().id, update.update_id))

    async def rerun_updates(self, context: ContextTypes.DEFAULT_TYPE | None = None) -> int:
        """Renew the leases of the updates this runtime holds, then take the hosted bots'
        updates whose lease ran out (their runtime died inside a handler, or before) and
        queue them again. Runs at start and every third of the lease. The updates re-run.
        A runtime that does not serve updates leaves them to those that do."""
        if not self.updates:
            return 0
        try:
            held = self._updates.holding()
            if held:
                await sync_to_async(_db_call)(updates_renew, updates=held, lease=self.update_lease)
            due = await sync_to_async(_db_call)(
                updates_reclaim, bot_ids=sorted(self.bots), lease=self.update_lease
            )
        except DatabaseError as exc:
            logger.warning("botruntime.rerun_failed", extra={"error": str(exc)[:200]})
            return 0
        for bot_id, update_id, payload in due:
            if self._updates.holds((bot_id, update_id)):
                continue  # still queued here (its renewal came late): it runs once
            hosted = self.bots.get(bot_id)
            if hosted is None:
                continue  # released meanwhile: its lease runs out again
            update = Update.de_json(payload, hosted.application.bot)
            self._updates.hold((bot_id, update_id))
            await hosted.application.update_queue.put(update)
        return len(due)

    async def _flush_every(self) -> None:
        every = settings.BOT_WRITE_BEHIND_S
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), every)
            await self.flush()

    async def _deliver(self, hosted: HostedBot, update: Update, payload: str) -> bool:
        """Record the update (``payload``: its JSON) as received, then queue it for its
        Application. False for a redelivery. Raises the database's error when it cannot be
        recorded."""
        fresh = await self._accepts.submit((hosted.bot_id, update.update_id, payload))
        if not fresh:
            logger.info(
                "botruntime.update_duplicate",
                extra={"bot_id": hosted.bot_id, "update_id": update.update_id},
            )
            return False
        self._updates.hold((hosted.bot_id, update.update_id))
        await hosted.application.update_queue.put(update)
        return True

    # ---- long polling ----------------------------------------------------------------
    async def _poll(self, hosted: HostedBot) -> None:
        bot = hosted.application.bot
        delays = _backoff()
        try:
            await bot.delete_webhook()  # getUpdates is refused while a webhook is set
        except tg_error.TelegramError as exc:
            logger.warning(
                "botruntime.delete_webhook_failed",
                extra={"bot_id": hosted.bot_id, "error": type(exc).__name__},
            )
        offset: int | None = None
        while not hosted.stop.is_set():
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=self.poll_timeout, allowed_updates=Update.ALL_TYPES
                )
            except tg_error.InvalidToken:
                logger.error("botruntime.poll_token_rejected", extra={"bot_id": hosted.bot_id})
                return
            except tg_error.RetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
                continue
            except tg_error.TelegramError as exc:
                delay = next(delays)
                logger.warning(
                    "botruntime.poll_failed",
                    extra={"bot_id": hosted.bot_id, "error": type(exc).__name__, "retry_in": delay},
                )
                await asyncio.sleep(delay)
                continue
            delays = _backoff()
            while updates:
                try:
                    # One batch: every update of the answer recorded in one statement.
                    await asyncio.gather(*(self._deliver(hosted, u, u.to_json()) for u in updates))
                    break
                except DatabaseError as exc:
                    # Not confirmed to Telegram (offset unchanged): nothing is lost.
                    delay = next(delays)
                    logger.error(
                        "botruntime.database_unavailable",
                        extra={"bot_id": hosted.bot_id, "error": str(exc)[:200]},
                    )
                    await asyncio.sleep(delay)
            if updates:
                delays = _backoff()
                offset = updates[-1].update_id + 1

    # ---- webhooks --------------------------------------------------------------------
    @property
    def webhook_base(self) -> str:
        return self.webhook_url or f"http://{self.listen}:{self.port}"

    async def _serve_webhooks(self) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/telegram/webhook/{bot_id}", self._on_webhook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.listen, self.port)
        await site.start()
        self._site_runner = runner
        if self.port == 0:
            self.port = runner.addresses[0][1]

    async def _register_webhook(self, hosted: HostedBot) -> None:
        url = self.webhook_base + WEBHOOK_PATH.format(bot_id=hosted.bot_id)
        try:
            await hosted.application.bot.set_webhook(
                url=url, secret_token=hosted.secret, allowed_updates=Update.ALL_TYPES
            )
        except tg_error.TelegramError as exc:
            logger.error(
                "botruntime.set_webhook_failed",
                extra={"bot_id": hosted.bot_id, "error": type(exc).__name__},
            )

    async def _on_webhook(self, request: web.Request) -> web.Response:
        try:
            hosted = self.bots.get(int(request.match_info["bot_id"]))
        except ValueError:
            hosted = None
        if hosted is None:
            return web.Response(status=404)
        # The current key's secret, or the previous key's during a rollover (webhook_keys).
        if not webhook_secret_accepted(hosted.bot_id, request.headers.get(SECRET_HEADER, "")):
            logger.warning("botruntime.webhook_forbidden", extra={"bot_id": hosted.bot_id})
            return web.Response(status=403)
        body = await request.text()
        try:
            update = Update.de_json(json.loads(body), hosted.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            update = None
        if update is None:
            return web.Response(status=400)
        try:
            await self._deliver(hosted, update, body)
        except DatabaseError as exc:
            logger.error(
                "botruntime.database_unavailable",
                extra={"bot_id": hosted.bot_id, "error": str(exc)[:200]},
            )
            return web.Response(status=503)  # Telegram retries later
        return web.Response(status=200)

    # ---- durable jobs ----------------------------------------------------------------
    async def _start_queue(self) -> None:
        """PTB's JobQueue: the bot list refresh (when hosting bots), the updates' leases
        (when serving updates), and (with jobs on) the durable job ticks."""
        # The queue lives on an Application; this one never connects to Telegram (jobs
        # create their own clients), it only carries the scheduler.
        request = self._shared_request()
        self._jobs_app = (
            ApplicationBuilder()
            .token("0:jobs")
            .request(request)
            .get_updates_request(request)
            .updater(None)
            .build()
        )
        queue = self._jobs_app.job_queue
        assert queue is not None, "the builder makes one with PTB's job-queue extra"
        # A late tick is simply skipped: the next one claims whatever is due.
        timing = {"coalesce": True, "misfire_grace_time": None}
        if self.hosts_bots:
            queue.run_repeating(
                self._refresh, interval=BOTS_REFRESH_EVERY, name="bots", job_kwargs=timing
            )
        if self.updates:
            queue.run_repeating(
                self.rerun_updates,
                interval=self.update_lease.total_seconds() / LEASE_RENEWALS,
                name="updates",
                job_kwargs=timing,
            )
        if self.jobs:
            if self.job_threads > 0:
                self._executor = ThreadPoolExecutor(self.job_threads, thread_name_prefix="job")
                self._lease_executor = ThreadPoolExecutor(1, thread_name_prefix="lease")
            await self._schedule(None)  # recurring jobs exist before the first claim
            queue.run_repeating(
                self._schedule, interval=SCHEDULE_EVERY, name="schedule", job_kwargs=timing
            )
            queue.run_repeating(self._tick, interval=self.job_tick, name="claim", job_kwargs=timing)
        await queue.start()

    async def _blocking(self, func: Callable[..., Any], **kwargs: Any) -> Any:
        if self._executor is None:
            return await sync_to_async(func)(**kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(_fresh_connections, func, kwargs)
        )

    async def _schedule(self, context: ContextTypes.DEFAULT_TYPE | None) -> None:
        try:
            await self._blocking(jobs_schedule_recurring)
        except DatabaseError as exc:
            logger.warning("botruntime.schedule_failed", extra={"error": str(exc)[:200]})

    async def _tick(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        free = max(self.job_threads, 1) - len(self._running_jobs)
        if free <= 0 or self._stopping.is_set():
            return
        try:
            claimed = await self._blocking(
                jobs_claim, worker=self.worker, limit=free, kinds=self.job_kinds
            )
        except DatabaseError as exc:
            logger.warning("botruntime.claim_failed", extra={"error": str(exc)[:200]})
            return
        for job in claimed:
            task = asyncio.create_task(self._run_job(job), name=f"job:{job.pk}")
            self._running_jobs.add(task)
            task.add_done_callback(self._running_jobs.discard)

    async def _run_job(self, job: Any) -> None:
        kind = job_kinds().get(job.kind)
        heartbeat = asyncio.create_task(self._keep_lease(job, kind.lease)) if kind else None
        try:
            await self._blocking(job_run, job=job, worker=self.worker)
        except DatabaseError as exc:
            # The outcome could not be recorded; the lease brings the job back.
            logger.error(
                "botruntime.job_unrecorded",
                extra={"job": job.pk, "kind": job.kind, "error": str(exc)[:200]},
            )
        finally:
            if heartbeat is not None:
                heartbeat.cancel()

    async def _keep_lease(self, job: Any, lease: timedelta) -> None:
        """Renew a running job's lease every third of it, on a thread of its own (the job
        threads may all be busy), until the job ends. If this runtime dies, renewals
        stop and the lease runs out: the job is taken again, as for any crash."""
        every = lease.total_seconds() / LEASE_RENEWALS
        while True:
            await asyncio.sleep(every)
            try:
                if self._lease_executor is None:
                    renewed = await sync_to_async(_renew)(job=job, worker=self.worker, lease=lease)
                else:
                    loop = asyncio.get_running_loop()
                    renewed = await loop.run_in_executor(
                        self._lease_executor,
                        functools.partial(
                            _fresh_connections,
                            _renew,
                            {"job": job, "worker": self.worker, "lease": lease},
                        ),
                    )
                if not renewed:
                    return
            except DatabaseError as exc:
                logger.warning(
                    "botruntime.lease_renewal_failed",
                    extra={"job": job.pk, "kind": job.kind, "error": str(exc)[:200]},
                )


def _dispatcher_class() -> Any:
    """``notifications.dispatcher.Dispatcher`` when the notifications app provides it."""
    try:
        module = importlib.import_module("notifications.dispatcher")
    except ModuleNotFoundError as exc:
        if exc.name != "notifications.dispatcher":
            raise
        return None
    return getattr(module, "Dispatcher", None)


def _backoff() -> Iterator[float]:
    return itertools.chain(
        (min(RETRY_MIN * 2**n, RETRY_MAX) for n in range(6)), itertools.repeat(RETRY_MAX)
    )


class RuntimeThread(threading.Thread):
    """A runtime on its own event loop in a background thread, for processes whose main
    thread serves something else (``manage.py run`` serves the web API)."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(name="botruntime")
        self.runtime = runtime
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # reported to the thread that waits in start_and_wait
            self.error = exc
            logger.exception("botruntime.crashed")
        finally:
            self.ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        try:
            await self.runtime.start()
        except BaseException:
            await self.runtime.stop()  # whatever did start (a pool, some bots)
            raise
        self.ready.set()
        try:
            await self._stop_event.wait()
        finally:
            await self.runtime.stop()

    def start_and_wait(self, timeout: float = 60) -> None:
        self.start()
        self.ready.wait(timeout)
        if self.error is not None:
            raise RuntimeError("the bot runtime failed to start") from self.error

    def stop(self, timeout: float = 60) -> None:
        if self._loop is not None and self._stop_event is not None and self.is_alive():
            self._loop.call_soon_threadsafe(self._stop_event.set)
        self.join(timeout)

"""Batching for the bot runtime's hot path: a group message must not cost a database
round trip of its own.

- ``GroupCommit``: callers ``await submit(item)`` and get their own result, but every item
  submitted while a batch is being written goes out together in the next one (one
  statement, one commit). Used for update dedupe: the webhook still answers only after
  its update is recorded.
- ``WriteBehind``: writes whose order does not matter (counter increments, "seen in this
  group" marks) are merged by key in memory and applied in batches by the runtime every
  ``BOT_WRITE_BEHIND_S`` seconds and when it stops. A failed batch is merged back and
  retried with the next one; a buffer that knows each key's tenant schema isolates
  tenants (a gone tenant's keys are dropped, the others written). Memory is bounded: new
  keys beyond ``max_pending`` are dropped and counted. A process that dies without
  stopping loses what it had not applied yet; the runtime marks an update done only in
  the transaction that writes its counts, so such updates are run again by the next
  runtime (botruntime.runtime: "recorded, then done").

``WriteBehind`` runs its sync database work through ``sync_to_async``, on Django's
database thread; ``GroupCommit`` there too, or on threads of its own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from asgiref.sync import sync_to_async

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class WriterThreads:
    """``count`` threads of their own (each keeps its own database connection) running
    writes taken from one queue, each write's outcome handed to its callback on the event
    loop that asked. Lighter than a ``ThreadPoolExecutor`` on the hot path: no future,
    no work item, no pool bookkeeping per write. ``on_exit`` runs on each thread when it
    is closed (closing its database connection)."""

    def __init__(self, count: int, *, name: str, on_exit: Callable[[], None] | None = None) -> None:
        self.count = count
        self._on_exit = on_exit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}_{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self,
        loop: asyncio.AbstractEventLoop,
        write: Callable[[Any], Any],
        items: Any,
        done: Callable[[Any, BaseException | None], None],
    ) -> None:
        self._queue.put((loop, write, items, done))

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            loop, write, items, done = job
            try:
                result, error = write(items), None
            except BaseException as exc:  # handed to the waiting callers
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(done, result, error)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass
        if self._on_exit is not None:
            self._on_exit()

    def close(self, timeout: float = 10) -> None:
        """Let every thread finish its write, run ``on_exit`` and stop (sync)."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)


class GroupCommit(Generic[T, R]):
    """Runs ``write(items) -> results`` (sync, one result per item, in order) for batches
    of at most ``max_batch`` items. Items that arrive while every writer is busy wait for
    the next batch, so batches grow with the load and a lone item waits for nothing.

    ``writers``: threads of their own that write, one batch in flight per thread, so a
    batch is never queued behind other database work; without them, batches go one at a
    time to Django's database thread (tests: their transaction). Each item costs its
    caller as few event-loop turns as possible: the batch starts in the turn after the
    first item arrived, and the writer's result is handed straight to the callers."""

    def __init__(
        self,
        write: Callable[[list[T]], list[R]],
        *,
        max_batch: int = 1000,
        writers: WriterThreads | None = None,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._writers = writers
        self._capacity = writers.count if writers is not None else 1
        self._in_flight = 0
        self._scheduled = False
        self._pending: list[tuple[T, asyncio.Future[R]]] = []

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if not self._scheduled and self._in_flight < self._capacity:
            # Next turn: requests already received this turn join the batch.
            self._scheduled = True
            loop.call_soon(self._start)
        return await future

    def _start(self) -> None:
        self._scheduled = False
        loop = asyncio.get_running_loop()
        while self._pending and self._in_flight < self._capacity:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            self._in_flight += 1
            items = [item for item, _ in batch]
            finish = functools.partial(self._finish, batch)
            if self._writers is None:
                task = asyncio.ensure_future(sync_to_async(self._write)(items))
                task.add_done_callback(functools.partial(self._finish_task, finish))
            else:
                self._writers.submit(loop, self._write, items, finish)

    @staticmethod
    def _finish_task(
        finish: Callable[[Any, BaseException | None], None], task: asyncio.Future[Any]
    ) -> None:
        if task.cancelled():  # the loop is shutting down
            finish(None, asyncio.CancelledError())
        else:
            error = task.exception()
            finish(None if error is not None else task.result(), error)

    def _finish(
        self,
        batch: list[tuple[T, asyncio.Future[R]]],
        results: list[R] | None,
        error: BaseException | None,
    ) -> None:
        self._in_flight -= 1
        if isinstance(error, asyncio.CancelledError):
            for _, future in batch:
                future.cancel()
            return
        if error is not None or results is None:  # every waiter gets the database's error
            for _, future in batch:
                if not future.done():
                    future.set_exception(error or RuntimeError("no results"))
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # its caller may have gone (a closed connection)
                    future.set_result(result)
        self._start()


_buffers: list[WriteBehind[Any, Any]] = []
_registry_lock = threading.Lock()


class WriteBehind(Generic[K, V]):
    """Pending writes merged by key: ``add(key, value)`` combines ``value`` with what is
    pending for ``key`` through ``merge``; ``apply(pending)`` (sync, one transaction)
    writes a batch. Every instance is registered: the runtime flushes them all.

    ``schema_of(key)``: the tenant schema a key writes into. With it, one tenant's failure
    is not another's: a batch that fails is applied again one schema at a time (one
    transaction each), the keys of a tenant that is gone (schema dropped, tenant no longer
    active) are dropped, those of a schema that failed otherwise are kept for the next
    flush. At most ``max_pending`` keys are held (pending and being written): a new key
    beyond that is dropped and counted, never buffered."""

    def __init__(
        self,
        name: str,
        apply: Callable[[dict[K, V]], None],
        merge: Callable[[V, V], V],
        *,
        schema_of: Callable[[K], str] | None = None,
        max_pending: int = 200_000,
    ) -> None:
        self.name = name
        self._apply = apply
        self._merge = merge
        self._schema_of = schema_of
        self._max_pending = max_pending
        self._pending: dict[K, V] = {}
        self._in_flight = 0  # keys taken by the flush under way
        self._overflow = 0  # new keys refused since the last flush
        self._gone: set[str] = set()  # schemas whose writes were dropped (logged once)
        self.dropped = 0  # keys dropped since start: buffer full, or their tenant gone
        self._lock = threading.Lock()  # add() runs on the loop, a sync flush on a thread
        self._flushing = threading.Lock()
        with _registry_lock:
            _buffers.append(self)

    def add(self, key: K, value: V) -> None:
        with self._lock:
            old = self._pending.get(key)
            if old is None and len(self._pending) + self._in_flight >= self._max_pending:
                # The database is not keeping up (or is down): counts are lost rather than
                # the process's memory.
                self._overflow += 1
                self.dropped += 1
                first = self._overflow == 1
            else:
                self._pending[key] = value if old is None else self._merge(old, value)
                first = False
        if first:
            logger.warning(
                "botruntime.write_behind_full",
                extra={"buffer": self.name, "max_pending": self._max_pending},
            )

    def __len__(self) -> int:
        return len(self._pending)

    def _take(self) -> dict[K, V]:
        with self._lock:
            taken, self._pending = self._pending, {}
            self._in_flight = len(taken)
            overflow, self._overflow = self._overflow, 0
        if overflow:
            logger.warning(
                "botruntime.write_behind_overflowed",
                extra={"buffer": self.name, "dropped": overflow, "max_pending": self._max_pending},
            )
        return taken

    def _restore(self, taken: dict[K, V]) -> None:
        """Put a batch that could not be written back in front of what came since."""
        with self._lock:
            for key, value in self._pending.items():
                old = taken.get(key)
                taken[key] = value if old is None else self._merge(old, value)
            self._pending = taken
            self._in_flight = 0

    def flush(self) -> int:
        """Write everything pending now (sync). Returns how many keys were written; raises
        the database's error after putting the batch back (with ``schema_of``: when every
        schema failed alike, e.g. the database is down)."""
        with self._flushing:  # batches in order, never two at once
            taken = self._take()
            if not taken:
                return 0
            try:
                self._apply(taken)
            except Exception:
                if self._schema_of is None:
                    self._restore(taken)
                    raise
                return self._apply_by_schema(taken)
            with self._lock:
                self._in_flight = 0
            return len(taken)

    def _apply_by_schema(self, taken: dict[K, V]) -> int:
        """A batch failed: apply it one schema at a time, dropping gone tenants' keys."""
        from tenancy.selectors import tenant_schemas_live

        assert self._schema_of is not None
        by_schema: dict[str, dict[K, V]] = {}
        for key, value in taken.items():
            by_schema.setdefault(self._schema_of(key), {})[key] = value
        try:
            live = tenant_schemas_live(schema_names=list(by_schema))
        except Exception:
            self._restore(taken)
            raise
        written, dropped = 0, 0
        kept: dict[K, V] = {}
        failures: list[tuple[str, int, Exception]] = []
        for schema, part in by_schema.items():
            if schema not in live:
                self._drop(schema, part)
                dropped += len(part)
                continue
            try:
                self._apply(part)
            except Exception as exc:
                kept.update(part)
                failures.append((schema, len(part), exc))
            else:
                written += len(part)
        self._restore(kept)
        if failures and not (written or dropped):
            raise failures[-1][2]  # every tenant failed alike: the caller logs it once
        for schema, pending, error in failures:
            logger.warning(
                "botruntime.write_behind_failed",
                extra={
                    "buffer": self.name,
                    "schema": schema,
                    "pending": pending,
                    "error": str(error)[:200],
                },
            )
        return written

    def _drop(self, schema: str, part: dict[K, V]) -> None:
        with self._lock:
            self.dropped += len(part)
            first = schema not in self._gone
            self._gone.add(schema)
        if first:
            logger.warning(
                "botruntime.write_behind_dropped",
                extra={"buffer": self.name, "schema": schema, "keys": len(part)},
            )


def buffers() -> list[WriteBehind[Any, Any]]:
    with _registry_lock:
        return list(_buffers)


def flush_all() -> int:
    """Flush every buffer (sync); a failing one is logged and the others still flush.
    Returns the keys written."""
    written = 0
    for buffer in buffers():
        try:
            written += buffer.flush()
        except Exception as exc:
            logger.warning(
                "botruntime.write_behind_failed",
                extra={"buffer": buffer.name, "pending": len(buffer), "error": str(exc)[:200]},
            )
    return written


async def flush_all_async() -> int:
    """``flush_all`` on Django's database thread, for async code."""
    if not any(len(buffer) for buffer in buffers()):
        return 0
    return await sync_to_async(flush_all)()

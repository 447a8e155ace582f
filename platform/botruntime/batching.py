"""Batching for the bot runtime's hot path: a group message must not cost a database
round trip of its own.

- ``GroupCommit``: callers ``await submit(item)`` and get their own result, but every item
  submitted while a batch is being written goes out together in the next one (one
  statement, one commit). Used for update dedupe: the webhook still answers only after
  its update is recorded.
- ``WriteBehind``: writes whose order does not matter (counter increments, "seen in this
  group" marks) are merged by key in memory and applied in batches by the runtime every
  ``BOT_WRITE_BEHIND_S`` seconds and when it stops. A failed batch is merged back and
  retried with the next one. A process that dies without stopping loses what it had not
  applied yet, as it loses the updates still queued in memory.

Both run their sync database work through ``sync_to_async``, on Django's database thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from asgiref.sync import sync_to_async

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class GroupCommit(Generic[T, R]):
    """Runs ``write(items) -> results`` (sync, one result per item, in order) for batches
    of at most ``max_batch`` items. One batch at a time: items that arrive meanwhile wait
    for the next one, so the batch grows with the load and a lone item waits for nothing."""

    def __init__(self, write: Callable[[list[T]], list[R]], *, max_batch: int = 1000) -> None:
        self._write = sync_to_async(write)
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # requests already received join this batch
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                results = await self._write([item for item, _ in batch])
            except Exception as exc:  # every waiter gets the database's error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # its caller may have gone (a closed connection)
                    future.set_result(result)


_buffers: list[WriteBehind[Any, Any]] = []
_registry_lock = threading.Lock()


class WriteBehind(Generic[K, V]):
    """Pending writes merged by key: ``add(key, value)`` combines ``value`` with what is
    pending for ``key`` through ``merge``; ``apply(pending)`` (sync, one transaction)
    writes a batch. Every instance is registered: the runtime flushes them all."""

    def __init__(
        self,
        name: str,
        apply: Callable[[dict[K, V]], None],
        merge: Callable[[V, V], V],
        *,
        max_pending: int = 200_000,
    ) -> None:
        self.name = name
        self._apply = apply
        self._merge = merge
        self._max_pending = max_pending
        self._pending: dict[K, V] = {}
        self._lock = threading.Lock()  # add() runs on the loop, a sync flush on a thread
        self._flushing = threading.Lock()
        with _registry_lock:
            _buffers.append(self)

    def add(self, key: K, value: V) -> None:
        with self._lock:
            old = self._pending.get(key)
            self._pending[key] = value if old is None else self._merge(old, value)
            full = len(self._pending) >= self._max_pending
        if full:
            logger.warning("botruntime.write_behind_full", extra={"buffer": self.name})

    def __len__(self) -> int:
        return len(self._pending)

    def _take(self) -> dict[K, V]:
        with self._lock:
            taken, self._pending = self._pending, {}
        return taken

    def _restore(self, taken: dict[K, V]) -> None:
        """Put a batch that could not be written back in front of what came since."""
        with self._lock:
            for key, value in self._pending.items():
                old = taken.get(key)
                taken[key] = value if old is None else self._merge(old, value)
            self._pending = taken

    def flush(self) -> int:
        """Write everything pending now (sync). Returns how many keys were written; raises
        the database's error after putting the batch back."""
        with self._flushing:  # batches in order, never two at once
            taken = self._take()
            if not taken:
                return 0
            try:
                self._apply(taken)
            except Exception:
                self._restore(taken)
                raise
            return len(taken)


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

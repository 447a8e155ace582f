"""Sliding-window rate limiting for the dispatchers, shared through Redis when
``REDIS_URL`` is set, in-process otherwise.

``acquire(rules, pauses)`` is all-or-nothing: either every rule has room and one send is
counted in each window, or nothing is counted and the verdict names the refusing rule (or
pause) with the longest wait, and that wait: no send fits before it. Windows are logs of send
times (a Redis sorted set per key, trimmed on each call), so a limit holds over *every*
window of its length, not just aligned buckets. Pauses (429 ``retry_after``) are keys that
refuse until they expire. Redis runs all of this in one Lua script with Redis' own clock,
so dispatchers in different processes or hosts count against the same windows.

A granted send gets a token; ``acquire(..., release=token)`` first takes that send's
earlier places out of the windows (in the same atomic step): a send that was held up
after it was counted is counted again at its real time, not twice.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from notifications.conf import redis_prefix


@dataclass(frozen=True)
class Rule:
    key: str
    limit: int
    window: float  # seconds


@dataclass(frozen=True)
class Verdict:
    ok: bool
    wait: float = 0.0  # seconds until the refusing key has room
    key: str = ""  # the refusing rule's or pause's key
    token: str = ""  # a granted send's places in the windows (for ``release``)


class Limiter(Protocol):
    async def acquire(
        self, rules: Sequence[Rule], pauses: Sequence[str] = (), *, release: str = ""
    ) -> Verdict: ...

    async def pause(self, key: str, seconds: float) -> None: ...

    async def aclose(self) -> None: ...


class LocalLimiter:
    """In-process windows: enough when one process runs every dispatcher of a bot."""

    def __init__(self) -> None:
        self._logs: dict[str, deque[tuple[float, str]]] = {}
        self._paused: dict[str, float] = {}
        # Dispatchers of one process may run on different threads' event loops.
        self._lock = threading.Lock()

    def _check(self, rules: Sequence[Rule], pauses: Sequence[str], now: float) -> Verdict:
        worst = Verdict(True)
        for key in pauses:
            until = self._paused.get(key)
            if until is not None:
                if until > now and until - now > worst.wait:
                    worst = Verdict(False, until - now, key)
                elif until <= now:
                    del self._paused[key]
        for rule in rules:
            log = self._logs.setdefault(rule.key, deque())
            while log and log[0][0] <= now - rule.window:
                log.popleft()
            if len(log) >= rule.limit:
                # The entry that must leave the window before one more send fits.
                oldest = log[len(log) - rule.limit][0]
                wait = max(oldest + rule.window - now, 0.001)
                if wait > worst.wait:
                    worst = Verdict(False, wait, rule.key)
        return worst

    async def acquire(
        self, rules: Sequence[Rule], pauses: Sequence[str] = (), *, release: str = ""
    ) -> Verdict:
        with self._lock:
            now = time.monotonic()
            if release:
                for rule in rules:
                    log = self._logs.get(rule.key)
                    if log:
                        self._logs[rule.key] = deque(e for e in log if e[1] != release)
            verdict = self._check(rules, pauses, now)
            if verdict.ok:
                token = uuid.uuid4().hex
                for rule in rules:
                    self._logs[rule.key].append((now, token))
                return Verdict(True, token=token)
            return verdict

    async def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._paused[key] = max(self._paused.get(key, 0.0), until)

    async def aclose(self) -> None:
        return None


# KEYS: pause keys, then rule keys. ARGV: number of pause keys, this send's token, the
# token to release ("" for none), then (limit, window in ms) per rule. Returns {0}, or the
# refusing key with the longest wait: {index (1-based over KEYS), wait ms}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local npause = tonumber(ARGV[1])
if ARGV[3] ~= '' then
  for i = npause + 1, #KEYS do
    redis.call('ZREM', KEYS[i], ARGV[3])
  end
end
local worst, worst_wait = 0, 0
for i = 1, npause do
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl > worst_wait then worst, worst_wait = i, ttl end
end
for i = npause + 1, #KEYS do
  local j = 4 + (i - npause - 1) * 2
  local limit = tonumber(ARGV[j])
  local window = tonumber(ARGV[j + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local entry = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    local wait = tonumber(entry[2]) + window - now
    if wait < 1 then wait = 1 end
    if wait > worst_wait then worst, worst_wait = i, wait end
  end
end
if worst > 0 then return {worst, worst_wait} end
for i = npause + 1, #KEYS do
  local j = 4 + (i - npause - 1) * 2
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[j + 1]) + 1000)
end
return {0}
"""

# Extend a pause, never shorten it.
_PAUSE = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


class RedisLimiter:
    """The same windows in Redis, shared by every process that uses the same Redis."""

    def __init__(self, url: str, *, prefix: str | None = None) -> None:
        import redis.asyncio as redis  # imported here: not needed without REDIS_URL

        self._redis: Any = redis.Redis.from_url(url)
        self._prefix = prefix if prefix is not None else redis_prefix()
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._pause = self._redis.register_script(_PAUSE)

    async def acquire(
        self, rules: Sequence[Rule], pauses: Sequence[str] = (), *, release: str = ""
    ) -> Verdict:
        keys = [f"{self._prefix}pause:{key}" for key in pauses]
        keys += [f"{self._prefix}rl:{rule.key}" for rule in rules]
        token = uuid.uuid4().hex
        args: list[Any] = [len(pauses), token, release]
        for rule in rules:
            args += [int(rule.limit), int(rule.window * 1000)]
        result = await self._acquire(keys=keys, args=args)
        index = int(result[0])
        if index == 0:
            return Verdict(True, token=token)
        names = [*pauses, *(rule.key for rule in rules)]
        return Verdict(False, int(result[1]) / 1000, names[index - 1])

    async def pause(self, key: str, seconds: float) -> None:
        await self._pause(keys=[f"{self._prefix}pause:{key}"], args=[max(int(seconds * 1000), 1)])

    async def aclose(self) -> None:
        await self._redis.aclose()


_local = LocalLimiter()


class _SharedLocal:
    """The process-wide LocalLimiter behind a handle whose aclose() does not close it."""

    async def acquire(
        self, rules: Sequence[Rule], pauses: Sequence[str] = (), *, release: str = ""
    ) -> Verdict:
        return await _local.acquire(rules, pauses, release=release)

    async def pause(self, key: str, seconds: float) -> None:
        await _local.pause(key, seconds)

    async def aclose(self) -> None:
        return None


def limiter_for(redis_url: str) -> Limiter:
    """Redis-backed when a URL is configured; else this process' shared local limiter
    (so several dispatchers of one bot in one process still share their windows)."""
    if redis_url:
        return RedisLimiter(redis_url)
    return _SharedLocal()

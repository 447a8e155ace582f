"""Per-process caches in one form: bounded size, a time to live, explicit invalidation.

    HOSTS: TTLCache[str, Tenant] = TTLCache("tenancy.hosts", ttl=5.0, maxsize=10_000)
    tenant = HOSTS.get(host)
    if tenant is MISS:
        tenant = load(host)
        HOSTS.set(host, tenant)

``get`` is the hot path (every request, every group message): one dict lookup and one
clock read, no lock. Writes (``set``, ``forget``, ``forget_where``, ``clear``) take a
lock, so threads (the web's WEB_THREADS, Django's sync thread beside the event loop)
never see a half-done eviction or iterate a dict another thread changes. An entry lives
``ttl`` seconds from the clock's reading passed as ``read_at`` (taken before the value
was read: what is served is never older than ``ttl``), or from ``set``. Past ``maxsize``
the oldest written entry goes: with one TTL per cache that is the first to expire.
``ttl=math.inf`` makes a bounded memo of a pure function (nothing to go stale).

Every cache registers by name (``caches()``; ``caches_clear()`` empties them all):
docs/architecture.md lists each with its staleness bound, and a test holds it to that.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Miss:
    def __repr__(self) -> str:
        return "MISS"


MISS: Any = _Miss()  # "not cached or expired"; None is a value a cache may hold

_registry: dict[str, TTLCache[Any, Any]] = {}


class TTLCache(Generic[K, V]):
    def __init__(
        self,
        name: str,
        *,
        ttl: float,
        maxsize: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or maxsize <= 0:
            raise ValueError("a cache needs a positive ttl and maxsize")
        self.name = name
        self.ttl = ttl
        self.maxsize = maxsize
        self.clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lookup = self._entries.get  # bound once: get is the hot path
        self._lock = threading.Lock()
        if name in _registry:
            raise ValueError(f"a cache named {name!r} exists already")
        _registry[name] = self

    def get(self, key: K, default: Any = MISS) -> V | Any:
        """The value kept for ``key``, or ``default`` (``MISS``) if none or expired."""
        hit = self._lookup(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        return default

    def set(self, key: K, value: V, *, read_at: float | None = None) -> None:
        """Keep ``value`` for ``ttl`` from ``read_at`` (a ``clock()`` reading taken before
        the value was read), else from now; the oldest entry goes past ``maxsize``."""
        expires = (self.clock() if read_at is None else read_at) + self.ttl
        with self._lock:
            # Room first, then the entry (written last, so the newest): a reader never
            # sees more than maxsize entries.
            self._entries.pop(key, None)
            while len(self._entries) >= self.maxsize:
                self._entries.popitem(last=False)
            self._entries[key] = (expires, value)

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def forget_where(self, predicate: Callable[[K], bool]) -> None:
        """Drop every entry whose key matches ``predicate`` (a schema's, a tenant's)."""
        with self._lock:
            for key in [k for k in self._entries if predicate(k)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __contains__(self, key: object) -> bool:
        """Is a live (unexpired) value kept for ``key``?"""
        return self.get(key) is not MISS  # type: ignore[arg-type]  # any object may be asked

    def __len__(self) -> int:
        """Entries held, expired ones included (they go when written over or evicted)."""
        return len(self._entries)

    def __repr__(self) -> str:
        return f"TTLCache({self.name!r}, ttl={self.ttl}, maxsize={self.maxsize})"


def caches() -> dict[str, TTLCache[Any, Any]]:
    """Every cache of this process, by name."""
    return dict(_registry)


def caches_clear() -> None:
    """Empty every cache (tests; a process that must forget everything at once)."""
    for cache in list(_registry.values()):
        cache.clear()

import math
import re
import sys
import threading
from pathlib import Path

import pytest

from config.cache import MISS, TTLCache, caches, caches_clear
from tests.helpers import Clock

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def cache(request, clock):
    made = TTLCache(f"test.{request.node.name}", ttl=10.0, maxsize=3, clock=clock)
    yield made
    _unregister(made.name)


def _unregister(name: str) -> None:
    from config import cache as module

    module._registry.pop(name, None)


def test_a_value_is_served_until_its_ttl_then_missed(cache, clock):
    assert cache.get("a") is MISS
    cache.set("a", 1)
    cache.set("none", None)  # "known absent" is a value too

    clock.now += 9.99
    assert cache.get("a") == 1 and cache.get("none") is None and "a" in cache
    clock.now += 0.01
    assert cache.get("a") is MISS and cache.get("none") is MISS and "a" not in cache
    assert cache.get("a", "default") == "default"


def test_the_ttl_counts_from_when_the_value_was_read(cache, clock):
    read_at = clock()
    clock.now += 4  # the query that read it took this long
    cache.set("a", 1, read_at=read_at)
    clock.now += 5.99
    assert cache.get("a") == 1
    clock.now += 0.01
    assert cache.get("a") is MISS


def test_past_maxsize_the_oldest_written_entry_goes(cache, clock):
    for key in "abc":
        cache.set(key, key)
        clock.now += 1
    cache.set("a", "again")  # written again: now the newest
    cache.set("d", "d")

    assert len(cache) == 3
    assert cache.get("b") is MISS
    assert [cache.get(k) for k in "acd"] == ["again", "c", "d"]


def test_entries_are_forgotten_by_key_by_predicate_and_all_at_once(cache):
    cache.set(("s1", 1), "x")
    cache.set(("s1", 2), "y")
    cache.set(("s2", 1), "z")

    cache.forget(("s1", 1))
    cache.forget(("nobody", 0))  # forgetting what is not kept is fine
    assert cache.get(("s1", 1)) is MISS and cache.get(("s1", 2)) == "y"
    cache.set(("s1", 3), "w")
    cache.forget_where(lambda key: key[0] == "s1")
    assert cache.get(("s1", 2)) is MISS and cache.get(("s1", 3)) is MISS
    assert cache.get(("s2", 1)) == "z"
    cache.clear()
    assert len(cache) == 0


def test_an_infinite_ttl_keeps_a_memo_until_evicted(request, clock):
    memo = TTLCache(f"test.{request.node.name}", ttl=math.inf, maxsize=2, clock=clock)
    try:
        memo.set("a", 1)
        clock.now += 1e12
        assert memo.get("a") == 1
        memo.set("b", 2)
        memo.set("c", 3)
        assert memo.get("a") is MISS
    finally:
        _unregister(memo.name)


def test_caches_are_registered_by_a_unique_name_and_cleared_together(cache):
    assert caches()[cache.name] is cache
    with pytest.raises(ValueError, match="exists already"):
        TTLCache(cache.name, ttl=1, maxsize=1)
    with pytest.raises(ValueError):
        TTLCache("test.never", ttl=0, maxsize=1)
    cache.set("a", 1)
    caches_clear()
    assert cache.get("a") is MISS


def test_concurrent_writers_forgetters_and_readers_never_break_the_cache(request):
    shared = TTLCache(f"test.{request.node.name}", ttl=60, maxsize=500)
    errors: list[BaseException] = []
    stop = threading.Event()

    def guarded(work):
        def run():
            try:
                work()
            except BaseException as exc:  # reported by the test below
                errors.append(exc)
                stop.set()

        return run

    def write(offset: int):
        def work():
            for i in range(20_000):
                if stop.is_set():
                    return
                shared.set((offset, i % 2000), (offset, i % 2000))

        return work

    def forget():
        while not stop.is_set():
            shared.forget_where(lambda key: key[1] % 7 == 0)

    def read():
        while not stop.is_set():
            for i in range(0, 2000, 13):
                value = shared.get((0, i))
                assert value is MISS or value == (0, i)
                assert len(shared) <= shared.maxsize

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        writers = [threading.Thread(target=guarded(write(n))) for n in range(3)]
        others = [threading.Thread(target=guarded(f)) for f in (forget, read)]
        for thread in writers + others:
            thread.start()
        for thread in writers:
            thread.join()
        stop.set()
        for thread in others:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
        _unregister(shared.name)
    assert errors == []
    assert len(shared) <= shared.maxsize


def test_every_cache_is_listed_with_its_bound_in_the_architecture_doc():
    declared = set()
    for root in ("platform", "tenants"):
        for path in (ROOT / root).rglob("*.py"):
            declared |= set(re.findall(r'TTLCache\(\s*"([\w.]+)"', path.read_text()))
    doc = (ROOT / "docs" / "architecture.md").read_text()
    section = doc.split("## Process state", 1)[1].split("\n## ", 1)[0]

    assert len(declared) >= 6
    assert sorted(name for name in declared if f"`{name}`" not in section) == []

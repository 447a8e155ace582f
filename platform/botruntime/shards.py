"""Which runtime shard hosts a pooled bot: rendezvous (highest-random-weight) hashing.

Every shard ``s`` of ``N`` gives each bot a weight, a stable hash of ``"s:bot_id"``; the
bot goes to the shard with the highest. Going from ``N`` to ``N + 1`` shards adds one
weight per bot, so a bot moves only when the new shard's weight beats its old winner's:
about ``1 / (N + 1)`` of the bots move, all of them to the new shard (``bot_id % N``
would move about ``N / (N + 1)``). The hash is blake2b, never Python's ``hash()``, which
is salted per process: every process must agree on a bot's shard.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_FORM = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def weight(shard: int, bot_id: int) -> int:
    """The bot's weight on ``shard``: 64 bits of blake2b of ``"shard:bot_id"``."""
    digest = hashlib.blake2b(f"{shard}:{bot_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_of(bot_id: int, count: int) -> int:
    """The shard (0 ≤ shard < ``count``) hosting ``bot_id`` when there are ``count``."""
    if count < 1:
        raise ValueError(f"a shard count is at least 1, got {count}")
    # A tie (two equal 64-bit weights) goes to the lower shard, in every process alike.
    return max(range(count), key=lambda shard: weight(shard, bot_id))


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based): it hosts the pooled bots hashed to it."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"must look like I/N with 0 ≤ I < N, got '{self}'")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` → Shard(I, N); a ValueError saying what the form is otherwise."""
        match = _FORM.fullmatch(text)
        if match is None:
            raise ValueError(f"must look like I/N with 0 ≤ I < N, got {text!r}")
        index, count = int(match[1]), int(match[2])
        if not 0 <= index < count:
            raise ValueError(f"must look like I/N with 0 ≤ I < N, got {text!r}")
        return cls(index, count)

    def hosts(self, bot_id: int) -> bool:
        return shard_of(bot_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

"""Rendezvous hashing of bots onto runtime shards: one shard per bot, stable across
processes, few bots moved when a shard is added (and only onto it), shares balanced;
"I/N" parsed with clear errors."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botruntime.shards import Shard, shard_of

ROOT = Path(__file__).resolve().parents[2]
bot_ids = st.integers(min_value=1, max_value=2**53)
counts = st.integers(min_value=1, max_value=64)


@given(bot_id=bot_ids, count=counts)
def test_every_bot_is_hosted_by_exactly_one_shard(bot_id, count):
    hosting = [index for index in range(count) if Shard(index, count).hosts(bot_id)]
    assert hosting == [shard_of(bot_id, count)]


@given(bot_id=bot_ids, count=counts)
def test_adding_a_shard_moves_a_bot_only_onto_the_new_shard(bot_id, count):
    assert shard_of(bot_id, count + 1) in {shard_of(bot_id, count), count}


def test_going_from_4_to_5_shards_moves_about_a_fifth_of_the_bots():
    ids = range(1, 20_001)
    moved = sum(shard_of(b, 4) != shard_of(b, 5) for b in ids)
    # The ideal is 1/5 (4,000); the binomial spread of 20,000 draws is about 57.
    assert 0.9 * 4_000 < moved < 1.1 * 4_000


@pytest.mark.parametrize("count", [2, 3, 5, 8])
def test_shares_are_balanced(count):
    ids = range(7_000_000_000, 7_000_000_000 + 4_000 * count)  # bot ids are this large
    sizes = Counter(shard_of(b, count) for b in ids)
    assert sorted(sizes) == list(range(count))
    assert max(sizes.values()) < 1.1 * 4_000 and min(sizes.values()) > 0.9 * 4_000


def test_one_shard_hosts_every_bot():
    assert {shard_of(b, 1) for b in range(1, 1_000)} == {0}


def test_the_shard_of_a_bot_is_the_same_in_every_process():
    """Python's hash() of a str is salted per process: a shard computed with it would
    differ between the runtimes. Another interpreter must agree with this one."""
    ids = [1, 42, 690000002, 7_123_456_789]
    code = f"from botruntime.shards import shard_of; print([shard_of(b, 7) for b in {ids!r}])"
    other = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": "platform", "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() == str([shard_of(b, 7) for b in ids])


def test_a_shard_parses_from_i_of_n():
    assert Shard.parse("1/4") == Shard(1, 4)
    assert Shard.parse(" 0 / 1 ") == Shard(0, 1)
    assert str(Shard(3, 4)) == "3/4"


@pytest.mark.parametrize("text", ["5/4", "4/4", "0/0", "-1/4", "1", "1/", "a/b", "1/4/2", ""])
def test_a_malformed_shard_is_refused_saying_what_it_should_look_like(text):
    with pytest.raises(ValueError) as refused:
        Shard.parse(text)
    assert str(refused.value) == f"must look like I/N with 0 ≤ I < N, got {text!r}"


def test_a_shard_outside_its_count_cannot_be_built():
    with pytest.raises(ValueError, match="0 ≤ I < N, got '4/4'"):
        Shard(4, 4)
    with pytest.raises(ValueError, match="at least 1"):
        shard_of(1, 0)

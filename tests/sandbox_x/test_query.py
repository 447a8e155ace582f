"""The search/rule language: each query against five posts it must and must not match,
and malformed queries refused with X's messages."""

from __future__ import annotations

import pytest

from sandbox.clock import ManualClock
from sandbox.x.query import QueryError, parse
from sandbox.x.world import World


@pytest.fixture(scope="module")
def posts() -> tuple[World, dict[str, str]]:
    world = World(ManualClock())
    for name in ("alice", "bob", "carol"):
        world.add_account(name)
    p1 = world.create_post("alice", "Hello world from the #Bragabot team $BTC").id
    p2 = world.create_post("bob", "great post", reply_to=p1).id  # "@alice great post"
    p3 = world.create_post("carol", "look at this hello", quote_of=p1).id
    p4 = world.repost("bob", p1).id  # "RT @alice: Hello world ..."
    p5 = world.create_post("carol", "Goodbye cruel world").id
    return world, {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "p5": p5}


CASES = [
    # (query, must match, must not match)
    ("hello", {"p1", "p3", "p4"}, {"p2", "p5"}),
    ("HELLO world", {"p1", "p4"}, {"p3", "p5"}),
    ('"hello world"', {"p1", "p4"}, {"p3", "p5"}),
    ('"world hello"', set(), {"p1", "p4"}),
    ("#bragabot", {"p1", "p4"}, {"p3", "p5"}),
    ("$btc", {"p1", "p4"}, {"p5"}),
    ("@alice", {"p2", "p4"}, {"p1", "p3"}),
    ("from:alice", {"p1"}, {"p2", "p4"}),
    ("from:bob", {"p2", "p4"}, {"p1"}),
    ("conversation_id:{p1}", {"p1", "p2"}, {"p3", "p5"}),
    ("is:reply", {"p2"}, {"p1", "p3", "p4"}),
    ("is:quote", {"p3"}, {"p1", "p2"}),
    ("is:retweet", {"p4"}, {"p1", "p3"}),
    ("hello -is:retweet", {"p1", "p3"}, {"p4"}),
    ("world -hello", {"p5"}, {"p1", "p4"}),
    ("goodbye OR look", {"p3", "p5"}, {"p1"}),
    ("hello world OR goodbye", {"p1", "p4", "p5"}, {"p3"}),  # AND binds tighter than OR
    ("hello (world OR this)", {"p1", "p3", "p4"}, {"p5"}),
    ("-(is:retweet OR is:reply) hello", {"p1", "p3"}, {"p2", "p4"}),
    ("from:alice OR from:carol -world", {"p1", "p3"}, {"p2", "p5"}),
    ("hello or world", set(), {"p1", "p4"}),  # lower-case "or" is a keyword
]


@pytest.mark.parametrize(("query", "match", "no_match"), CASES)
def test_query_matches_exactly_its_posts(posts, query, match, no_match):
    world, ids = posts
    predicate = parse(query.format(**ids))
    matched = {name for name, pid in ids.items() if predicate(world.searchable(world.posts[pid]))}
    assert match <= matched
    assert not (no_match & matched)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("(hello", "parentheses"),
        ("hello)", "parentheses"),
        ("()", "missing clause"),
        ("hello OR", "missing clause"),
        ("OR hello", "missing clause"),
        ('"hello', "unclosed quote"),
        ("-hello", "non-negation"),
        ("hello -", "Negation"),
        ("foo:bar", "invalid operator 'foo'"),
        ("is:banana", "invalid operator 'is:banana'"),
        ("from:", "must be followed by a value"),
        ("a" * 513, "too long"),
    ],
)
def test_malformed_queries_are_refused(query, message):
    with pytest.raises(QueryError, match=message):
        parse(query)


def test_a_query_of_512_characters_is_accepted():
    parse("a" * 512)

"""Entities found in a post's text, with X's code-point offsets."""

from __future__ import annotations

from sandbox.x.entities import parse


def test_each_kind_with_offsets():
    text = "gm #web3 and $ETH, ping @bob_1 at https://example.com/a?b=1."
    found = parse(text)
    assert found["hashtags"] == [{"start": 3, "end": 8, "tag": "web3"}]
    assert found["cashtags"] == [{"start": 13, "end": 17, "tag": "ETH"}]
    assert found["mentions"] == [{"start": 24, "end": 30, "username": "bob_1"}]
    url = found["urls"][0]
    assert text[url["start"] : url["end"]] == "https://example.com/a?b=1"  # not the final "."
    for kind in ("hashtags", "cashtags", "mentions"):
        for entity in found[kind]:
            assert text[entity["start"]] in "#$@"


def test_what_is_not_an_entity():
    assert parse("a#b c$d e@f.com #123 $123456789 plain") == {}


def test_offsets_count_code_points():
    found = parse("🚀 #moon")
    assert found["hashtags"] == [{"start": 2, "end": 7, "tag": "moon"}]
